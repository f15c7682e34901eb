"""Raw-table expectations end to end: simulated data of every source loaded by the real sources,
validated (everything passes), then records that pass the sources but break the semantics are
written straight into raw (a non-ISO currency, an amount dlt could not type, a negative charge):
they are quarantined with their reason, fail their table's check, stay quarantined once however
often validation runs, and never reach staging after `revops-dbt build`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetCheckSeverity

from revops.assets.quality import expectation_check_result
from revops.core.warehouse import connect
from revops.pipelines.loading import ensure_table
from revops.pipelines.runner import ensure_raw_tables
from revops.quality import QUARANTINE_TABLE, RAW_TABLE_RULES, TableValidation, validate_raw_tables
from revops_simulator import Faults, SimulatorServer, World
from tests.pipelines.conftest import AS_OF, SCALE
from tests.support import isolated_warehouse, load_simulated, run_dbt

WORKSPACE = "acme"
BAD_CURRENCY_CHARGE = "ch_quality_bad_currency"
NEGATIVE_CHARGE = "ch_quality_negative"
BAD_CURRENCY_INVOICE = "in_quality_bad_currency"
MALFORMED_TRANSACTION = "tx_quality_malformed_amount"


@dataclass
class Run:
    home: Path
    clean: dict[str, TableValidation]
    first: dict[str, TableValidation]
    second: dict[str, TableValidation]
    quarantine_rows_after: list[int]


def _query(sql: str) -> list[tuple[Any, ...]]:
    with connect() as client:
        return [tuple(row) for row in client.query(sql).result_rows]


def _inject() -> None:
    now = datetime.now(UTC)
    lineage = ["_revops_synced_at", "_dlt_load_id", "_dlt_id"]
    with connect() as client:
        client.insert(
            "raw.stripe_charges",
            [
                [WORKSPACE, BAD_CURRENCY_CHARGE, 1000, "xyz", 1_760_000_000, now, "q1", "q1a"],
                [WORKSPACE, NEGATIVE_CHARGE, -500, "usd", 1_760_000_000, now, "q1", "q1b"],
            ],
            column_names=["workspace_id", "id", "amount", "currency", "created", *lineage],
        )
        # An invoice that fails its expectations, with a line fetched along with it: both stay out.
        client.insert(
            "raw.stripe_invoices",
            [[WORKSPACE, BAD_CURRENCY_INVOICE, 1000, 0, 1000, "xyz", 1_760_000_000, now, "q1", "q1d"]],
            column_names=[
                "workspace_id",
                "id",
                "amount_due",
                "amount_paid",
                "amount_remaining",
                "currency",
                "created",
                *lineage,
            ],
        )
        client.insert(
            "raw.stripe_invoice_line_items",
            [[WORKSPACE, "il_quality_line", BAD_CURRENCY_INVOICE, 1000, "usd", now, "q1", "q1e"]],
            column_names=["workspace_id", "id", "invoice", "amount", "currency", *lineage],
        )
        # What dlt does with an amount that is not a number: a variant column beside the typed one.
        variant = {"amount__v_text": {"name": "amount__v_text", "data_type": "text", "nullable": True}}
        ensure_table(client, "raw", "plaid_transactions", variant)
        client.insert(
            "raw.plaid_transactions",
            [[WORKSPACE, MALFORMED_TRANSACTION, "acc_x", None, "12,50", "USD", False, now, "q1", "q1c"]],
            column_names=[
                "workspace_id",
                "transaction_id",
                "account_id",
                "amount",
                "amount__v_text",
                "iso_currency_code",
                "is_removed",
                *lineage,
            ],
        )


def _quarantine_rows() -> int:
    return _query(f"SELECT count() FROM raw.{QUARANTINE_TABLE}")[0][0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("quality")
    with isolated_warehouse(home):
        world = World(seed=7, as_of=AS_OF, scale=SCALE)
        with SimulatorServer(world, faults=Faults()) as server:
            load_simulated(world, server)
        ensure_raw_tables()
        clean = validate_raw_tables()
        _inject()
        first = validate_raw_tables()
        after = [_quarantine_rows()]
        second = validate_raw_tables()
        after.append(_quarantine_rows())
        run_dbt(
            home,
            "build",
            "--select",
            "stg_stripe__charges",
            "stg_stripe__invoice_lines",
            "stg_plaid__transactions",
            "--indirect-selection",
            "cautious",
        ).assert_ok()
        yield Run(home, clean, first, second, after)


def test_every_declared_raw_table_gets_a_suite(run: Run) -> None:
    assert set(run.clean) == set(RAW_TABLE_RULES)
    assert all(outcome.expectations_run >= 3 for outcome in run.clean.values())
    charges = run.clean["stripe_charges"]
    assert charges.rows > 0 and charges.expectations_run > 5  # keys, currency, three amounts, times


def test_clean_data_passes_every_check(run: Run) -> None:
    failed = {table: outcome.unexpected_counts for table, outcome in run.clean.items() if not outcome.passed}
    assert failed == {}
    for table, outcome in run.clean.items():
        assert expectation_check_result(table, outcome).passed, table


def test_bad_records_are_quarantined_with_their_reason(run: Run) -> None:
    with isolated_warehouse(run.home):
        rows = _query(
            f"SELECT workspace_id, table_name, record_id, expectation, reason FROM raw.{QUARANTINE_TABLE} "
            "ORDER BY table_name, record_id"
        )
    assert [row[:4] for row in rows] == [
        (WORKSPACE, "plaid_transactions", MALFORMED_TRANSACTION, "amount_well_formed:amount"),
        (WORKSPACE, "stripe_charges", BAD_CURRENCY_CHARGE, "currency_iso_4217:currency"),
        (WORKSPACE, "stripe_charges", NEGATIVE_CHARGE, "amount_in_range:amount"),
        (WORKSPACE, "stripe_invoices", BAD_CURRENCY_INVOICE, "currency_iso_4217:currency"),
    ]
    reasons = {row[2]: row[4] for row in rows}
    assert "'12,50'" in reasons[MALFORMED_TRANSACTION] and "not a number" in reasons[MALFORMED_TRANSACTION]
    assert "'xyz'" in reasons[BAD_CURRENCY_CHARGE] and "ISO 4217" in reasons[BAD_CURRENCY_CHARGE]
    assert "-500" in reasons[NEGATIVE_CHARGE]


def test_the_matching_checks_fail(run: Run) -> None:
    failed = {table for table, outcome in run.first.items() if not outcome.passed}
    assert failed == {"stripe_charges", "stripe_invoices", "plaid_transactions"}
    charges = expectation_check_result("stripe_charges", run.first["stripe_charges"])
    assert not charges.passed and charges.severity == AssetCheckSeverity.ERROR
    assert charges.metadata["unexpected_counts"].data == {
        "currency_iso_4217:currency": 1,
        "amount_in_range:amount": 1,
    }
    samples = charges.metadata["failing_samples"].data
    assert {sample["record_id"] for sample in samples} == {BAD_CURRENCY_CHARGE, NEGATIVE_CHARGE}
    transactions = expectation_check_result("plaid_transactions", run.first["plaid_transactions"])
    assert not transactions.passed
    assert transactions.metadata["failing_samples"].data[0]["record_id"] == MALFORMED_TRANSACTION


def test_revalidation_does_not_duplicate_quarantine_rows(run: Run) -> None:
    assert run.quarantine_rows_after == [4, 4]
    assert run.first["stripe_charges"].quarantined == 2
    assert run.second["stripe_charges"].quarantined == 0
    assert not run.second["stripe_charges"].passed  # still failing, still reported


def test_quarantined_records_never_reach_staging(run: Run) -> None:
    with isolated_warehouse(run.home):
        charges = {row[0] for row in _query("SELECT charge_id FROM staging.stg_stripe__charges")}
        transactions = {
            row[0] for row in _query("SELECT transaction_id FROM staging.stg_plaid__transactions")
        }
        raw_charges = _query("SELECT uniqExact(workspace_id, id) FROM raw.stripe_charges")[0][0]
        lines_by_invoice = dict(
            _query("SELECT invoice_id, count() FROM staging.stg_stripe__invoice_lines GROUP BY invoice_id")
        )
    assert charges and transactions and lines_by_invoice
    assert BAD_CURRENCY_INVOICE not in lines_by_invoice
    assert BAD_CURRENCY_CHARGE not in charges and NEGATIVE_CHARGE not in charges
    assert MALFORMED_TRANSACTION not in transactions
    assert len(charges) == raw_charges - 2  # everything else is still there
