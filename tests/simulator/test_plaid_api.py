"""The simulated Plaid API and bank: sync cursors, errors, realism (shapes per Plaid's OpenAPI spec
and plaid-python's models: tests/contract)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from revops_simulator import Faults, SimulatorServer, World

AS_OF = date(2026, 10, 15)


@pytest.fixture
def world() -> World:
    return World(seed=11, as_of=AS_OF, scale=0.1)


@pytest.fixture
def server(world: World) -> SimulatorServer:
    # dispatch() answers without a socket: the HTTP layer is the shared server's, tested elsewhere.
    return SimulatorServer(world)


def _post(server: SimulatorServer, path: str, workspace: str = "acme", **body: Any) -> tuple[int, Any]:
    sim = next(ws for ws in server.world.workspaces if ws.id == workspace)
    payload = {
        "client_id": sim.plaid_client_id,
        "secret": sim.plaid_secret,
        "access_token": sim.plaid_access_token,
        **body,
    }
    status, _, raw = server.dispatch("POST", "/plaid" + path, {}, json.dumps(payload).encode())
    return status, json.loads(raw)


def _sync_all(server: SimulatorServer, cursor: str = "", count: int = 100) -> tuple[dict[str, list], str]:
    changes: dict[str, list] = {"added": [], "modified": [], "removed": []}
    while True:
        status, page = _post(server, "/transactions/sync", cursor=cursor, count=count)
        assert status == 200, page
        for kind in changes:
            changes[kind] += page[kind]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor


def test_the_bank_is_deterministic_and_clock_consistent(world: World) -> None:
    again = World(seed=11, as_of=AS_OF, scale=0.1)
    assert world.bank_truth("acme") == again.bank_truth("acme")
    assert world.workspaces == again.workspaces
    advanced = World(seed=11, as_of=date(2026, 9, 1), scale=0.1)
    advanced.advance_to(AS_OF)
    assert advanced.bank_truth("globex") == world.bank_truth("globex")
    for workspace in world.workspaces:
        truth = world.bank_truth(workspace.id)
        assert max(txn["date"] for txn in truth.transactions) <= AS_OF.isoformat()
        currency = workspace.settlement_currency.upper()
        assert {account["balances"]["iso_currency_code"] for account in truth.accounts} == {currency}
        assert [account["subtype"] for account in truth.accounts] == ["checking", "savings"]


def test_balances_are_the_sum_of_posted_transactions(world: World) -> None:
    bank = world.bank("globex")
    truth = world.bank_truth("globex")
    for account_id, (current, available) in truth.balances.items():
        mine = [txn for txn in bank.visible(bank.now) if txn.account_id == account_id]
        assert current == -sum(txn.amount for txn in mine if not txn.pending)
        assert available == current - sum(txn.amount for txn in mine if txn.pending and txn.amount > 0)


def test_every_paid_payout_is_deposited_except_the_missing_ones(world: World) -> None:
    for workspace in world.workspaces:
        truth = world.bank_truth(workspace.id)
        payouts = {p["id"]: p for p in world.ground_truth(workspace.id).objects["payouts"]}
        by_id = {txn["transaction_id"]: txn for txn in truth.transactions}
        for payout_id, txn_id in truth.payout_deposits.items():
            payout, deposit = payouts[payout_id], by_id[txn_id]
            assert payout["status"] != "failed"
            assert round(deposit["amount"] * 100) == -payout["amount"]
            assert deposit["name"].startswith("STRIPE TRANSFER ST-")
        paid = {p for p, obj in payouts.items() if obj["status"] == "paid"}
        odd = {p for discrepancy in truth.discrepancies for p in discrepancy.payout_ids}
        unexplained = paid - set(truth.payout_deposits) - odd
        assert unexplained <= set(truth.missing_payouts) | _not_yet_due(world, payouts)
        assert not set(truth.missing_payouts) & (set(truth.payout_deposits) | odd)
        assert not odd & set(truth.payout_deposits)
        assert truth.unmatched_deposits and not set(truth.unmatched_deposits) & set(
            truth.payout_deposits.values()
        )


def test_deposits_that_are_not_one_per_payout(world: World, server: SimulatorServer) -> None:
    """A fee taken off, a payout split over two deposits, two payouts in one deposit, and a posted
    duplicate the bank removes: each once per workspace, consistent with the payouts and the sync."""
    for workspace in world.workspaces:
        truth = world.bank_truth(workspace.id)
        payouts = {p["id"]: p for p in world.ground_truth(workspace.id).objects["payouts"]}
        shown = {txn["transaction_id"]: txn for txn in truth.transactions}
        kinds = {d.kind: d for d in truth.discrepancies}
        assert sorted(kinds) == [
            "amount_mismatch",
            "batched_deposit",
            "removed_after_posting",
            "split_deposit",
        ]
        assert len(truth.discrepancies) == 4
        for discrepancy in truth.discrepancies:
            if discrepancy.kind == "removed_after_posting":
                (removed,) = discrepancy.transaction_ids
                assert removed in truth.removed_transaction_ids and removed not in shown
                continue
            assert discrepancy.payout_amount == sum(payouts[p]["amount"] for p in discrepancy.payout_ids)
            deposits = [shown[txn_id] for txn_id in discrepancy.transaction_ids]
            assert all(not d["pending"] and d["name"].startswith("STRIPE TRANSFER ST-") for d in deposits)
            assert discrepancy.deposit_amount == -sum(round(d["amount"] * 100) for d in deposits)
            assert not set(discrepancy.transaction_ids) & set(truth.unmatched_deposits)
        mismatch = kinds["amount_mismatch"]
        assert 0 < mismatch.payout_amount - mismatch.deposit_amount <= mismatch.payout_amount * 0.025
        assert len(kinds["split_deposit"].transaction_ids) == 2
        assert len(kinds["batched_deposit"].payout_ids) == 2
        for kind in ("split_deposit", "batched_deposit"):
            assert kinds[kind].deposit_amount == kinds[kind].payout_amount
    # The removed duplicate is a posted transaction that Plaid's sync first adds, then removes.
    duplicate = next(d for d in world.bank_truth("acme").discrepancies if d.kind == "removed_after_posting")
    posted_day = World(seed=11, as_of=date(2026, 3, 2), scale=0.1).bank_truth("acme")
    posted = {t["transaction_id"] for t in posted_day.transactions if not t["pending"]}
    assert duplicate.transaction_ids[0] in posted


def _not_yet_due(world: World, payouts: dict[str, Any]) -> set[str]:
    # A late deposit posts the business day after arrival: maybe after the clock.
    return {p for p, obj in payouts.items() if obj["arrival_date"] >= world.now.timestamp() - 4 * 86_400}


def test_sync_cursor_semantics(world: World, server: SimulatorServer) -> None:
    changes, cursor = _sync_all(server, count=50)
    truth = world.bank_truth("acme")
    assert [txn["transaction_id"] for txn in changes["added"]] == [
        txn["transaction_id"] for txn in truth.transactions
    ]
    assert not changes["modified"] and not changes["removed"]
    status, page = _post(server, "/transactions/sync", cursor=cursor)
    assert (status, page["added"], page["has_more"], page["next_cursor"]) == (200, [], False, cursor)

    world.advance_to(date(2026, 10, 25))
    update, _ = _sync_all(server, cursor)
    after = world.bank_truth("acme")
    before_ids = {txn["transaction_id"] for txn in truth.transactions}
    after_ids = {txn["transaction_id"] for txn in after.transactions}
    assert {txn["transaction_id"] for txn in update["added"]} == after_ids - before_ids
    assert {txn["transaction_id"] for txn in update["removed"]} == before_ids - after_ids
    # Posted card transactions get their merchant later: a modification, not an addition.
    assert update["modified"]
    for txn in update["added"]:
        if txn["pending_transaction_id"] is not None:
            assert txn["pending_transaction_id"] not in after_ids
    status, error = _post(server, "/transactions/sync", cursor="", count=501)
    assert status == 400 and error["error_code"] == "INVALID_FIELD"


def test_mutation_during_pagination(world: World, server: SimulatorServer) -> None:
    status, first = _post(server, "/transactions/sync", cursor="", count=10)
    assert first["has_more"]
    world.advance_to(date(2026, 10, 16))
    status, error = _post(server, "/transactions/sync", cursor=first["next_cursor"], count=10)
    assert status == 400
    assert (error["error_type"], error["error_code"]) == (
        "TRANSACTIONS_ERROR",
        "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
    )
    # Injected: the next paginated call fails once, then the same call succeeds.
    server.faults = Faults(plaid_mutation_during_pagination=1)
    status, first = _post(server, "/transactions/sync", cursor="", count=10)
    assert status == 200
    statuses = [
        _post(server, "/transactions/sync", cursor=first["next_cursor"], count=10)[0] for _ in range(2)
    ]
    assert statuses == [400, 200]


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"secret": "nope"}, "INVALID_API_KEYS"),
        ({"access_token": "access-production-nope"}, "INVALID_ACCESS_TOKEN"),
    ],
)
def test_errors_use_plaids_body(server: SimulatorServer, override: dict[str, str], code: str) -> None:
    status, error = _post(server, "/accounts/get", **override)
    assert status == 400
    assert error["error_code"] == code and error["error_type"] == "INVALID_INPUT"
    assert {"error_type", "error_code", "error_message", "display_message", "request_id"} <= error.keys()


def test_a_login_required_item_refuses_its_data_but_not_itself(server: SimulatorServer) -> None:
    """Plaid's ITEM_LOGIN_REQUIRED (https://plaid.com/docs/errors/item/#item_login_required): the Item's
    data endpoints answer 400 ITEM_ERROR; `/item/get` answers with the error on the Item; other
    workspaces are untouched."""
    server.faults = Faults(plaid_login_required=frozenset({"acme"}))
    for path in ("/accounts/get", "/accounts/balance/get", "/transactions/sync"):
        status, body = _post(server, path)
        assert (status, body["error_type"], body["error_code"]) == (400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED")
    status, body = _post(server, "/item/get")
    assert status == 200 and body["item"]["error"]["error_code"] == "ITEM_LOGIN_REQUIRED"
    assert _post(server, "/accounts/get", workspace="globex")[0] == 200
    assert _post(server, "/item/get", workspace="globex")[1]["item"]["error"] is None
