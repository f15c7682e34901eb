"""The simulated books and their QuickBooks Online and Xero APIs: shapes, paging, OAuth2, discrepancies."""

from __future__ import annotations

import base64
import calendar
import http.client
import json
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.business.clock import to_date
from revops_simulator.oauth import OAuthClient, TokenError, TokenService
from revops_simulator.quickbooks.api import ENTITIES, Rendered, qbo_time
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
        assert truth.objects == twin.objects and truth.deleted == twin.deleted
        assert truth.discrepancies == twin.discrepancies
        assert workspace.accounting == next(ws.accounting for ws in again.workspaces if ws.id == workspace.id)
        books = world.books(workspace.id)
        stripe_truth = world.ground_truth(workspace.id, Faults())
        stripe = stripe_truth.objects
        # The books keep customers the merchant later deleted in Stripe (lists omit those).
        assert {c.stripe_id for c in books.customers} == {c["id"] for c in stripe["customers"]} | (
            stripe_truth.deleted_ids["customers"]
        )
        collected = {i["id"]: i for i in stripe["invoices"] if i["status"] != "draft" and i["amount_due"] > 0}
        seeded = _seeded(books)
        copied = {i.stripe_id: i for i in books.invoices if i.stripe_id is not None}
        assert set(copied) == set(collected) - set(seeded["missing_invoice"])
        # Every invoice paid in Stripe has its payment in the books, but the one the bookkeeper missed
        # and the one deleted before its payment was recorded; the books add a payment Stripe never saw.
        paid = {i for i, obj in collected.items() if obj["status"] == "paid"} - set(seeded["missing_invoice"])
        recorded = {
            p.invoice.stripe_id for p in books.payments if p.kind == "invoice" and p.invoice is not None
        }
        not_recorded = set(seeded["payment_missing_in_books"]) | set(seeded["deleted_in_books"])
        assert recorded == paid - not_recorded | set(seeded["payment_missing_in_stripe"])
        # Each invoice Stripe gave up on is written off in the books (a credit applied to it), but one.
        uncollectible = {i for i, obj in collected.items() if obj["status"] == "uncollectible"}
        written_off = {c.invoice.stripe_id for c in books.credits if c.account == "bad_debt" and c.invoice}
        kept_open = {
            *seeded["written_off_open_in_books"],
            *seeded["payment_missing_in_stripe"],
            *seeded["missing_invoice"],
        }
        assert written_off == uncollectible - kept_open
        for stripe_id in written_off:
            assert copied[stripe_id].balance == 0 and copied[stripe_id].credited == copied[stripe_id].total
        assert books.deposits and books.journals


def _seeded(books: Any) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for discrepancy in books.discrepancies:
        found.setdefault(discrepancy.kind, []).append(discrepancy.stripe_invoice_id)
    return found


