"""The Plaid staging layer, built by `revops-dbt` from the simulated banks loaded by the real source.

Both workspaces' banks are loaded, the clock moves a week (pending card payments post or are
released, so Plaid removes them), the banks are loaded again, and `staging.plaid` is built once in a
child process; every assertion reads that one build.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from revops_simulator import Faults, SimulatorServer, World
from tests.support import isolated_warehouse, load_simulated, query, run_dbt

AS_OF = date(2026, 10, 14)  # both banks show pending card payments
ADVANCED_TO = date(2026, 10, 22)
SCALE = 0.1
STAGING = "staging"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, list[dict[str, Any]]]]:
    """(the advanced world, dbt's run results) after two loads and one build of staging.plaid."""
    home = tmp_path_factory.mktemp("revops_home")
    with isolated_warehouse(home):
        world = World(seed=7, as_of=AS_OF, scale=SCALE)
        with SimulatorServer(world, faults=Faults()) as server:
            load_simulated(world, server, ["plaid"])
            world.advance_to(ADVANCED_TO)
            load_simulated(world, server, ["plaid"])
        yield (
            world,
            run_dbt(home, "build", "--select", "staging.plaid", "--indirect-selection", "cautious")
            .assert_ok()
            .results,
        )


def _transactions(workspace_id: str) -> dict[str, dict[str, Any]]:
    rows = query(
        f"select * from {STAGING}.stg_plaid__transactions where workspace_id = {{ws:String}}",
        ws=workspace_id,
    )
    return {row["transaction_id"]: row for row in rows}


def test_build_runs_both_models_and_every_test_cleanly(built: tuple[World, list[dict[str, Any]]]) -> None:
    _, results = built
    ids = {r["unique_id"] for r in results}
    assert {"model.revops.stg_plaid__accounts", "model.revops.stg_plaid__transactions"} <= ids
    assert sum(uid.startswith("test.") for uid in ids) >= 10
    assert [(r["unique_id"], r["status"]) for r in results if r["status"] not in ("success", "pass")] == []


def test_one_row_per_transaction_and_both_workspaces(built: tuple[World, list[dict[str, Any]]]) -> None:
    world, _ = built
    counts = query(
        f"select workspace_id, count() as n, uniqExact(transaction_id) as ids "
        f"from {STAGING}.stg_plaid__transactions group by workspace_id order by workspace_id"
    )
    assert [c["workspace_id"] for c in counts] == sorted(ws.id for ws in world.workspaces)
    assert all(c["n"] == c["ids"] > 0 for c in counts)
    accounts = query(f"select distinct workspace_id from {STAGING}.stg_plaid__accounts order by workspace_id")
    assert [a["workspace_id"] for a in accounts] == sorted(ws.id for ws in world.workspaces)


def test_live_rows_equal_the_bank_and_removed_ones_are_flagged(
    built: tuple[World, list[dict[str, Any]]],
) -> None:
    world, _ = built
    replaced = 0
    for sim in world.workspaces:
        truth = world.ground_truth(sim.id).bank
        assert truth is not None
        rows = _transactions(sim.id)
        live = {txn_id: row for txn_id, row in rows.items() if not row["is_removed"]}
        assert set(live) == {txn["transaction_id"] for txn in truth.transactions}
        for txn in truth.transactions:
            row = live[txn["transaction_id"]]
            major = -Decimal(repr(txn["amount"]))
            assert row["amount_major"] == major
            assert row["amount"] == int(major.scaleb(2))  # USD and GBP: ISO exponent 2
            assert row["currency"] == txn["iso_currency_code"]
            assert row["is_pending"] == txn["pending"]
            assert row["transaction_date"] == date.fromisoformat(txn["date"])
            assert row["personal_finance_category_primary"] == txn["personal_finance_category"]["primary"]

        removed = {txn_id: row for txn_id, row in rows.items() if row["is_removed"]}
        assert removed, sim.id  # the week posted or released pending card payments
        assert set(removed) <= truth.removed_transaction_ids
        # A removal row carries only ids: the staging row keeps the last values Plaid showed.
        assert all(row["amount"] is not None and row["transaction_name"] for row in removed.values())
        assert all(row["is_pending"] for row in removed.values())
        # A pending transaction that posted is one live row, the posted one.
        posted = [row for row in live.values() if row["pending_transaction_id"] in removed]
        replaced += len(posted)
        for row in posted:
            pending = removed[row["pending_transaction_id"]]
            assert (row["is_pending"], row["amount"]) == (False, pending["amount"])
        # Not double-counted: the live total equals the bank's.
        live_total = query(
            f"select sum(amount) as total from {STAGING}.stg_plaid__transactions "
            "where workspace_id = {ws:String} and not is_removed",
            ws=sim.id,
        )[0]["total"]
        assert live_total == -sum(int(Decimal(repr(t["amount"])).scaleb(2)) for t in truth.transactions)
    assert replaced > 0


def test_stripe_payouts_arrive_as_positive_deposits(built: tuple[World, list[dict[str, Any]]]) -> None:
    world, _ = built
    for sim in world.workspaces:
        truth = world.ground_truth(sim.id)
        assert truth.bank is not None and truth.bank.payout_deposits, sim.id
        payouts = {payout["id"]: payout for payout in truth.objects["payouts"]}
        rows = _transactions(sim.id)
        for payout_id, transaction_id in truth.bank.payout_deposits.items():
            row = rows[transaction_id]
            assert not row["is_removed"]
            assert row["amount"] > 0
            assert row["amount"] == payouts[payout_id]["amount"]
            assert row["currency"] == payouts[payout_id]["currency"].upper()


def test_account_balances_equal_the_bank(built: tuple[World, list[dict[str, Any]]]) -> None:
    world, _ = built
    for sim in world.workspaces:
        truth = world.ground_truth(sim.id).bank
        assert truth is not None
        rows = query(
            f"select * from {STAGING}.stg_plaid__accounts where workspace_id = {{ws:String}}", ws=sim.id
        )
        assert {
            r["account_id"]: (r["balance_current"], r["balance_available"]) for r in rows
        } == truth.balances
        for row in rows:
            assert row["balance_current_major"] == Decimal(row["balance_current"]).scaleb(-2)
            assert (row["account_type"], row["balance_limit"]) == ("depository", None)
            assert row["currency"] == sim.settlement_currency.upper()
            assert row["mask"] and row["account_name"] and row["item_id"]


def test_column_types(built: tuple[World, list[dict[str, Any]]]) -> None:
    rows = query(
        "select table, name, type from system.columns "
        "where database = {db:String} and table like 'stg_plaid__%' order by table, position",
        db=STAGING,
    )
    columns: dict[str, dict[str, str]] = {}
    for row in rows:
        nullable = re.fullmatch(r"Nullable\((.*)\)", row["type"])
        columns.setdefault(row["table"], {})[row["name"]] = nullable.group(1) if nullable else row["type"]
    transactions, accounts = columns["stg_plaid__transactions"], columns["stg_plaid__accounts"]
    assert list(transactions)[:2] == ["workspace_id", "transaction_id"]
    assert list(accounts)[:2] == ["workspace_id", "account_id"]
    assert transactions["amount"] == "Int64" and transactions["amount_major"] == "Decimal(38, 9)"
    assert transactions["transaction_date"] == transactions["authorized_date"] == "Date"
    assert transactions["transacted_at"] == transactions["authorized_at"] == "DateTime64(3, 'UTC')"
    assert transactions["is_removed"] == transactions["is_pending"] == "Bool"
    for balance in ("balance_current", "balance_available", "balance_limit"):
        assert accounts[balance] == "Int64"
