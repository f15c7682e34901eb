"""QuickBooks and Xero staging and the provider-neutral accounting models, built by `revops-dbt` on
an embedded warehouse loaded from the simulator (acme keeps QuickBooks Online, globex Xero)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from revops_simulator import SimulatorServer, World
from tests.support import isolated_warehouse, load_simulated, query, run_dbt

SELECT = ["staging.quickbooks", "staging.xero", "intermediate.accounting"]
# Staging model → its key columns (after the workspace).
STAGING_KEYS: dict[str, list[str]] = {
    "stg_qbo__accounts": ["account_id"],
    "stg_qbo__customers": ["customer_id"],
    "stg_qbo__items": ["item_id"],
    "stg_qbo__invoices": ["invoice_id"],
    "stg_qbo__payments": ["payment_id"],
    "stg_qbo__deposits": ["deposit_id"],
    "stg_qbo__journal_lines": ["journal_entry_id", "line_number"],
    "stg_xero__accounts": ["account_id"],
    "stg_xero__contacts": ["contact_id"],
    "stg_xero__invoices": ["invoice_id"],
    "stg_xero__payments": ["payment_id"],
    "stg_xero__bank_transactions": ["bank_transaction_id"],
    "stg_xero__journal_lines": ["manual_journal_id", "line_number"],
}
INTERMEDIATE = [
    "int_accounting__accounts",
    "int_accounting__invoices",
    "int_accounting__payments",
    "int_accounting__journal_lines",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Load both workspaces' books twice (the second run re-fetches boundary rows), then build."""
    home = tmp_path_factory.mktemp("revops_home")
    with isolated_warehouse(home):
        world = World(seed=11, as_of=date(2026, 10, 1), scale=0.1)
        with SimulatorServer(world) as server:
            for _ in range(2):
                load_simulated(world, server, ["quickbooks", "xero"])
                world.advance_to(date(2026, 10, 8))
        build = run_dbt(home, "build", "--select", *SELECT).assert_ok()
        assert "WARN=0" in build.output, build.output
        yield world


def test_staging_is_duplicate_free_and_complete(built: World) -> None:
    for model, key in STAGING_KEYS.items():
        columns = ", ".join(["workspace_id", *key])
        (row,) = query(f"select count() as n, uniqExact({columns}) as keys from staging.{model}")
        assert row["n"] == row["keys"] > 0, model
    truth = built.books_truth("acme")
    assert truth is not None
    invoices = {row["invoice_id"]: row for row in query("select * from staging.stg_qbo__invoices")}
    assert set(invoices) == {obj["Id"] for obj in truth.objects["Invoice"]}
    for obj in truth.objects["Invoice"]:
        row = invoices[obj["Id"]]
        # Exact conversion: integer cents from QBO's decimal, and the same Decimal back.
        assert row["total"] == int(obj["TotalAmt"] * 100) and row["total_major"] == obj["TotalAmt"]
        assert row["currency"] == obj["CurrencyRef"]["value"] and str(row["invoice_date"]) == obj["TxnDate"]
        assert row["balance"] == int(obj["Balance"] * 100) and row["balance_major"] == obj["Balance"]
        assert row["status"] == (
            "voided" if obj["PrivateNote"].startswith("Voided") else "paid" if not obj["Balance"] else "open"
        )


def test_xero_dates_and_signed_journals(built: World) -> None:
    truth = built.books_truth("globex")
    assert truth is not None
    payments = {row["payment_id"]: row for row in query("select * from staging.stg_xero__payments")}
    for obj in truth.objects["Payments"]:
        row = payments[obj["PaymentID"]]
        assert str(row["payment_date"]) == obj["DateString"][:10] and row["amount_major"] == obj["Amount"]
        assert int(row["updated_at"].timestamp() * 1000) == int(obj["UpdatedDateUTC"][6:19])
    statuses = {"AUTHORISED": "open", "PAID": "paid", "VOIDED": "voided"}
    invoices = {row["invoice_id"]: row for row in query("select * from staging.stg_xero__invoices")}
    for obj in truth.objects["Invoices"]:
        row = invoices[obj["InvoiceID"]]
        assert (row["status"], row["total_major"], row["amount_due_major"]) == (
            statuses[obj["Status"]],
            obj["Total"],
            obj["AmountDue"],
        )
        assert (row["total"], row["amount_paid"]) == (int(obj["Total"] * 100), int(obj["AmountPaid"] * 100))
    unbalanced = query(
        "select workspace_id, journal_id from staging.int_accounting__journal_lines "
        "group by all having sum(amount) != 0 or sum(amount_major) != 0"
    )
    assert unbalanced == []


def test_intermediate_models_hold_both_workspaces_in_one_shape(built: World) -> None:
    for model in INTERMEDIATE:
        systems = query(
            f"select workspace_id, groupUniqArray(source_system) as systems from staging.{model} group by all"
        )
        assert {row["workspace_id"]: row["systems"] for row in systems} == {
            "acme": ["quickbooks"],
            "globex": ["xero"],
        }, model
    invoices = query(
        "select workspace_id, status, count() as n, sum(total) as total "
        "from staging.int_accounting__invoices group by all"
    )
    for workspace_id, key, total_field in (("acme", "Invoice", "TotalAmt"), ("globex", "Invoices", "Total")):
        truth = built.books_truth(workspace_id)
        assert truth is not None
        expected = sum((obj[total_field] for obj in truth.objects[key]), Decimal(0)) * 100
        assert sum(row["total"] for row in invoices if row["workspace_id"] == workspace_id) == expected
        assert {row["status"] for row in invoices if row["workspace_id"] == workspace_id} <= {
            "open",
            "paid",
            "voided",
        }
    fees = query(
        "select workspace_id, account_class, sum(amount) as amount "
        "from staging.int_accounting__journal_lines where posting_type = 'debit' group by all"
    )
    assert {(row["workspace_id"], row["account_class"]) for row in fees} == {
        ("acme", "expense"),
        ("globex", "expense"),
    }
