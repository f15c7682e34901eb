"""The Stripe source against the simulator: completeness, incrementality, faults, bad input."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from pydantic import SecretStr

from revops.core.warehouse import connect
from revops.pipelines.runner import load
from revops.pipelines.sources import STRIPE
from revops.pipelines.stripe.settings import (
    ENDPOINTS,
    INVOICE_LINE_ITEMS_TABLE,
    PAYMENT_METHODS_TABLE,
    PAYOUT_CONTENTS_TABLE,
    SUBSCRIPTION_ITEMS_TABLE,
)
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.world import GroundTruth
from tests.pipelines.conftest import load_stripe, raw_ids, stripe_workspaces
from tests.support import query

TABLE_FOR_TRUTH = {
    **{endpoint.resource: endpoint.table for endpoint in ENDPOINTS},
    "subscription_items": SUBSCRIPTION_ITEMS_TABLE,
    "invoice_line_items": INVOICE_LINE_ITEMS_TABLE,
    "payment_methods": PAYMENT_METHODS_TABLE,
}


def _assert_matches_truth(world: World, *, malformed_skipped: bool = False) -> None:
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id)
        for resource, table in TABLE_FOR_TRUTH.items():
            skipped = truth.malformed_ids.get(resource, set()) if malformed_skipped else set()
            if malformed_skipped and resource == "payment_methods":
                # A rejected customer's cards are listed with it, so they wait for it too.
                rejected = truth.malformed_ids.get("customers", set())
                skipped = {card["id"] for card in truth.objects[resource] if card["customer"] in rejected}
            expected = {obj["id"] for obj in truth.objects[resource]} - skipped
            loaded = set(raw_ids(table, workspace.id))
            if resource == "events":
                # Stripe serves 30 days of events; the warehouse keeps the older ones it loaded.
                assert expected <= loaded, f"{workspace.id}: {table}"
            elif resource in GONE:
                # Raw keeps what was loaded before it was deleted (or detached), marked so.
                gone = GONE[resource](truth)
                assert expected <= loaded and loaded - expected <= gone, f"{workspace.id}: {table}"
                assert _gone_marked(table, workspace.id, loaded - expected), f"{workspace.id}: {table}"
            else:
                assert loaded == expected, f"{workspace.id}: {table}"
            if resource in truth.archived_ids:
                # Archived products and prices load like the others, `active = false`.
                assert _inactive(table, workspace.id) == truth.archived_ids[resource] - skipped, (
                    f"{workspace.id}: {table}"
                )
        assert _payout_contents(workspace.id) == {
            (payout, transaction)
            for payout, transactions in truth.payout_contents.items()
            if payout not in truth.malformed_ids.get("payouts", set())
            for transaction in transactions
        }, workspace.id


def _payout_contents(workspace_id: str) -> set[tuple[str, str]]:
    """(payout, balance transaction) pairs the source itemized for the workspace."""
    with connect() as client:
        return set(
            client.query(
                f"SELECT DISTINCT payout, id FROM raw.{PAYOUT_CONTENTS_TABLE} "
                "WHERE workspace_id = {ws:String}",
                parameters={"ws": workspace_id},
            ).result_rows
        )


def _inactive(table: str, workspace_id: str) -> set[str]:
    rows = query(
        f"SELECT id FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}} AND NOT active", ws=workspace_id
    )
    return {str(row["id"]) for row in rows}


GONE: dict[str, Callable[[GroundTruth], set[str]]] = {
    "customers": lambda truth: truth.deleted_ids["customers"],
    "coupons": lambda truth: truth.deleted_ids["coupons"],
    # A one-off draft loaded before the merchant deleted it, and its lines.
    "invoices": lambda truth: truth.deleted_ids["invoices"],
    "invoice_line_items": lambda truth: truth.lifecycle["deleted_invoice_lines"],
    "payment_methods": lambda truth: truth.lifecycle["unlisted_payment_methods"],
}
_MARKED = {
    "customers": "deleted",
    "coupons": "deleted",
    "invoices": "deleted",
    # A deleted draft's lines stay as loaded, under an invoice marked deleted.
    "invoice_line_items": "invoice IN (SELECT id FROM raw.stripe_invoices FINAL "
    "WHERE workspace_id = {ws:String} AND deleted)",
    # A detached card has no customer; a deleted customer's card keeps it.
    "payment_methods": "customer IS NULL OR customer IN (SELECT id FROM raw.stripe_customers FINAL "
    "WHERE workspace_id = {ws:String} AND deleted)",
}


def _gone_marked(table: str, workspace_id: str, ids: set[str]) -> bool:
    """Whether every row of `ids` in `table` records that Stripe no longer lists it."""
    if not ids:
        return True
    condition = _MARKED[table.removeprefix("stripe_")]
    rows = query(
        f"SELECT id FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}} "
        f"AND id IN {{ids:Array(String)}} AND ({condition})",
        ws=workspace_id,
        ids=sorted(ids),
    )
    return {row["id"] for row in rows} == ids


@pytest.mark.usefixtures("stripe_loaded")
def test_full_load_matches_ground_truth(world: World) -> None:
    _assert_matches_truth(world)
    with connect() as client:
        workspaces = client.query("SELECT DISTINCT workspace_id FROM raw.stripe_charges").result_rows
    assert sorted(row[0] for row in workspaces) == sorted(ws.id for ws in world.workspaces)


@pytest.mark.usefixtures("stripe_loaded")
def test_loaded_objects_carry_their_latest_state(world: World, server: SimulatorServer) -> None:
    world.advance_to(world.now.date() + timedelta(days=3))
    load_stripe(world, server)
    workspace = world.workspaces[0]
    truth = {inv["id"]: inv for inv in world.ground_truth(workspace.id).objects["invoices"]}
    with connect() as client:
        loaded = dict(
            client.query(
                "SELECT id, status FROM raw.stripe_invoices FINAL WHERE workspace_id = {ws:String}",
                parameters={"ws": workspace.id},
            ).result_rows
        )
    assert loaded == {invoice_id: invoice["status"] for invoice_id, invoice in truth.items()}


@pytest.mark.usefixtures("stripe_loaded")
def test_second_run_fetches_only_new_or_changed_objects(world: World, server: SimulatorServer) -> None:
    before = {ws.id: world.ground_truth(ws.id).objects for ws in world.workspaces}
    world.advance_to(world.now.date() + timedelta(days=1))
    server.stats.reset()
    rows = load_stripe(world, server)
    _assert_matches_truth(world)
    for workspace in world.workspaces:
        after = world.ground_truth(workspace.id).objects
        for resource in ("customers", "invoices", "charges", "subscriptions"):
            previous = {obj["id"]: obj for obj in before[workspace.id][resource]}
            changed = {obj["id"] for obj in after[resource] if previous.get(obj["id"]) != obj}
            loaded = rows[workspace.id].get(TABLE_FOR_TRUTH[resource], 0)
            # Objects created in the cursor's last second are listed again (gte), nothing else is.
            assert len(changed) <= loaded <= len(changed) + 3, (workspace.id, resource, len(changed), loaded)
            assert loaded < len(after[resource]), f"{resource} was re-fetched in full"


def test_same_rows_under_server_errors_and_rate_limits(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(error_rate=0.2, truncate_rate=0.05, rate_limit_per_s=15, seed=3)
    load_stripe(world, server)
    _assert_matches_truth(world)
    statuses = Counter()
    for (_, status), count in server.stats.statuses.items():
        statuses[status] += count
    assert statuses[429] > 0 and sum(count for status, count in statuses.items() if status >= 500) > 0


def test_stays_within_stripe_test_mode_rate_limit(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(rate_limit_per_s=25)
    load_stripe(world, server)
    assert not any(status == 429 for (_, status) in server.stats.statuses)


def test_invalid_api_key_fails_fast_naming_the_workspace(world: World, server: SimulatorServer) -> None:
    original = stripe_workspaces(world, server)[0]
    account = original.account("stripe")
    assert account is not None
    rejected = account.model_copy(update={"api_key": SecretStr("sk_test_not_a_real_key_0000")})
    workspace = original.model_copy(update={"accounts": {"stripe": rejected}})
    server.stats.reset()
    result = load(STRIPE, workspace)
    assert result.error is not None
    assert repr(workspace.id) in result.error and "API key" in result.error
    assert result.needs_reauth
    (attempt,) = query(
        "SELECT succeeded, needs_reauth, error, rows_loaded FROM raw.sync_attempts "
        "WHERE workspace_id = {ws:String}",
        ws=workspace.id,
    )
    assert attempt == {"succeeded": False, "needs_reauth": True, "error": result.error, "rows_loaded": 0}
    # Fails fast: a rejected key is not retried.
    assert sum(server.stats.requests.values()) == 1


def test_malformed_records_are_quarantined_and_the_rest_loads(world: World, server: SimulatorServer) -> None:
    server.faults = Faults(malformed={"charges": 2, "customers": 1})
    load_stripe(world, server)
    for workspace in world.workspaces:
        malformed = world.ground_truth(workspace.id).malformed_ids
        assert len(malformed["charges"]) == 2
        with connect() as client:
            rejected = client.query(
                "SELECT replaceOne(table_name, 'stripe_', ''), record_id, reason "
                "FROM raw.quarantined_records "
                "FINAL WHERE workspace_id = {ws:String} AND stage = 'extract'",
                parameters={"ws": workspace.id},
            ).result_rows
        assert {(resource, object_id) for resource, object_id, _ in rejected} >= {
            ("charges", object_id) for object_id in malformed["charges"]
        }
        assert all(reason for _, _, reason in rejected)
    _assert_matches_truth(world, malformed_skipped=True)


@pytest.mark.usefixtures("stripe_loaded")
def test_new_source_field_becomes_a_column(world: World, server: SimulatorServer) -> None:
    world.advance_to(world.now.date() + timedelta(days=2))
    server.faults = Faults(extra_fields={"customers": {"loyalty_tier": "gold"}})
    load_stripe(world, server)
    _assert_matches_truth(world)
    with connect() as client:
        tiers = client.query(
            "SELECT loyalty_tier, count() FROM raw.stripe_customers FINAL GROUP BY loyalty_tier"
        ).result_rows
    assert dict(tiers).get("gold", 0) > 0


@pytest.mark.usefixtures("stripe_loaded")
def test_rerun_with_no_changes_loads_nothing_new(world: World, server: SimulatorServer) -> None:
    with connect() as client:
        before = client.query("SELECT count() FROM raw.stripe_invoices FINAL").result_rows
    load_stripe(world, server)
    with connect() as client:
        after = client.query("SELECT count() FROM raw.stripe_invoices FINAL").result_rows
    assert before == after


@pytest.mark.usefixtures("stripe_loaded")
@pytest.mark.parametrize("resource", ["subscriptions", "invoices"])
def test_child_lists_are_complete(world: World, resource: str) -> None:
    child = {"subscriptions": "subscription_items", "invoices": "invoice_line_items"}[resource]
    _assert_matches_truth(world)
    assert any(world.ground_truth(ws.id).objects[child] for ws in world.workspaces)


def _loaded_rows(table: str, workspace_id: str, ids: set[str]) -> dict[str, dict[str, object]]:
    rows = query(
        f"SELECT * FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}} AND id IN {{ids:Array(String)}}",
        ws=workspace_id,
        ids=sorted(ids),
    )
    return {str(row["id"]): row for row in rows}


@pytest.mark.usefixtures("stripe_loaded")
def test_customer_deleted_between_loads_is_marked_deleted_not_quarantined(
    world: World, server: SimulatorServer
) -> None:
    before = {ws.id: world.ground_truth(ws.id).deleted_ids["customers"] for ws in world.workspaces}
    # Within the events' 30 days, so the tracker sees each `customer.deleted` (and past the re-sync
    # interval, so the full re-list, which omits deleted customers, runs too).
    world.advance_to(world.now.date() + timedelta(days=28))
    load_stripe(world, server)
    _assert_matches_truth(world)
    deleted = {
        ws.id: world.ground_truth(ws.id).deleted_ids["customers"] - before[ws.id] for ws in world.workspaces
    }
    assert any(deleted.values()), "the window must contain a deletion"
    for workspace_id, ids in deleted.items():
        rows = _loaded_rows("stripe_customers", workspace_id, ids)
        assert set(rows) == ids
        # The deletion event's last state is kept: a deleted customer still has its name and creation.
        assert all(row["deleted"] and row["name"] and row["created"] for row in rows.values())
    quarantined = query(
        "SELECT record_id FROM raw.quarantined_records FINAL WHERE table_name = 'stripe_customers'"
    )
    assert quarantined == []


def test_archive_and_draft_deletion_between_loads_are_picked_up_through_events(revops_home: object) -> None:
    # Seed 7: Acme's one-off draft (2026-07-10) is deleted on 07-20; Globex archives its Priority
    # support add-on on 07-21. Six days apart: within the re-sync interval, so only events tell.
    world = World(seed=7, as_of=date(2026, 7, 15), scale=0.1)
    with SimulatorServer(world, faults=Faults()) as server:
        load_stripe(world, server)
        before = {ws.id: world.ground_truth(ws.id) for ws in world.workspaces}
        world.advance_to(date(2026, 7, 21))
        load_stripe(world, server)
        _assert_matches_truth(world)
    deleted_drafts = archived = 0
    for workspace in world.workspaces:
        truth, earlier = world.ground_truth(workspace.id), before[workspace.id]
        drafts = truth.deleted_ids["invoices"] - earlier.deleted_ids["invoices"]
        listed_before = {invoice["id"] for invoice in earlier.objects["invoices"]}
        assert drafts <= listed_before, "each deleted draft was loaded as a draft first"
        rows = _loaded_rows("stripe_invoices", workspace.id, drafts)
        # Kept as the last state `invoice.deleted` carried, marked deleted.
        assert set(rows) == drafts
        assert all(row["deleted"] and row["status"] == "draft" and row["created"] for row in rows.values())
        deleted_drafts += len(drafts)
        for resource in ("products", "prices"):
            newly = truth.archived_ids[resource] - earlier.archived_ids[resource]
            rows = _loaded_rows(f"stripe_{resource}", workspace.id, newly)
            assert set(rows) == newly and not any(row["active"] for row in rows.values())
            archived += len(newly)
    assert deleted_drafts and archived, "the window must delete a draft and archive a product"
    quarantined = query("SELECT record_id FROM raw.quarantined_records FINAL")
    assert quarantined == []


def test_replaced_card_is_recorded_detached_and_the_new_one_attached(revops_home: object) -> None:
    # A world whose next weeks replace a failing card (billing.py's card-updated path).
    world = World(seed=7, as_of=date(2026, 6, 10), scale=0.1)
    with SimulatorServer(world, faults=Faults()) as server:
        load_stripe(world, server)
        before = {
            ws.id: world.ground_truth(ws.id).lifecycle["detached_payment_methods"] for ws in world.workspaces
        }
        world.advance_to(date(2026, 7, 5))
        load_stripe(world, server)
        _assert_matches_truth(world)
    detached = {
        ws.id: world.ground_truth(ws.id).lifecycle["detached_payment_methods"] - before[ws.id]
        for ws in world.workspaces
    }
    assert any(detached.values()), "the window must replace a card"
    for workspace_id, ids in detached.items():
        rows = _loaded_rows(PAYMENT_METHODS_TABLE, workspace_id, ids)
        assert set(rows) == ids and all(row["customer"] is None for row in rows.values())
        listed = {card["id"]: card for card in world.ground_truth(workspace_id).objects["payment_methods"]}
        attached = query(
            f"SELECT id, customer FROM raw.{PAYMENT_METHODS_TABLE} FINAL WHERE workspace_id = {{ws:String}} "
            "AND customer IS NOT NULL",
            ws=workspace_id,
        )
        live = {card["customer"] for card in listed.values()}
        # Each live customer has exactly its current default card attached in raw.
        assert {row["id"]: row["customer"] for row in attached if row["customer"] in live} == {
            card_id: card["customer"] for card_id, card in listed.items()
        }


@pytest.mark.usefixtures("stripe_loaded")
def test_referenced_customers_deleted_before_the_first_load_land_as_deleted_stubs(
    world: World, server: SimulatorServer
) -> None:
    """Lists omit deleted customers and the first load reads no events, so a customer deleted before it
    is seen only through the objects naming it: the first load retrieves exactly those (Stripe's
    deleted stub), and a second load, knowing them, retrieves no customer."""
    references = ("invoices", "charges", "payment_intents", "subscriptions", "promotion_codes")
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id)
        named = {obj.get("customer") for resource in references for obj in truth.objects[resource]}
        expected = truth.deleted_ids["customers"] & named
        assert expected, f"{workspace.id}: the world must hold invoices of a deleted customer"
        rows = query(
            "SELECT id, name, created FROM raw.stripe_customers FINAL "
            "WHERE workspace_id = {ws:String} AND deleted",
            ws=workspace.id,
        )
        assert {row["id"] for row in rows} == expected, workspace.id
        # All a retrieve answers for a deleted customer is the stub: no name, no creation time.
        assert all(row["name"] is None and row["created"] is None for row in rows), workspace.id
    server.stats.reset()
    load_stripe(world, server)
    retrieves = {ws.id: server.stats.requests[ws.id, "GET /v1/customers/{id}"] for ws in world.workspaces}
    assert retrieves == dict.fromkeys(retrieves, 0)