def test_every_books_difference_is_seeded_once_per_workspace(world: World) -> None:
    for workspace in world.workspaces:
        books = world.books(workspace.id)
        counts = {kind: len(ids) for kind, ids in _seeded(books).items()}
        assert counts == {
            "missing_invoice": 1,
            "amount_mismatch": 1,
            "payment_date_mismatch": 1,
            "payment_missing_in_books": 1,
            "payment_missing_in_stripe": 1,
            "written_off_open_in_books": 1,
            "deleted_in_books": 1,
            "renumbered_in_books": 1,
            "invoice_missing_in_stripe": 1,
            "credit_missing_in_stripe": 2,
        }, workspace.id
        kinds = {d.kind: d for d in books.discrepancies}
        by_stripe = {i.stripe_id: i for i in books.invoices}
        mistyped = by_stripe[kinds["amount_mismatch"].stripe_invoice_id]
        assert 0 < abs(mistyped.total - int(kinds["amount_mismatch"].stripe_value or 0)) < 10
        assert str(mistyped.total) == kinds["amount_mismatch"].books_value
        misdated = next(
            p
            for p in books.payments
            if p.invoice and p.invoice.stripe_id == kinds["payment_date_mismatch"].stripe_invoice_id
        )
        assert misdated.paid_on.isoformat() == kinds["payment_date_mismatch"].books_value
        assert misdated.paid_on.isoformat() != kinds["payment_date_mismatch"].stripe_value
        assert by_stripe[kinds["payment_missing_in_books"].stripe_invoice_id].status == "open"
        assert by_stripe[kinds["payment_missing_in_stripe"].stripe_invoice_id].status == "paid"
        assert kinds["payment_missing_in_stripe"].stripe_value in ("void", "uncollectible")
        open_in_books = by_stripe[kinds["written_off_open_in_books"].stripe_invoice_id]
        assert open_in_books.status == "open" and open_in_books.balance == open_in_books.total
        deleted = by_stripe[kinds["deleted_in_books"].stripe_invoice_id]
        assert deleted.deleted_at is not None and deleted.status == "open"
        renumbered = by_stripe[kinds["renumbered_in_books"].stripe_invoice_id]
        assert (
            renumbered.doc_number
            == kinds["renumbered_in_books"].books_value
            != kinds["renumbered_in_books"].stripe_value
        )
        books_only = [i for i in books.invoices if i.stripe_id is None]
        assert [(i.doc_number, i.draft, i.deleted_at is not None) for i in books_only] == [
            ("1001", False, False),
            ("1002", True, True),
        ]
        assert kinds["invoice_missing_in_stripe"].books_number == "1001"
        # The books stay consistent with themselves: each payment is what its invoice asked for.
        for payment in books.payments:
            if payment.kind == "invoice":
                assert payment.invoice is not None and payment.amount == payment.invoice.total
        credits = {
            c.outcome: c for c in books.credits if c.stripe_credit_note_id is None and c.account == "income"
        }
        assert set(credits) == {"customer_credit", "refund"}
        assert {p.kind for p in books.payments} >= {"overpayment", "prepayment"}


def test_books_keep_numbers_and_mistakes_as_the_clock_advances(world: World) -> None:
    later = World(seed=42, as_of=date(2026, 11, 20), scale=0.1)
    early = World(seed=42, as_of=date(2026, 1, 20), scale=0.1)
    for workspace in world.workspaces:
        before, after = world.books(workspace.id), later.books(workspace.id)
        assert after.discrepancies == before.discrepancies
        for books in (early.books(workspace.id), before):
            for kind in ("invoices", "payments", "credits"):
                numbers = {(i.created, i.number) for i in getattr(after, kind)}
                assert {(i.created, i.number) for i in getattr(books, kind)} <= numbers, kind
            # Whatever differs from Stripe early on still differs the same way later.
            assert {(d.kind, d.stripe_invoice_id) for d in books.discrepancies} <= {
                (d.kind, d.stripe_invoice_id) for d in after.discrepancies
            }
        bank_before, bank_after = early.bank_truth(workspace.id), later.bank_truth(workspace.id)
        assert set(bank_before.discrepancies) <= set(bank_after.discrepancies)


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
    since = "2026-10-20T00:00:00-07:00"
    status, body = _qbo(server, token, "cdc", entities="Invoice,Payment", changedSince=since)
    assert status == 200
    responses = body["CDCResponse"][0]["QueryResponse"]
    for name, response in zip(("Invoice", "Payment"), responses, strict=True):
        expected = [o for o in truth.objects[name] if _time(o) > datetime.fromisoformat(since)]
        assert sorted(response.get(name, []), key=lambda o: int(o["Id"])) == expected
    status, body = _qbo(server, token, "cdc", entities="Invoice", changedSince="2026-01-01T00:00:00Z")
    assert status == 400 and "30 days" in body["Fault"]["Error"][0]["Detail"]


