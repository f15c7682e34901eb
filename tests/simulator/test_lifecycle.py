"""Customers' cards and deletions in the simulated Stripe accounts (business/lifecycle.py)."""

from __future__ import annotations

from datetime import date, timedelta

import stripe

from revops_simulator import Faults, GroundTruth, SimulatorServer, World
from revops_simulator.business.clock import DAY
from tests.simulator.conftest import call


def test_every_behaviour_in_both_workspaces_at_realistic_rates(big_truths: dict[str, GroundTruth]) -> None:
    for workspace_id, truth in big_truths.items():
        customers = truth.objects["customers"]
        deleted = truth.deleted_ids["customers"]
        ended = {s["customer"] for s in truth.objects["subscriptions"] if s["ended_at"] is not None}
        # Some churned customers are deleted, never a customer with a live subscription.
        live = {s["customer"] for s in truth.objects["subscriptions"] if s["ended_at"] is None}
        assert 0.05 * len(ended) <= len(deleted) <= 0.35 * len(ended), workspace_id
        assert not deleted & live
        assert not deleted & {c["id"] for c in customers}
        # A replaced card is detached (its customer nulled) and no longer listed.
        detached = truth.lifecycle["detached_payment_methods"]
        assert 0 < len(detached) < 0.2 * len(customers), workspace_id
        cards = truth.objects["payment_methods"]
        assert not detached & {card["id"] for card in cards}
        # Every live customer's default payment method is its one attached card.
        defaults = {c["id"]: c["invoice_settings"]["default_payment_method"] for c in customers}
        assert {card["customer"]: card["id"] for card in cards} == defaults
        assert len(cards) == len(customers)


def test_some_cards_expire_within_30_days_of_the_clock(big_truths: dict[str, GroundTruth]) -> None:
    for workspace_id, truth in big_truths.items():
        horizon = (truth.now + timedelta(days=30)).date()
        # A card works through the last day of its expiry month.
        expiring = [
            card
            for card in truth.objects["payment_methods"]
            if truth.now.date().replace(day=1)
            <= date(card["card"]["exp_year"], card["card"]["exp_month"], 1)
            <= horizon
        ]
        assert expiring, workspace_id
        for card in truth.objects["payment_methods"]:
            details = card["card"]
            assert details["brand"] in ("visa", "mastercard", "amex") and len(details["last4"]) == 4
            assert 1 <= details["exp_month"] <= 12


def _deleted_world() -> tuple[World, str, str]:
    """A world (seed 7) whose last days deleted a customer: the world, the workspace, the customer."""
    world = World(seed=7, as_of=date(2026, 11, 13), scale=0.1)
    for workspace in world.workspaces:
        truth = world.ground_truth(workspace.id, Faults())
        recent = truth.now.timestamp() - 7 * DAY
        for event in truth.objects["events"]:
            if event["type"] == "customer.deleted" and event["created"] > recent:
                return world, workspace.id, event["data"]["object"]["id"]
    raise AssertionError("no customer deleted in the last week")


def test_deleted_customer_is_a_stub_omitted_from_lists_with_its_last_state_in_the_event() -> None:
    world, workspace_id, customer_id = _deleted_world()
    index = [ws.id for ws in world.workspaces].index(workspace_id)
    with SimulatorServer(world) as server:
        retrieved = call(server, f"/v1/customers/{customer_id}", workspace=index)
        assert retrieved.status == 200
        assert retrieved.json() == {"id": customer_id, "object": "customer", "deleted": True}
        client = stripe.StripeClient(
            world.workspaces[index].stripe_api_key,
            base_addresses={"api": server.stripe_base_url},
            max_network_retries=0,
        )
        # The SDK reads it as Stripe's deleted customer.
        assert client.customers.retrieve(customer_id).deleted is True
        listed = [
            c["id"] for c in call(server, "/v1/customers", {"limit": 100}, workspace=index).json()["data"]
        ]
        assert customer_id not in listed
        cards = call(server, f"/v1/customers/{customer_id}/payment_methods", workspace=index)
        assert cards.status == 404 and cards.json()["error"]["code"] == "resource_missing"
        events = call(
            server, "/v1/events", {"type": "customer.deleted", "limit": 100}, workspace=index
        ).json()
        (event,) = [e for e in events["data"] if e["data"]["object"]["id"] == customer_id]
        last_state = event["data"]["object"]
        assert last_state["object"] == "customer" and last_state["name"] and last_state["created"]
        # Its invoices are still there, naming it.
        invoices = call(server, "/v1/invoices", {"customer": customer_id}, workspace=index).json()["data"]
        assert invoices and all(invoice["customer"] == customer_id for invoice in invoices)


