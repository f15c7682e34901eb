"""The simulated books and their QuickBooks Online and Xero APIs: shapes, paging, OAuth2, discrepancies."""

from __future__ import annotations

import base64
import calendar
import http.client
import json
import time
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.oauth import OAuthClient, TokenError, TokenService
from tests.simulator.conftest import AS_OF


@pytest.fixture
def server(server: SimulatorServer) -> SimulatorServer:
    # Tokens are server state: every test starts right after consent (conftest resets the faults).
    server.quickbooks.tokens.reset()
    server.xero.tokens.reset()
    return server


def _request(
    server: SimulatorServer, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
) -> tuple[int, Any, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload, parse_float=Decimal), dict(response.getheaders())
    finally:
        connection.close()


def _client(world: World, workspace_id: str) -> OAuthClient:
    workspace = next(ws for ws in world.workspaces if ws.id == workspace_id)
    assert workspace.accounting is not None
    return workspace.accounting


def _refresh(server: SimulatorServer, client: OAuthClient, refresh_token: str) -> tuple[int, Any]:
    path = "/quickbooks/oauth2/v1/tokens/bearer" if client.provider == "quickbooks" else "/xero/connect/token"
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    status, payload, _ = _request(server, "POST", path, headers, body)
    return status, payload


def _access_token(server: SimulatorServer, client: OAuthClient) -> str:
    status, payload = _refresh(server, client, client.refresh_token)
    assert status == 200, payload
    return str(payload["access_token"])


def _qbo(server: SimulatorServer, token: str, operation: str, **params: str) -> tuple[int, Any]:
    realm = _client(server.world, "acme").company_id
    path = f"/quickbooks/v3/company/{realm}/{operation}?{urlencode(params)}"
    status, payload, _ = _request(server, "GET", path, {"Authorization": f"Bearer {token}"})
    return status, payload


def _xero(
    server: SimulatorServer, token: str, endpoint: str, page: int | None = None, **headers: str
) -> tuple[int, Any]:
    tenant = _client(server.world, "globex").company_id
    query = f"?page={page}" if page is not None else ""
    all_headers = {"Authorization": f"Bearer {token}", "Xero-tenant-id": tenant, **headers}
    status, payload, _ = _request(server, "GET", f"/xero/api.xro/2.0/{endpoint}{query}", all_headers)
    return status, payload


# --- the books ---


def test_books_are_deterministic_and_mirror_stripe(world: World) -> None:
    again = World(seed=42, as_of=AS_OF, scale=0.1)
    for workspace in world.workspaces:
        truth, twin = world.books_truth(workspace.id), again.books_truth(workspace.id)
        assert truth is not None and twin is not None
        assert truth.objects == twin.objects
        assert truth.discrepancies == twin.discrepancies
        assert workspace.accounting == next(ws.accounting for ws in again.workspaces if ws.id == workspace.id)
        books = world.books(workspace.id)
        stripe = world.ground_truth(workspace.id, Faults()).objects
        assert {c.stripe_id for c in books.customers} == {c["id"] for c in stripe["customers"]}
        collected = {i["id"] for i in stripe["invoices"] if i["status"] != "draft" and i["amount_due"] > 0}
        missing = {d.stripe_invoice_id for d in books.discrepancies if d.kind == "missing_invoice"}
        assert {i.stripe_id for i in books.invoices} == collected - missing
        assert {p.invoice.stripe_id for p in books.payments} == {
            i.stripe_id for i in books.invoices if i.status == "paid"
        }
        assert books.deposits and books.journals


def test_discrepancies_are_seeded_and_recorded(world: World) -> None:
    for workspace in world.workspaces:
        books = world.books(workspace.id)
        kinds = {d.kind: d for d in books.discrepancies}
        assert set(kinds) == {"missing_invoice", "amount_mismatch", "payment_date_mismatch"}
        mistyped = next(
            i for i in books.invoices if i.stripe_id == kinds["amount_mismatch"].stripe_invoice_id
        )
        assert 0 < abs(mistyped.total - int(kinds["amount_mismatch"].stripe_value)) < 10
        assert str(mistyped.total) == kinds["amount_mismatch"].books_value
        misdated = next(
            p
            for p in books.payments
            if p.invoice.stripe_id == kinds["payment_date_mismatch"].stripe_invoice_id
        )
        assert misdated.paid_on.isoformat() == kinds["payment_date_mismatch"].books_value
        assert misdated.paid_on.isoformat() != kinds["payment_date_mismatch"].stripe_value
        # The books stay consistent with themselves: the payment matches the (mistyped) invoice.
        assert all(p.amount == p.invoice.total for p in books.payments)


