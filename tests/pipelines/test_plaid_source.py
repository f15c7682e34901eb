"""The Plaid source against the simulated banks: full loads, cursors, soft deletes and failures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from dlt.extract.source import DltSource

from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops.pipelines.plaid import PLAID_TABLES, plaid_source
from revops.pipelines.plaid.settings import PlaidAccount
from revops.pipelines.runner import load
from revops.pipelines.sources import PLAID, SourceSpec
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry

WORKSPACE = "globex"


def _source(world: World, server: SimulatorServer, secret: str | None = None) -> SourceSpec:
    def build(workspace_id: str, account: PlaidAccount) -> DltSource:
        sim = next(ws for ws in world.workspaces if ws.id == workspace_id)
        return plaid_source(
            workspace_id=workspace_id,
            api_base=server.plaid_base_url,
            client_id=sim.plaid_client_id,
            secret=secret or sim.plaid_secret,
            access_tokens=[sim.plaid_access_token],
            page_size=60,  # several pages per update, so pagination is exercised
        )

    return replace(PLAID, build=build)


def _load(world: World, server: SimulatorServer, secret: str | None = None) -> Any:
    workspace = Workspace(id=WORKSPACE, name="Globex", accounts={"plaid": PlaidAccount()})
    return load(_source(world, server, secret), workspace)


def _transactions() -> dict[str, dict[str, Any]]:
    with connect() as client:
        rows = client.query(
            "SELECT * FROM raw.plaid_transactions FINAL WHERE workspace_id = {ws:String}",
            parameters={"ws": WORKSPACE},
        ).named_results()
        return {row["transaction_id"]: row for row in rows}


def _sync_requests(server: SimulatorServer) -> int:
    return server.stats.requests[WORKSPACE, "POST /transactions/sync"]


def _assert_matches_truth(world: World) -> None:
    truth = world.ground_truth(WORKSPACE).bank
    assert truth is not None
    loaded = _transactions()
    live = {txn_id: row for txn_id, row in loaded.items() if not row["is_removed"]}
    assert set(live) == {txn["transaction_id"] for txn in truth.transactions}
    for txn in truth.transactions:
        row = live[txn["transaction_id"]]
        assert row["amount"] == Decimal(repr(txn["amount"]))
        assert row["pending"] == txn["pending"]
        assert row["merchant_name"] == txn["merchant_name"]
        assert row["date"] == date.fromisoformat(txn["date"])
    removed = {txn_id for txn_id, row in loaded.items() if row["is_removed"]}
    assert removed <= truth.removed_transaction_ids


def test_full_load_equals_ground_truth(world: World, server: SimulatorServer) -> None:
    result = _load(world, server)
    assert result.ok, result.error
    assert set(result.rows_by_table) == set(PLAID_TABLES)
    _assert_matches_truth(world)
    truth = world.ground_truth(WORKSPACE).bank
    assert truth is not None
    with connect() as client:
        balances = dict(
            client.query(
                "SELECT account_id, balance_current FROM raw.plaid_accounts FINAL "
                "WHERE workspace_id = {ws:String}",
                parameters={"ws": WORKSPACE},
            ).result_rows
        )
    assert balances == {
        account_id: Decimal(current).scaleb(-2) for account_id, (current, _) in truth.balances.items()
    }


def test_second_run_fetches_only_changes_and_soft_deletes_removed(
    world: World, server: SimulatorServer
) -> None:
    assert _load(world, server).ok
    first = _transactions()
    server.stats.reset()
    assert _load(world, server).ok
    # Nothing changed: one request, which returns the empty update.
    assert _sync_requests(server) == 1
    assert server.stats.objects_served[WORKSPACE, "transactions"] == 0

    world.advance_to(date(2026, 10, 22))
    result = _load(world, server)
    assert result.ok, result.error
    _assert_matches_truth(world)
    after = _transactions()
    # Pending transactions that posted are soft-deleted and replaced by the posted one (one live row).
    pending_before = {txn_id for txn_id, row in first.items() if row["pending"]}
    assert pending_before
    for txn_id in pending_before:
        assert after[txn_id]["is_removed"] is True
        posted = [row for row in after.values() if row["pending_transaction_id"] == txn_id]
        assert len(posted) <= 1
        assert all(not row["is_removed"] and not row["pending"] for row in posted)
    # Only the week's changes were served, not the year again.
    assert result.rows_by_table["plaid_transactions"] < len(first) / 4


def test_deposits_that_are_not_one_per_payout_and_a_removed_posting_load_as_the_bank_shows_them(
    revops_home: object,
) -> None:
    """A fee taken off, a split and a batched deposit load as the posted deposits they are; the
    duplicate posting the bank removes two days later is posted in one run and soft-deleted by the
    next."""
    world = World(seed=7, as_of=date(2026, 3, 2), scale=0.1)
    with SimulatorServer(world) as server:
        assert _load(world, server).ok
        before = _transactions()
        world.advance_to(date(2026, 10, 15))
        load = _load(world, server)
        assert load.ok, load.error
        _assert_matches_truth(world)
    truth = world.ground_truth(WORKSPACE).bank
    assert truth is not None
    (duplicate,) = next(d for d in truth.discrepancies if d.kind == "removed_after_posting").transaction_ids
    assert not before[duplicate]["is_removed"] and not before[duplicate]["pending"]
    after = _transactions()
    assert after[duplicate]["is_removed"] is True
    # A soft delete: the posted version is still there (staging keeps its values).
    with connect() as client:
        versions = client.query(
            "SELECT is_removed, amount FROM raw.plaid_transactions WHERE transaction_id = {id:String} "
            "ORDER BY _revops_synced_at",
            parameters={"id": duplicate},
        ).result_rows
    assert versions == [(False, before[duplicate]["amount"]), (True, None)]
    shown = {txn["transaction_id"]: txn for txn in truth.transactions}
    for discrepancy in truth.discrepancies:
        if discrepancy.kind == "removed_after_posting":
            continue
        loaded = [after[txn_id] for txn_id in discrepancy.transaction_ids]
        assert all(not row["is_removed"] and not row["pending"] for row in loaded)
        assert -sum(row["amount"] for row in loaded) * 100 == discrepancy.deposit_amount
        assert all(row["name"] == shown[row["transaction_id"]]["name"] for row in loaded)


def test_mutation_during_pagination_restarts_from_the_saved_cursor(
    world: World, server: SimulatorServer
) -> None:
    server.faults = Faults(plaid_mutation_during_pagination=1)
    result = _load(world, server)
    assert result.ok, result.error
    assert server.stats.statuses[WORKSPACE, 400] == 1
    _assert_matches_truth(world)
    # The cursor saved is the completed update's: a later run adds only what changed since.
    world.advance_to(date(2026, 10, 20))
    assert _load(world, server).ok
    _assert_matches_truth(world)


def test_transient_errors_are_retried(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(error_rate=0.3, seed=3)
    result = _load(world, server)
    assert result.ok, result.error
    _assert_matches_truth(world)


def test_a_bad_secret_fails_fast_naming_the_workspace(world: World, server: SimulatorServer) -> None:
    result = _load(world, server, secret="wrong")
    assert not result.ok
    assert result.error is not None and "'globex'" in result.error and "INVALID_API_KEYS" in result.error
    assert "wrong" not in result.error
    assert sum(count for (ws, _), count in server.stats.requests.items()) == 1


def test_registry_loads_every_workspace_bank(revops_home: object) -> None:
    world = World(seed=3, as_of=date(2026, 10, 15), scale=0.1)
    with SimulatorServer(world) as server:
        loads = [
            load(PLAID, workspace) for workspace in simulator_registry(world, server).with_provider("plaid")
        ]
    assert [result.workspace_id for result in loads] == ["acme", "globex"]
    assert all(result.ok and result.rows_by_table["plaid_transactions"] > 0 for result in loads), loads