def _time(entity: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(entity["MetaData"]["LastUpdatedTime"])


def test_quickbooks_timestamps_follow_the_realms_daylight_saving_time(world: World) -> None:
    truth = world.books_truth("acme")
    assert truth is not None
    offsets = {_time(obj).utcoffset() for entities in truth.objects.values() for obj in entities}
    assert offsets == {timedelta(hours=-7), timedelta(hours=-8)}


def test_quickbooks_cdc_reports_deletions_only_there(server: SimulatorServer) -> None:
    """A deleted invoice leaves the query's answers; CDC returns it as a `Deleted` stub."""
    world = World(seed=42, as_of=AS_OF, scale=0.1)
    books = world.books("acme")
    deleted = [i for i in books.invoices if i.deleted_at is not None]
    assert len(deleted) == 2
    for invoice in deleted:
        before = World(seed=42, as_of=to_date(invoice.deleted_at - 86_400), scale=0.1).books_truth("acme")
        assert before is not None and str(invoice.number) in {o["Id"] for o in before.objects["Invoice"]}
    truth = world.books_truth("acme")
    assert truth is not None
    assert {o["Id"] for o in truth.objects["Invoice"]}.isdisjoint({str(i.number) for i in deleted})
    assert sorted(truth.deleted["Invoice"], key=lambda o: int(o["Id"])) == [
        {
            "domain": "QBO",
            "status": "Deleted",
            "Id": str(invoice.number),
            "MetaData": {"LastUpdatedTime": qbo_time(invoice.deleted_at or 0)},
        }
        for invoice in sorted(deleted, key=lambda i: i.number)
    ]
    # Served by CDC within its 30 days: the world advanced to just after the later deletion.
    latest = max(i.deleted_at or 0 for i in deleted)
    recent = World(seed=42, as_of=to_date(latest + 86_400), scale=0.1)
    with SimulatorServer(recent) as near:
        token = _access_token(near, _client(recent, "acme"))
        since = qbo_time(latest - 86_400)
        status, body = _qbo(near, token, "cdc", entities="Invoice", changedSince=since)
        assert status == 200
        (response,) = body["CDCResponse"][0]["QueryResponse"]
        stubs = [o for o in response["Invoice"] if o.get("status") == "Deleted"]
        assert [o["Id"] for o in stubs] == [str(next(i.number for i in deleted if i.deleted_at == latest))]
        assert all(
            o["Id"] not in {s["Id"] for s in stubs} for o in near.world.books_truth("acme").objects["Invoice"]
        )  # type: ignore[union-attr]


def test_quickbooks_cdc_caps_a_response_at_1000_objects(server: SimulatorServer) -> None:
    now = int(server.world.now.timestamp())
    stamp = qbo_time(now - 3600)
    live = {name: [] for name in ENTITIES}
    live["Invoice"] = [{"Id": str(n), "MetaData": {"LastUpdatedTime": stamp}} for n in range(1, 701)]
    live["Payment"] = [{"Id": str(n), "MetaData": {"LastUpdatedTime": stamp}} for n in range(1, 701)]
    rendered = Rendered(live, {name: [] for name in ENTITIES})
    response = server.quickbooks._cdc(
        {"entities": "Invoice,Payment", "changedSince": qbo_time(now - 7200)}, rendered, now
    )
    invoices, payments = json.loads(response.payload)["CDCResponse"][0]["QueryResponse"]
    assert (len(invoices["Invoice"]), len(payments["Payment"])) == (700, 300)


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


def test_xero_credit_notes_receipts_and_deleted_invoices(server: SimulatorServer) -> None:
    token = _access_token(server, _client(server.world, "globex"))
    books = server.world.books("globex")
    truth = server.world.books_truth("globex")
    assert truth is not None and truth.deleted == {}
    served: dict[str, list[Any]] = {}
    for endpoint in ("Invoices", "CreditNotes", "Overpayments", "Prepayments", "Payments"):
        status, body = _xero(server, token, endpoint, page=1)
        assert status == 200 and body[endpoint] == truth.objects[endpoint][:100], endpoint
        served[endpoint] = truth.objects[endpoint]
    numbers = {i.number: i for i in books.invoices}
    statuses = {obj["InvoiceNumber"]: obj["Status"] for obj in served["Invoices"]}
    deleted = next(d for d in books.discrepancies if d.kind == "deleted_in_books")
    voided = next(i for i in numbers.values() if i.stripe_id == deleted.stripe_invoice_id)
    # An approved invoice cannot be deleted in Xero: it is voided; the books-only draft is deleted.
    assert (
        statuses[voided.doc_number] == "VOIDED"
        and statuses["1002"] == "DELETED"
        and statuses["1001"] == "AUTHORISED"
    )
    notes = {note["CreditNoteNumber"]: note for note in served["CreditNotes"]}
    assert {note["Type"] for note in notes.values()} == {"ACCRECCREDIT"}
    for credit in books.credits:
        note = notes[credit.doc_number]
        assert note["Total"] == Decimal(credit.amount) / 100
        assert note["RemainingCredit"] == (note["Total"] if credit.outcome == "customer_credit" else 0)
        assert bool(note["Allocations"]) == (credit.outcome == "applied")
        assert bool(note["Payments"]) == (credit.outcome == "refund")
    refunds = [p for p in served["Payments"] if p["PaymentType"] == "ARCREDITPAYMENT"]
    assert len(refunds) == sum(1 for c in books.credits if c.outcome == "refund") == 1
    assert [o["Type"] for o in served["Overpayments"]] == ["RECEIVE-OVERPAYMENT"]
    assert [o["Type"] for o in served["Prepayments"]] == ["RECEIVE-PREPAYMENT"]
    assert all(o["RemainingCredit"] == o["Total"] > 0 for o in served["Overpayments"] + served["Prepayments"])


# --- OAuth2 ---


@pytest.mark.parametrize("workspace_id", ["acme", "globex"])
def test_refresh_tokens_rotate(server: SimulatorServer, workspace_id: str) -> None:
    client = _client(server.world, workspace_id)
    status, first = _refresh(server, client, client.refresh_token)
    assert status == 200 and first["refresh_token"] != client.refresh_token and first["expires_in"] > 0
    status, second = _refresh(server, client, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    # Two rotations back is spent.
    status, reused = _refresh(server, client, client.refresh_token)
    assert status == 400 and reused == {
        "error": "invalid_grant",
        "error_description": reused["error_description"],
    }
    # The one just before the newest still works for a grace period (a lost refresh response).
    status, again = _refresh(server, client, first["refresh_token"])
    assert status == 200
    status, _ = _refresh(server, client, again["refresh_token"])
    assert status == 200


def test_the_grace_period_ends(world: World) -> None:
    client = next(ws.accounting for ws in world.workspaces if ws.accounting is not None)
    assert client is not None
    service = TokenService(client.provider, {client.workspace_id: client}, grace_s=0.2)
    first = service.refresh(client, form(client.refresh_token), Faults())
    service.refresh(client, form(first.refresh_token), Faults())
    assert service.refresh(client, form(first.refresh_token), Faults()).refresh_token
    time.sleep(0.25)
    with pytest.raises(TokenError):
        service.refresh(client, form(first.refresh_token), Faults())


@pytest.mark.parametrize("workspace_id", ["acme", "globex"])
def test_revoked_grant_and_expired_tokens(server: SimulatorServer, workspace_id: str) -> None:
    client = _client(server.world, workspace_id)
    # Render the books first: the first call after a clock change pays for it, which takes longer
    # than this test's access tokens live.
    api = server.quickbooks if workspace_id == "acme" else server.xero
    api._renders.get(server.world.books(workspace_id))
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
        first_server.refresh(client, form(client.refresh_token), Faults())
    # A provider restart keeps honouring what the client holds: the newest token.
    restarted = TokenService(client.provider, {client.workspace_id: client})
    assert restarted.refresh(client, form(second.refresh_token), Faults()).refresh_token
    with pytest.raises(TokenError):
        restarted.refresh(client, form(second.refresh_token + "x"), Faults())
