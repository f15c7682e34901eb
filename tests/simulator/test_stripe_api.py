"""The Stripe API over HTTP and through the real `stripe` SDK: shapes, list semantics, errors."""

from __future__ import annotations

import base64
import http.client
import json
from collections import Counter
from datetime import date
from typing import Any

import pytest
import stripe

from revops_simulator import Faults, GroundTruth, SimulatorServer, World
from revops_simulator.registry import simulator_registry
from revops_simulator.stripe import templates
from tests.simulator.conftest import call
from tests.simulator.test_world import RESOURCE_OBJECTS

LISTED = [
    resource for resource in RESOURCE_OBJECTS if resource not in ("subscription_items", "invoice_line_items")
]


def _client(server: SimulatorServer, workspace: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        server.world.workspaces[workspace].stripe_api_key,
        base_addresses={"api": server.stripe_base_url},
        max_network_retries=0,
    )


def _walk(server: SimulatorServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every object of a list, page by page with `starting_after`."""
    objects: list[dict[str, Any]] = []
    while True:
        page = call(server, path, params).json()
        objects += page["data"]
        if not page["has_more"]:
            return objects
        params["starting_after"] = page["data"][-1]["id"]


@pytest.mark.parametrize("resource", LISTED)
def test_served_objects_carry_every_fixture_key(server: SimulatorServer, resource: str) -> None:
    page = call(server, f"/v1/{resource}", {"limit": 100}).json()
    assert page["object"] == "list" and page["url"] == f"/v1/{resource}" and page["data"]
    expected = set(templates.keys(RESOURCE_OBJECTS[resource]))
    assert all(set(obj) >= expected for obj in page["data"])
    one = call(server, f"/v1/{resource}/{page['data'][0]['id']}").json()
    assert one == page["data"][0]


def test_same_requests_get_identical_responses(server: SimulatorServer) -> None:
    other = World(seed=42, as_of=server.world.as_of, scale=0.1)
    with SimulatorServer(other) as twin:
        for path in ("/v1/invoices", "/v1/charges", "/v1/events", "/v1/balance_transactions"):
            assert call(server, path, {"limit": 50}).body == call(twin, path, {"limit": 50}).body


def test_pagination_walks_the_list_newest_first(server: SimulatorServer, acme: GroundTruth) -> None:
    customers = _walk(server, "/v1/customers", limit=7)
    assert [c["id"] for c in customers] == [c["id"] for c in acme.objects["customers"]]
    keys = [(c["created"], c["id"]) for c in customers]
    assert keys == sorted(keys, reverse=True)


def test_ending_before_returns_the_page_before(server: SimulatorServer, acme: GroundTruth) -> None:
    ids = [invoice["id"] for invoice in acme.objects["invoices"]]
    page = call(server, "/v1/invoices", {"limit": 3, "ending_before": ids[5]}).json()
    assert [invoice["id"] for invoice in page["data"]] == ids[2:5] and page["has_more"]
    first = call(server, "/v1/invoices", {"limit": 10, "ending_before": ids[2]}).json()
    assert [invoice["id"] for invoice in first["data"]] == ids[:2] and not first["has_more"]


def test_created_filters(server: SimulatorServer, acme: GroundTruth) -> None:
    charges = acme.objects["charges"]
    middle = charges[len(charges) // 2]["created"]
    since = _walk(server, "/v1/charges", limit=100, **{"created[gte]": middle})
    assert [c["id"] for c in since] == [c["id"] for c in charges if c["created"] >= middle]
    window = call(
        server, "/v1/charges", {"created[gt]": middle - 86_400, "created[lt]": middle, "limit": 100}
    )
    assert all(middle - 86_400 < c["created"] < middle for c in window.json()["data"])
    exact = call(server, "/v1/charges", {"created": middle}).json()["data"]
    assert exact and all(c["created"] == middle for c in exact)


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"limit": 101}, "limit", "less than or equal to 100"),
        ({"limit": "ten"}, "limit", "Invalid integer"),
        ({"colour": "red"}, "colour", "Received unknown parameter: colour"),
        ({"created[after]": 1}, "created[after]", "unknown parameter"),
        ({"starting_after": "cus_doesnotexist"}, "starting_after", "No such customer"),
    ],
)
def test_bad_list_parameters_are_400s_naming_the_parameter(
    server: SimulatorServer, params: dict[str, Any], param: str, message: str
) -> None:
    response = call(server, "/v1/customers", params)
    assert response.status == 400
    error = response.json()["error"]
    assert (
        error["type"] == "invalid_request_error" and error["param"] == param and message in error["message"]
    )


def test_unknown_ids_and_urls_are_404s(server: SimulatorServer) -> None:
    missing = call(server, "/v1/charges/ch_nope")
    assert missing.status == 404
    assert missing.json()["error"] == {
        "message": "No such charge: 'ch_nope'",
        "type": "invalid_request_error",
        "param": "id",
        "code": "resource_missing",
        "doc_url": "https://docs.stripe.com/error-codes/resource-missing",
    }
    assert call(server, "/v1/widgets").status == 404
    with pytest.raises(stripe.InvalidRequestError) as raised:
        _client(server).v1.customers.retrieve("cus_nope")
    assert raised.value.http_status == 404


def test_subscriptions_leave_out_canceled_unless_asked(server: SimulatorServer, acme: GroundTruth) -> None:
    everything = acme.objects["subscriptions"]
    statuses = Counter(sub["status"] for sub in everything)
    assert statuses["canceled"] and statuses["active"]
    default = _walk(server, "/v1/subscriptions", limit=100)
    assert len(default) == len(everything) - statuses["canceled"]
    assert all(sub["status"] != "canceled" for sub in default)
    assert len(_walk(server, "/v1/subscriptions", limit=100, status="all")) == len(everything)
    canceled = _walk(server, "/v1/subscriptions", limit=100, status="canceled")
    assert len(canceled) == statuses["canceled"]
    assert call(server, "/v1/subscriptions", {"status": "sleepy"}).status == 400


def test_events_filter_by_type_with_wildcards(server: SimulatorServer, acme: GroundTruth) -> None:
    events = acme.objects["events"]
    invoice_events = _walk(server, "/v1/events", limit=100, **{"types[]": ["invoice.*", "customer.created"]})
    expected = [
        e["id"] for e in events if e["type"].startswith("invoice.") or e["type"] == "customer.created"
    ]
    assert [e["id"] for e in invoice_events] == expected and expected
    created = call(server, "/v1/events", {"type": "customer.created", "limit": 100}).json()["data"]
    assert created and {e["type"] for e in created} == {"customer.created"}
    both = call(server, "/v1/events", {"type": "invoice.paid", "types[]": "invoice.paid"})
    assert both.status == 400


def test_events_older_than_thirty_days_are_gone(server: SimulatorServer, acme: GroundTruth) -> None:
    served = _walk(server, "/v1/events", limit=100)
    assert [e["id"] for e in served] == [e["id"] for e in acme.objects["events"]]
    old_change = next(e for e in acme.objects["charges"] if e["created"] < served[-1]["created"] - 86_400)
    assert not any(e["data"]["object"]["id"] == old_change["id"] for e in served)


def test_event_snapshots_and_previous_attributes(acme: GroundTruth) -> None:
    events = acme.objects["events"]
    updates = [e for e in events if e["type"].endswith(".updated")]
    assert updates and all(e["data"]["previous_attributes"] for e in updates)
    assert all("previous_attributes" not in e["data"] for e in events if not e["type"].endswith(".updated"))
    prefixes = {"customer.subscription": "subscription", "charge.dispute": "dispute"}
    for event in events:
        family = event["type"].rsplit(".", 1)[0]
        assert event["data"]["object"]["object"] == prefixes.get(family, family)
        assert event["data"]["object"].get("created", event["created"]) <= event["created"]


def test_list_filters(server: SimulatorServer, acme: GroundTruth) -> None:
    invoice = next(i for i in acme.objects["invoices"] if i["attempt_count"] > 1)
    customer = invoice["customer"]
    by_customer = _walk(server, "/v1/invoices", limit=100, customer=customer)
    assert by_customer and {i["customer"] for i in by_customer} == {customer}
    payment_intent = next(
        p["payment"]["payment_intent"]
        for p in acme.objects["invoice_payments"]
        if p["invoice"] == invoice["id"]
    )
    attempts = call(server, "/v1/charges", {"payment_intent": payment_intent}).json()["data"]
    assert len(attempts) == invoice["attempt_count"]
    payments = call(server, "/v1/invoice_payments", {"invoice": invoice["id"]}).json()["data"]
    assert [p["payment"]["payment_intent"] for p in payments] == [payment_intent]
    paid = _walk(server, "/v1/invoices", limit=100, status="paid")
    assert paid and {i["status"] for i in paid} == {"paid"}
    by_subscription = call(
        server, "/v1/invoices", {"subscription": invoice["parent"]["subscription_details"]["subscription"]}
    )
    assert invoice["id"] in {i["id"] for i in by_subscription.json()["data"]}


def test_balance_transactions_of_a_payout_reconcile(server: SimulatorServer, acme: GroundTruth) -> None:
    payout = next(p for p in acme.objects["payouts"] if p["status"] == "paid")
    swept = _walk(server, "/v1/balance_transactions", limit=100, payout=payout["id"])
    assert payout["balance_transaction"] in {t["id"] for t in swept}
    assert sum(t["net"] for t in swept) == 0
    charges = call(server, "/v1/balance_transactions", {"type": "charge", "limit": 100}).json()["data"]
    assert charges and {t["type"] for t in charges} == {"charge"}
    source = charges[0]["source"]
    assert [
        t["source"] for t in call(server, "/v1/balance_transactions", {"source": source}).json()["data"]
    ] == [source]


def test_embedded_lists_and_their_endpoints(server: SimulatorServer, acme: GroundTruth) -> None:
    subscription = acme.objects["subscriptions"][0]
    items = subscription["items"]
    assert items["url"] == f"/v1/subscription_items?subscription={subscription['id']}"
    assert items["data"][0]["price"]["object"] == "price"
    served = call(server, "/v1/subscription_items", {"subscription": subscription["id"]}).json()
    assert served["data"] == items["data"] and served["url"] == items["url"]
    assert call(server, "/v1/subscription_items").json()["error"]["param"] == "subscription"
    invoice = max(acme.objects["invoices"], key=lambda i: len(i["lines"]["data"]))
    lines = [line for line in acme.objects["invoice_line_items"] if line["invoice"] == invoice["id"]]
    page = call(server, f"/v1/invoices/{invoice['id']}/lines", {"limit": 1}).json()
    assert page["url"] == invoice["lines"]["url"] and page["data"] == lines[:1]
    assert page["has_more"] == (len(lines) > 1)
    assert _walk(server, f"/v1/invoices/{invoice['id']}/lines", limit=1) == lines


def test_expand_replaces_ids_with_objects(server: SimulatorServer) -> None:
    page = call(
        server, "/v1/charges", {"expand[]": ["data.balance_transaction", "data.customer"], "limit": 20}
    )
    charges = page.json()["data"]
    succeeded = [c for c in charges if c["status"] == "succeeded"]
    assert succeeded and all(c["balance_transaction"]["object"] == "balance_transaction" for c in succeeded)
    assert all(c["customer"]["object"] == "customer" for c in charges)
    invoice = call(server, "/v1/invoices", {"limit": 1}).json()["data"][0]
    expanded = call(server, f"/v1/invoices/{invoice['id']}", {"expand[]": "customer"}).json()
    assert expanded["customer"]["id"] == invoice["customer"]
    # The cached object itself is untouched by expansion.
    assert call(server, f"/v1/invoices/{invoice['id']}").json() == invoice


def test_price_tiers_are_included_only_when_asked_for(server: SimulatorServer) -> None:
    plain = call(server, "/v1/prices", {"limit": 100}).json()["data"]
    tiered = [price for price in plain if price["billing_scheme"] == "tiered"]
    assert tiered and all("tiers" not in price for price in plain)
    expanded = call(server, "/v1/prices", {"expand[]": "data.tiers", "limit": 100}).json()["data"]
    assert all(price["tiers"] for price in expanded if price["billing_scheme"] == "tiered")
    assert all(price["tiers"] is None for price in expanded if price["billing_scheme"] == "per_unit")
    one = call(server, f"/v1/prices/{tiered[0]['id']}", {"expand[]": "tiers"}).json()
    assert one["tiers"][0]["up_to"] is not None and one["tiers"][-1]["up_to"] is None


def test_missing_or_unknown_keys_are_401s(server: SimulatorServer) -> None:
    unknown = call(server, "/v1/customers", key="sk_test_thisisnotarealkeywxyz")
    assert unknown.status == 401
    assert unknown.json() == {
        "error": {"message": "Invalid API Key provided: sk_test_****wxyz", "type": "invalid_request_error"}
    }
    missing = call(server, "/v1/customers", key="")
    assert missing.status == 401 and missing.json()["error"]["type"] == "invalid_request_error"
    client = stripe.StripeClient(
        "sk_test_nope", base_addresses={"api": server.stripe_base_url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        client.v1.customers.list()


def test_a_rolled_key_is_refused_like_an_unknown_one(server: SimulatorServer) -> None:
    rolled = server.world.workspaces[0]
    server.faults = Faults(stripe_keys_rolled=frozenset({rolled.id}))
    refused = call(server, "/v1/customers")
    assert refused.status == 401
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("Invalid API Key provided: ")
    assert error["message"].endswith(f"****{rolled.stripe_api_key[-4:]}")
    assert call(server, "/v1/customers", workspace=1).status == 200


def test_basic_auth_and_workspace_isolation(server: SimulatorServer) -> None:
    key = server.world.workspaces[1].stripe_api_key
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    token = base64.b64encode(f"{key}:".encode()).decode()
    connection.request("GET", "/stripe/v1/charges?limit=5", headers={"Authorization": f"Basic {token}"})
    charges = json.loads(connection.getresponse().read())["data"]
    connection.close()
    assert charges and all(c["currency"] in ("gbp", "usd") for c in charges)
    assert call(server, f"/v1/charges/{charges[0]['id']}").status == 404
    assert call(server, f"/v1/charges/{charges[0]['id']}", workspace=1).status == 200


def test_response_headers(server: SimulatorServer) -> None:
    response = call(server, "/v1/products")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"].startswith("2026-10-28")
    assert int(response.headers["content-length"]) == len(response.body)


def test_the_stripe_sdk_reads_the_simulator(server: SimulatorServer, acme: GroundTruth) -> None:
    client = _client(server)
    customers = client.v1.customers.list(params={"limit": 5})
    assert [c.id for c in customers.data] == [c["id"] for c in acme.objects["customers"][:5]]
    assert customers.has_more
    subscriptions = list(
        client.v1.subscriptions.list(params={"status": "all", "limit": 10}).auto_paging_iter()
    )
    assert len(subscriptions) == len(acme.objects["subscriptions"])
    charge = client.v1.charges.retrieve(
        acme.objects["charges"][0]["id"], params={"expand": ["balance_transaction"]}
    )
    assert charge.id == acme.objects["charges"][0]["id"]
    events = client.v1.events.list(params={"types": ["charge.*"], "limit": 100})
    assert all(event.type.startswith("charge.") for event in events.data)


def test_statistics_count_requests_and_objects(server: SimulatorServer) -> None:
    call(server, "/v1/charges", {"limit": 7})
    call(server, "/v1/charges", {"limit": 3})
    charge = call(server, "/v1/charges", {"limit": 1}).json()["data"][0]
    call(server, f"/v1/charges/{charge['id']}")
    call(server, "/v1/customers", key="sk_test_wrong")
    assert server.stats.requests[("acme", "GET /v1/charges")] == 3
    assert server.stats.requests[("acme", "GET /v1/charges/{id}")] == 1
    assert server.stats.objects_served[("acme", "charges")] == 12
    assert sum(count for (workspace, _), count in server.stats.requests.items() if workspace == "acme") == 4
    server.stats.reset()
    assert not server.stats.requests and not server.stats.objects_served


def test_faults_do_not_leak_into_truth_objects(server: SimulatorServer, world: World) -> None:
    server.faults = Faults(malformed={"charges": 3}, seed=2)
    assert world.ground_truth("acme").malformed_ids["charges"]
    assert world.ground_truth("acme").objects == world.ground_truth("acme", Faults()).objects


def test_the_clock_can_advance_while_serving() -> None:
    world = World(seed=42, as_of=date(2026, 10, 1), scale=0.1)
    with SimulatorServer(world) as server:
        before = call(server, "/v1/events", {"limit": 1}).json()["data"][0]
        world.advance_to(date(2026, 10, 20))
        after = call(server, "/v1/events", {"limit": 1}).json()["data"][0]
        assert after["created"] > before["created"]
        assert after["created"] <= world.now.timestamp()


def test_the_demo_registry_points_at_the_server(server: SimulatorServer) -> None:
    registry = simulator_registry(server.world, server)
    assert [w.id for w in registry.workspaces] == ["acme", "globex"]
    stripe_account = registry.workspaces[0].account("stripe")
    assert stripe_account is not None and stripe_account.api_base == server.stripe_base_url
    assert stripe_account.api_key is not None
    assert stripe_account.api_key.get_secret_value() == server.world.workspaces[0].stripe_api_key