def test_books_keep_numbers_and_mistakes_as_the_clock_advances(world: World) -> None:
    later = World(seed=42, as_of=date(2026, 11, 20), scale=0.1)
    for workspace in world.workspaces:
        before, after = world.books(workspace.id), later.books(workspace.id)
        assert after.discrepancies == before.discrepancies
        numbers = {i.stripe_id: i.number for i in after.invoices}
        assert all(numbers[i.stripe_id] == i.number for i in before.invoices)


# --- QuickBooks Online ---


def test_quickbooks_query_pages_and_filters(server: SimulatorServer) -> None:
    token = _access_token(server, _client(server.world, "acme"))
    truth = server.world.books_truth("acme")
    assert truth is not None
    invoices = truth.objects["Invoice"]
    status, body = _qbo(server, token, "query", query="SELECT * FROM Invoice STARTPOSITION 1 MAXRESULTS 10")
    assert status == 200
    page = body["QueryResponse"]
    assert page["startPosition"] == 1 and page["maxResults"] == 10 and page["Invoice"] == invoices[:10]
    first = page["Invoice"][0]
    assert {"Id", "SyncToken", "MetaData", "TotalAmt", "Balance", "TxnDate", "CustomerRef", "Line"} <= set(
        first
    )
    assert isinstance(first["TotalAmt"], Decimal) and "time" in body
    status, body = _qbo(server, token, "query", query="select * from invoice STARTPOSITION 11 MAXRESULTS 10")
    assert body["QueryResponse"]["Invoice"] == invoices[10:20]
    since = sorted(i["MetaData"]["LastUpdatedTime"] for i in invoices)[-3]
    query = f"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > '{since}' ORDERBY Id"
    status, body = _qbo(server, token, "query", query=query)
    assert len(body["QueryResponse"]["Invoice"]) == 2
    status, body = _qbo(
        server, token, "query", query=query.replace(">", ">=") + " STARTPOSITION 9999 MAXRESULTS 5"
    )
    assert status == 200 and body["QueryResponse"] == {}
    status, body = _qbo(server, token, "query", query="SELECT Id FROM Invoice; DROP TABLE x")
    assert status == 400 and body["Fault"]["type"] == "ValidationFault"


def test_quickbooks_cdc_returns_changed_entities(server: SimulatorServer) -> None:
    token = _access_token(server, _client(server.world, "acme"))
    truth = server.world.books_truth("acme")
    assert truth is not None
    since = "2026-10-20T00:00:00-08:00"
    status, body = _qbo(server, token, "cdc", entities="Invoice,Payment", changedSince=since)
    assert status == 200
    responses = body["CDCResponse"][0]["QueryResponse"]
    for name, response in zip(("Invoice", "Payment"), responses, strict=True):
        expected = [o for o in truth.objects[name] if o["MetaData"]["LastUpdatedTime"] > since]
        assert response.get(name, []) == expected
    status, body = _qbo(server, token, "cdc", entities="Invoice", changedSince="2026-01-01T00:00:00Z")
    assert status == 400 and "30 days" in body["Fault"]["Error"][0]["Detail"]


def test_quickbooks_rejects_another_providers_token(server: SimulatorServer) -> None:
    xero_token = _access_token(server, _client(server.world, "globex"))
    status, body = _qbo(server, xero_token, "query", query="SELECT * FROM Customer")
    assert status == 401 and body["Fault"]["type"] == "AUTHENTICATION"


# --- Xero ---


