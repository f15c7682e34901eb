"""Injected faults: rate limits, 5xx, truncated bodies, latency, malformed objects and new fields, on
Stripe and on the books APIs (QuickBooks Online, Xero)."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import stripe

from revops_simulator import Faults, SimulatorServer
from revops_simulator.faults import corrupt
from tests.simulator.conftest import call


def test_rate_limit_answers_429_with_a_retry_after(server: SimulatorServer) -> None:
    server.faults = Faults(rate_limit_per_s=5)
    responses = [call(server, "/v1/products") for _ in range(15)]
    limited = [response for response in responses if response.status == 429]
    assert limited and responses[0].status == 200
    error = limited[0].json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "rate_limit"
    assert error["message"].startswith("Request rate limit exceeded")
    assert 0 < float(limited[0].headers["retry-after"]) <= 0.2
    time.sleep(float(limited[-1].headers["retry-after"]))
    assert call(server, "/v1/products").status == 200
    # Each API key has its own bucket.
    assert call(server, "/v1/products", workspace=1).status == 200
    client = stripe.StripeClient(
        server.world.workspaces[0].stripe_api_key,
        base_addresses={"api": server.stripe_base_url},
        max_network_retries=0,
    )
    with pytest.raises(stripe.RateLimitError):
        for _ in range(15):
            client.v1.products.list()


def test_server_errors_at_the_configured_rate(server: SimulatorServer) -> None:
    server.faults = Faults(error_rate=0.3, seed=1)
    statuses = Counter(call(server, "/v1/customers", {"limit": 1}).status for _ in range(300))
    errors = statuses[500] + statuses[502] + statuses[503]
    assert errors + statuses[200] == 300
    assert 0.2 < errors / 300 < 0.4 and statuses[500] and statuses[502] and statuses[503]
    response = next(r for r in (call(server, "/v1/customers") for _ in range(50)) if r.status >= 500)
    assert response.json() == {"error": {"message": "An unknown error occurred", "type": "api_error"}}


def test_truncated_bodies_at_the_configured_rate(server: SimulatorServer) -> None:
    server.faults = Faults(truncate_rate=0.25, seed=4)
    truncated = 0
    for _ in range(200):
        response = call(server, "/v1/invoices", {"limit": 3})
        assert response.status == 200 and int(response.headers["content-length"]) == len(response.body)
        try:
            json.loads(response.body)
        except json.JSONDecodeError:
            truncated += 1
    assert 0.15 < truncated / 200 < 0.35


def test_latency(server: SimulatorServer) -> None:
    server.faults = Faults(latency_ms=60)
    started = time.perf_counter()
    assert call(server, "/v1/products").status == 200
    assert time.perf_counter() - started >= 0.06


def test_malformed_objects_are_always_served_corrupted(server: SimulatorServer) -> None:
    server.faults = Faults(malformed={"charges": 2, "customers": 1}, seed=7)
    malformed = server.world.ground_truth("acme").malformed_ids
    clean = server.world.ground_truth("acme", Faults()).objects
    for resource, count in (("charges", 2), ("customers", 1)):
        assert len(malformed[resource]) == count
        truth = {obj["id"]: obj for obj in clean[resource]}
        served = []
        params: dict[str, object] = {"limit": 100}
        while True:
            page = call(server, f"/v1/{resource}", params).json()
            served += page["data"]
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
        broken = {obj["id"] for obj in served if obj != truth[obj["id"]]}
        assert broken == malformed[resource]
        for object_id in broken:
            again = call(server, f"/v1/{resource}/{object_id}").json()
            assert again == corrupt(resource, truth[object_id], 7) != truth[object_id]


def test_malformed_objects_are_corrupted_inside_events_too(server: SimulatorServer) -> None:
    server.faults = Faults(malformed={"invoices": 40}, seed=5)
    malformed = server.world.ground_truth("acme").malformed_ids["invoices"]
    events = call(server, "/v1/events", {"types[]": "invoice.*", "limit": 100}).json()["data"]
    about = [event for event in events if event["data"]["object"]["id"] in malformed]
    assert about
    for event in about:
        snapshot = event["data"]["object"]
        assert (
            "created" not in snapshot
            or not isinstance(snapshot["amount_due"], int)
            or snapshot["currency"] == "US$"
        )


def test_corruptions_break_types_a_loader_checks() -> None:
    charge = {"id": "ch_1", "amount": 1250, "currency": "usd", "created": 1}
    kinds = {json.dumps(corrupt("charges", charge, seed)) for seed in range(40)}
    assert kinds == {
        json.dumps({"id": "ch_1", "amount": "12.5O", "currency": "usd", "created": 1}),
        json.dumps({"id": "ch_1", "amount": 1250, "currency": "US$", "created": 1}),
        json.dumps({"id": "ch_1", "amount": 1250, "currency": "usd"}),
    }


def test_extra_fields_appear_on_every_object_of_the_resource(server: SimulatorServer) -> None:
    server.faults = Faults(extra_fields={"customers": {"loyalty_tier": "gold"}})
    customers = call(server, "/v1/customers", {"limit": 100}).json()["data"]
    assert customers and all(customer["loyalty_tier"] == "gold" for customer in customers)
    assert call(server, f"/v1/customers/{customers[0]['id']}").json()["loyalty_tier"] == "gold"
    assert all("loyalty_tier" not in charge for charge in call(server, "/v1/charges").json()["data"])
    event = call(server, "/v1/events", {"types[]": ["customer.created", "customer.updated"]}).json()["data"][
        0
    ]
    assert event["data"]["object"]["loyalty_tier"] == "gold" and "loyalty_tier" not in event
    invoice = call(server, "/v1/invoices", {"limit": 1, "expand[]": "data.customer"}).json()["data"][0]
    assert invoice["customer"]["loyalty_tier"] == "gold"


def test_faults_can_be_switched_between_runs(server: SimulatorServer) -> None:
    server.faults = Faults(error_rate=1.0)
    assert call(server, "/v1/products").status >= 500
    server.faults = Faults()
    assert call(server, "/v1/products").status == 200


@pytest.mark.parametrize(
    "faults",
    [{"error_rate": 1.5}, {"truncate_rate": -0.1}, {"rate_limit_per_s": -1}, {"malformed": {"charges": -1}}],
)
def test_impossible_fault_plans_are_refused(faults: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Faults(**faults)


def _books_call(server: SimulatorServer, provider: str) -> Callable[[], tuple[int, dict[str, str], bytes]]:
    """An authenticated GET of the provider's customer list, to call under any fault plan."""
    workspace = next(
        ws for ws in server.world.workspaces if ws.accounting and ws.accounting.provider == provider
    )
    client = workspace.accounting
    assert client is not None
    token_path = "/quickbooks/oauth2/v1/tokens/bearer" if provider == "quickbooks" else "/xero/connect/token"
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    form = urlencode({"grant_type": "refresh_token", "refresh_token": client.refresh_token}).encode()
    status, _, body = server.dispatch("POST", token_path, {"authorization": f"Basic {basic}"}, form)
    assert status == 200, body
    headers = {
        "authorization": f"Bearer {json.loads(body)['access_token']}",
        "xero-tenant-id": client.company_id,
    }
    if provider == "quickbooks":
        query = urlencode({"query": "SELECT * FROM Customer"})
        target = f"/quickbooks/v3/company/{client.company_id}/query?{query}"
    else:
        target = "/xero/api.xro/2.0/Contacts?page=1"
    return lambda: server.dispatch("GET", target, headers, b"")


@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
def test_books_apis_rate_limit_fail_and_cut_bodies_like_their_providers(
    server: SimulatorServer, provider: str
) -> None:
    call = _books_call(server, provider)
    server.faults = Faults(rate_limit_per_s=2)
    answers = [call() for _ in range(6)]
    limited = [(headers, body) for status, headers, body in answers if status == 429]
    assert limited and float(limited[0][0]["Retry-After"]) >= 1
    body = json.loads(limited[0][1])
    assert (
        body["Fault"]["Error"][0]["code"] == "003001" if provider == "quickbooks" else body["Status"] == 429
    )
    server.faults = Faults(error_rate=1.0, seed=2)
    status, _, body = call()
    assert status >= 500 and (
        "Fault" in json.loads(body) if provider == "quickbooks" else json.loads(body)["Status"] == status
    )
    server.faults = Faults(truncate_rate=1.0, seed=2)
    status, headers, body = call()
    assert status == 200 and int(headers["Content-Length"]) == len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