def test_customer_cards_are_listed_per_customer_and_a_detached_one_retrievable(
    server: SimulatorServer, acme: GroundTruth
) -> None:
    for customer in acme.objects["customers"][:5]:
        page = call(server, f"/v1/customers/{customer['id']}/payment_methods").json()
        assert page["url"] == f"/v1/customers/{customer['id']}/payment_methods"
        assert [card["id"] for card in page["data"]] == [
            customer["invoice_settings"]["default_payment_method"]
        ]
        assert page["data"][0]["customer"] == customer["id"]
    (detached, *_) = sorted(acme.lifecycle["detached_payment_methods"])
    card = call(server, f"/v1/payment_methods/{detached}").json()
    assert card["object"] == "payment_method" and card["customer"] is None
    events = call(server, "/v1/events", {"types[]": ["payment_method.attached", "payment_method.detached"]})
    assert events.status == 200


def test_lifecycle_is_deterministic() -> None:
    one, two = (World(seed=42, as_of=date(2026, 11, 1), scale=0.1) for _ in range(2))
    for workspace in one.workspaces:
        a, b = one.ground_truth(workspace.id, Faults()), two.ground_truth(workspace.id, Faults())
        assert a.deleted_ids == b.deleted_ids and a.lifecycle == b.lifecycle
        assert a.objects["payment_methods"] == b.objects["payment_methods"]


def test_returning_customers_have_a_second_subscription_after_a_gap(
    big_truths: dict[str, GroundTruth],
) -> None:
    for workspace_id, truth in big_truths.items():
        returning = truth.lifecycle["returning_customers"]
        assert returning, workspace_id
        assert not returning & truth.deleted_ids["customers"]
        for customer_id in returning:
            first, second = sorted(
                (s for s in truth.objects["subscriptions"] if s["customer"] == customer_id),
                key=lambda s: s["created"],
            )
            # The same customer subscribes again at least three weeks after the first one ended.
            assert first["ended_at"] is not None and second["created"] - first["ended_at"] >= 21 * DAY
            assert second["id"] != first["id"] and second["currency"] == first["currency"]


def test_deleted_drafts_and_archives_in_both_workspaces_at_realistic_rates(
    big_truths: dict[str, GroundTruth],
) -> None:
    for workspace_id, truth in big_truths.items():
        # A few customers in a hundred get a one-off draft the merchant deletes (one in ten in its first
        # year, while subscribed: many have not had their year yet); none is listed.
        deleted = truth.deleted_ids["invoices"]
        customers = len(truth.objects["customers"]) + len(truth.deleted_ids["customers"])
        assert 0.015 * customers <= len(deleted) <= 0.15 * customers, (workspace_id, len(deleted))
        assert not deleted & {invoice["id"] for invoice in truth.objects["invoices"]}
        assert truth.lifecycle["deleted_invoice_lines"]
        # Archived products and prices stay listed, `active: false`; every other one is active.
        for resource in ("products", "prices"):
            archived = truth.archived_ids[resource]
            assert archived, (workspace_id, resource)
            assert {obj["id"] for obj in truth.objects[resource] if not obj["active"]} == archived
        # The discontinued add-on's prices went with it; the repricing retired the old monthly ones.
        (add_on,) = truth.archived_ids["products"]
        add_on_prices = {p["id"] for p in truth.objects["prices"] if p["product"] == add_on}
        assert add_on_prices < truth.archived_ids["prices"]


def _client(world: World, server: SimulatorServer, index: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        world.workspaces[index].stripe_api_key,
        base_addresses={"api": server.stripe_base_url},
        max_network_retries=0,
    )