def test_xero_pages_and_if_modified_since(server: SimulatorServer) -> None:
    token = _access_token(server, _client(server.world, "globex"))
    truth = server.world.books_truth("globex")
    assert truth is not None
    contacts = truth.objects["Contacts"]
    status, body = _xero(server, token, "Contacts", page=1)
    assert status == 200 and body["Contacts"] == contacts[:100]
    assert body["pagination"]["itemCount"] == len(contacts) and body["pagination"]["pageSize"] == 100
    invoices = truth.objects["Invoices"]
    assert invoices[0]["UpdatedDateUTC"].startswith("/Date(") and isinstance(invoices[0]["Total"], Decimal)
    status, body = _xero(
        server, token, "Invoices", page=1, **{"If-Modified-Since": "Mon, 19 Oct 2026 00:00:00 GMT"}
    )
    cutoff = calendar.timegm(date(2026, 10, 19).timetuple()) * 1000
    assert body["Invoices"] == [i for i in invoices if int(i["UpdatedDateUTC"][6:19]) >= cutoff]
    status, body = _xero(server, token, "Invoices", page=2)
    assert status == 200 and body["Invoices"] == invoices[100:200]
    status, _ = _xero(
        server, token, "Invoices", page=1, **{"Xero-tenant-id": "00000000-0000-0000-0000-000000000000"}
    )
    assert status == 403


# --- OAuth2 ---


@pytest.mark.parametrize("workspace_id", ["acme", "globex"])
def test_refresh_tokens_rotate(server: SimulatorServer, workspace_id: str) -> None:
    client = _client(server.world, workspace_id)
    status, first = _refresh(server, client, client.refresh_token)
    assert status == 200 and first["refresh_token"] != client.refresh_token and first["expires_in"] > 0
    status, reused = _refresh(server, client, client.refresh_token)
    assert status == 400 and reused == {
        "error": "invalid_grant",
        "error_description": reused["error_description"],
    }
    status, _ = _refresh(server, client, first["refresh_token"])
    assert status == 200


@pytest.mark.parametrize("workspace_id", ["acme", "globex"])
def test_revoked_grant_and_expired_tokens(server: SimulatorServer, workspace_id: str) -> None:
    client = _client(server.world, workspace_id)
    server.faults = Faults(oauth_access_token_ttl_s=0.2)
    token = _access_token(server, client)
    call = (
        (lambda: _qbo(server, token, "query", query="SELECT * FROM Account"))
        if workspace_id == "acme"
        else (lambda: _xero(server, token, "Accounts"))
    )
    assert call()[0] == 200
    time.sleep(0.3)
    status, body = call()
    assert status == 401 and "xpired" in json.dumps(body)
    server.faults = Faults(oauth_revoked=frozenset({workspace_id}))
    server.quickbooks.tokens.reset()
    server.xero.tokens.reset()
    status, body = _refresh(server, client, client.refresh_token)
    assert status == 400 and body["error"] == "invalid_grant"
    basic_mismatch = OAuthClient(
        client.provider, client.workspace_id, client.company_id, client.client_id, "wrong", "x"
    )
    status, body = _refresh(server, basic_mismatch, client.refresh_token)
    assert status in (400, 401) and body["error"] == "invalid_client"


def form(token: str) -> bytes:
    return urlencode({"grant_type": "refresh_token", "refresh_token": token}).encode()


def test_the_newest_refresh_token_survives_a_restart_and_older_ones_stay_spent(world: World) -> None:
    client = next(ws.accounting for ws in world.workspaces if ws.accounting is not None)
    assert client is not None
    first_server = TokenService(client.provider, {client.workspace_id: client})
    first = first_server.refresh(client, form(client.refresh_token), Faults())
    second = first_server.refresh(client, form(first.refresh_token), Faults())
    with pytest.raises(TokenError):
        first_server.refresh(client, form(first.refresh_token), Faults())
    # A provider restart keeps honouring what the client holds: the newest token.
    restarted = TokenService(client.provider, {client.workspace_id: client})
    assert restarted.refresh(client, form(second.refresh_token), Faults()).refresh_token
    with pytest.raises(TokenError):
        restarted.refresh(client, form(second.refresh_token + "x"), Faults())
