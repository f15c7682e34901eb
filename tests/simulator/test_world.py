"""The world: determinism, the clock, and the ground truth it reports."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from revops_simulator import Faults, GroundTruth, World
from revops_simulator.stripe import templates
from tests.contract.contracts import REFERENCE
from tests.contract.stripe_models import StripeSchema, model_class
from tests.simulator.conftest import AS_OF

RESOURCE_OBJECTS = {
    "customers": "customer",
    "payment_methods": "payment_method",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "subscription_items": "subscription_item",
    "invoices": "invoice",
    "invoice_line_items": "line_item",
    "invoice_payments": "invoice_payment",
    "charges": "charge",
    "payment_intents": "payment_intent",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "balance_transactions": "balance_transaction",
    "events": "event",
}


def _dump(truth: GroundTruth) -> str:
    return json.dumps({"balance": truth.balance, "objects": truth.objects}, sort_keys=True)


def test_same_inputs_give_the_same_world_and_another_seed_another(world: World) -> None:
    again = World(seed=42, as_of=AS_OF, scale=0.1)
    other = World(seed=43, as_of=AS_OF, scale=0.1)
    for workspace in world.workspaces:
        truth = _dump(world.ground_truth(workspace.id, Faults()))
        assert _dump(again.ground_truth(workspace.id, Faults())) == truth
        assert _dump(other.ground_truth(workspace.id, Faults())) != truth
    assert [w.stripe_api_key for w in again.workspaces] == [w.stripe_api_key for w in world.workspaces]
    assert [w.stripe_api_key for w in other.workspaces] != [w.stripe_api_key for w in world.workspaces]


def test_workspaces(world: World) -> None:
    assert [(w.id, w.name, w.settlement_currency) for w in world.workspaces] == [
        ("acme", "Acme Analytics", "usd"),
        ("globex", "Globex Cloud", "gbp"),
    ]
    assert world.workspaces[0].currencies == ("usd", "eur")
    assert world.workspaces[1].currencies == ("gbp", "usd")
    keys = [w.stripe_api_key for w in world.workspaces]
    assert all(key.startswith("sk_test_") for key in keys) and len(set(keys)) == 2


def test_the_clock_is_the_end_of_the_as_of_day(world: World) -> None:
    assert world.now == datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC)
    assert world.as_of == AS_OF


def test_advancing_equals_building_at_the_later_date() -> None:
    advanced = World(seed=5, as_of=date(2026, 9, 20), scale=0.1)
    advanced.advance_to(date(2026, 10, 4))
    built = World(seed=5, as_of=date(2026, 10, 4), scale=0.1)
    assert advanced.now == built.now
    for workspace in built.workspaces:
        assert _dump(advanced.ground_truth(workspace.id, Faults())) == _dump(
            built.ground_truth(workspace.id, Faults())
        )


def test_the_clock_only_moves_forward(world: World) -> None:
    with pytest.raises(ValueError, match="forward"):
        World(seed=42, as_of=AS_OF, scale=0.1).advance_to(AS_OF - timedelta(days=1))


def test_objects_appear_and_change_as_the_clock_advances() -> None:
    world = World(seed=42, as_of=date(2026, 10, 1), scale=0.2)
    before = {w.id: world.ground_truth(w.id, Faults()) for w in world.workspaces}
    world.advance_to(date(2026, 10, 15))
    after = {w.id: world.ground_truth(w.id, Faults()) for w in world.workspaces}
    later = int(world.now.timestamp())
    became_available = 0
    for workspace, then in before.items():
        now = after[workspace]
        for resource, objects in then.objects.items():
            if resource == "events":
                continue
            assert {obj["id"] for obj in objects} <= {obj["id"] for obj in now.objects[resource]}, resource
            if resource in (
                "customers",
                "subscriptions",
                "invoices",
                "charges",
                "payouts",
                "balance_transactions",
            ):
                assert len(now.objects[resource]) > len(objects), f"no new {resource}"
        assert all(obj["created"] <= later for obj in now.objects["charges"])
        # Things move on: subscriptions renew (new period, new latest invoice), funds become available.
        subscriptions = {sub["id"]: sub for sub in then.objects["subscriptions"]}
        assert any(sub != subscriptions.get(sub["id"], sub) for sub in now.objects["subscriptions"])
        pending = {t["id"] for t in then.objects["balance_transactions"] if t["status"] == "pending"}
        became_available += sum(
            1
            for t in now.objects["balance_transactions"]
            if t["id"] in pending and t["status"] == "available"
        )
        # Events of the overlapping window are the same events.
        events = {event["id"]: event for event in now.objects["events"]}
        overlap = [event for event in then.objects["events"] if event["id"] in events]
        assert overlap and all(event == events[event["id"]] for event in overlap)
    assert became_available


def test_ground_truth_objects_carry_every_fixture_key(acme: GroundTruth) -> None:
    for resource, object_type in RESOURCE_OBJECTS.items():
        assert acme.objects[resource], f"no {resource}"
        expected = set(templates.keys(object_type))
        for obj in acme.objects[resource]:
            assert set(obj) == expected, (resource, obj["id"])
            assert obj.get("object", object_type) == object_type


def test_vendored_fixtures_match_stripe_reference() -> None:
    """The simulator renders each object onto the keys of Stripe's own example object
    (tests/reference/stripe/fixture_keys.json, from Stripe's OpenAPI fixtures), in Stripe's order,
    less any key the pinned API version no longer has (its SDK model does not declare it: the
    invoice's `subscription`, which 2025-03-31.basil moved under `parent`)."""
    reference = json.loads((REFERENCE / "stripe" / "fixture_keys.json").read_text())["fixture_keys"]
    for object_type in RESOURCE_OBJECTS.values():
        declared = StripeSchema()
        cls = model_class(object_type)
        declared.reference(cls)
        pinned = tuple(key for key in reference[object_type] if key in declared.fields[cls.__qualname__])
        assert templates.keys(object_type) == pinned, object_type
    assert "subscription" in reference["invoice"] and "subscription" not in templates.keys("invoice")


def test_balance_is_the_sum_of_balance_transaction_nets(world: World) -> None:
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id, Faults())
        now = int(truth.now.timestamp())
        transactions = truth.objects["balance_transactions"]
        available = sum(t["net"] for t in transactions if t["available_on"] <= now)
        pending = sum(t["net"] for t in transactions if t["available_on"] > now)
        assert truth.balance == {workspace.settlement_currency: {"available": available, "pending": pending}}
        assert all(
            t["status"] == ("available" if t["available_on"] <= now else "pending") for t in transactions
        )


def test_events_reach_back_thirty_days(acme: GroundTruth) -> None:
    now = int(acme.now.timestamp())
    created = [event["created"] for event in acme.objects["events"]]
    assert created == sorted(created, reverse=True)
    assert min(created) > now - 30 * 86_400 and max(created) <= now


def test_malformed_ids_follow_the_faults(world: World) -> None:
    faults = Faults(malformed={"charges": 2, "customers": 1}, seed=9)
    truth = world.ground_truth("acme", faults)
    assert {resource: len(ids) for resource, ids in truth.malformed_ids.items()} == {
        "charges": 2,
        "customers": 1,
    }
    assert truth.malformed_ids == world.ground_truth("acme", faults).malformed_ids
    assert world.ground_truth("acme", Faults()).malformed_ids == {}


def test_every_change_is_announced_by_an_event() -> None:
    """Event-driven syncs can stay exact: what changes between two clocks has an event in between.

    Except where Stripe itself is silent: balance transactions becoming available, an invoice
    payment canceled with its voided invoice, a price archived while subscriptions embed it, and
    coupons and promotion codes counting their redemptions.
    """
    world = World(seed=11, as_of=date(2026, 4, 22), scale=0.3)
    before = {w.id: world.ground_truth(w.id, Faults()) for w in world.workspaces}
    silent: set[tuple[str, tuple[str, ...]]] = set()
    for _ in range(5):
        world.advance_to(world.as_of + timedelta(days=3))
        after = {w.id: world.ground_truth(w.id, Faults()) for w in world.workspaces}
        for workspace, then in before.items():
            since = then.now.timestamp()
            announced = {
                e["data"]["object"]["id"] for e in after[workspace].objects["events"] if e["created"] > since
            }
            for resource, objects in after[workspace].objects.items():
                previous = {obj["id"]: obj for obj in then.objects[resource]}
                for obj in objects:
                    old = previous.get(obj["id"], obj)
                    owner = obj["subscription"] if resource == "subscription_items" else obj["id"]
                    if old != obj and owner not in announced:
                        silent.add((resource, tuple(sorted(key for key in obj if obj[key] != old.get(key)))))
        before = after
    assert silent <= {
        ("balance_transactions", ("status",)),
        ("invoice_payments", ("status", "status_transitions")),
        ("subscriptions", ("items",)),
        ("subscription_items", ("plan", "price")),
        ("coupons", ("times_redeemed",)),
        ("promotion_codes", ("times_redeemed",)),
    }
    assert ("subscriptions", ("items",)) in silent, "the price increase should fall in this window"


def test_before_the_founding_there_is_nothing() -> None:
    world = World(seed=42, as_of=date(2025, 6, 1), scale=0.1)
    truth = world.ground_truth("acme")
    assert all(not objects for objects in truth.objects.values())
    assert truth.balance == {"usd": {"available": 0, "pending": 0}}