def test_archived_product_and_prices_are_listed_retrievable_and_announced_as_updates() -> None:
    # Globex (seed 7) discontinues its Priority support add-on on 2026-07-21.
    world = World(seed=7, as_of=date(2026, 7, 22), scale=0.1)
    index = [ws.id for ws in world.workspaces].index("globex")
    truth = world.ground_truth("globex", Faults())
    (product_id,) = truth.archived_ids["products"]
    prices = {p["id"] for p in truth.objects["prices"] if p["product"] == product_id}
    assert prices and prices <= truth.archived_ids["prices"]
    with SimulatorServer(world) as server:
        # Lists include inactive objects unless `active=true` is asked for.
        listed = call(server, "/v1/products", {"limit": 100}, workspace=index).json()["data"]
        assert {p["id"]: p["active"] for p in listed}[product_id] is False
        active = call(server, "/v1/products", {"limit": 100, "active": "true"}, workspace=index).json()
        assert product_id not in {p["id"] for p in active["data"]} and active["data"]
        inactive = call(server, "/v1/prices", {"limit": 100, "active": "false"}, workspace=index).json()
        assert prices <= {p["id"] for p in inactive["data"]}
        client = _client(world, server, index)
        assert client.v1.products.retrieve(product_id).active is False
        assert all(client.v1.prices.retrieve(price_id).active is False for price_id in prices)
        events = call(
            server,
            "/v1/events",
            {"types[]": ["product.updated", "price.updated"], "limit": 100},
            workspace=index,
        ).json()["data"]
    archived = {e["data"]["object"]["id"]: e for e in events if e["data"]["object"]["active"] is False}
    assert prices | {product_id} <= set(archived)
    for price_id in prices:
        assert archived[price_id]["data"]["previous_attributes"] == {"active": True}
    product_event = archived[product_id]
    assert product_event["data"]["previous_attributes"]["active"] is True
    # The merchant archived the prices first (Stripe keeps a product's prices archivable before it).
    assert max(archived[p]["created"] for p in prices) < product_event["created"]


def test_deleted_draft_is_listed_until_deleted_then_a_stub_with_its_draft_in_the_event() -> None:
    # Acme (seed 7) drafts a one-off invoice on 2026-07-10 and deletes it on 2026-07-20.
    world = World(seed=7, as_of=date(2026, 7, 15), scale=0.1)
    index = [ws.id for ws in world.workspaces].index("acme")
    drafts = [
        invoice
        for invoice in world.ground_truth("acme", Faults()).objects["invoices"]
        if invoice["parent"] is None
    ]
    (draft,) = drafts
    assert draft["status"] == "draft" and draft["number"] is None and draft["billing_reason"] == "manual"
    assert draft["auto_advance"] is False  # a one-off draft waits for the merchant
    line_ids = {line["id"] for line in draft["lines"]["data"]}
    with SimulatorServer(world) as server:
        assert call(server, f"/v1/invoices/{draft['id']}", workspace=index).json() == draft
        world.advance_to(date(2026, 7, 21))
        truth = world.ground_truth("acme", Faults())
        assert truth.deleted_ids["invoices"] == {draft["id"]}
        assert truth.lifecycle["deleted_invoice_lines"] == line_ids
        retrieved = call(server, f"/v1/invoices/{draft['id']}", workspace=index)
        assert retrieved.status == 200
        assert retrieved.json() == {"id": draft["id"], "object": "invoice", "deleted": True}
        assert _client(world, server, index).v1.invoices.retrieve(draft["id"]).deleted is True
        assert call(server, f"/v1/invoices/{draft['id']}/lines", workspace=index).status == 404
        for params in ({"limit": 100}, {"limit": 100, "status": "draft"}):
            pages = call(server, "/v1/invoices", params, workspace=index).json()
            assert draft["id"] not in {invoice["id"] for invoice in pages["data"]}
        events = call(server, "/v1/events", {"type": "invoice.deleted"}, workspace=index).json()["data"]
    (event,) = [e for e in events if e["data"]["object"]["id"] == draft["id"]]
    # The event carries the draft as it was, not the stub.
    assert event["data"]["object"]["status"] == "draft" and event["data"]["object"]["total"] == draft["total"]
    assert event["request"]["id"] is not None  # the merchant's request
    assert not line_ids & {line["id"] for line in truth.objects["invoice_line_items"]}
