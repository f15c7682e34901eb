"""QuickBooks Online's Accounting API (v3 query and CDC) over the simulated books, with QBO's shapes.

Entities carry `Id` (numeric string), `SyncToken`, `MetaData.CreateTime/LastUpdatedTime` and money
as JSON decimals. Timestamps are in the company's time zone, which follows daylight saving time as
a real realm does (America/Los_Angeles: `-07:00` in summer, `-08:00` in winter), so the hour after
the autumn switch repeats with another offset.

A deleted entity disappears from queries; only the change data capture operation (`/cdc`, 30 days
back, at most 1,000 objects per response) reports it, as `{"domain", "status": "Deleted", "Id",
"MetaData": {"LastUpdatedTime"}}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from revops_simulator.business.books import (
    BookAccount,
    BookCredit,
    BookInvoice,
    BookLine,
    BookPayment,
    Books,
    account,
)
from revops_simulator.business.clock import DAY, to_date, to_datetime
from revops_simulator.faults import Faults
from revops_simulator.oauth import (
    OAuthClient,
    RenderCache,
    TokenError,
    TokenService,
    encode_json,
    grant_body,
    minor_to_decimal,
)
from revops_simulator.provider import ApiRequest, ApiResponse, Caller

REALM_TZ = ZoneInfo("America/Los_Angeles")
ENTITIES = (
    "Customer", "Item", "Account", "Invoice", "Payment", "JournalEntry", "Deposit", "CreditMemo",
    "RefundReceipt",
)  # fmt: skip
DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 1000
CDC_LOOKBACK = timedelta(days=30)
CDC_MAX_OBJECTS = 1000
"""Intuit: a CDC response holds at most 1,000 objects (across the entities asked for)."""
REFRESH_TOKEN_TTL_S = 100 * DAY
REFRESH_GRACE_S = DAY
"""Intuit: "Your previous refresh tokens expire 24 hours after you receive a new one."""
TOKEN_PATH = "/oauth2/v1/tokens/bearer"

_QUERY = re.compile(
    r"\s*SELECT\s+\*\s+FROM\s+(?P<entity>\w+)"
    r"(?:\s+WHERE\s+(?:MetaData\.LastUpdatedTime\s*(?P<op>>=|>)\s*'(?P<since>[^']+)'"
    r"|Id\s+IN\s*\((?P<ids>\s*'\d+'(?:\s*,\s*'\d+')*\s*)\)))?"
    r"(?:\s+ORDERBY\s+(?P<order>Id|MetaData\.LastUpdatedTime)(?:\s+(?:ASC|DESC))?)?"
    r"(?:\s+STARTPOSITION\s+(?P<start>\d+))?"
    r"(?:\s+MAXRESULTS\s+(?P<max>\d+))?\s*",
    re.IGNORECASE,
)
_PATH = re.compile(r"/v3/company/(?P<realm>\d+)/(?P<op>query|cdc)")
_ACCOUNT_TYPES: Mapping[str, tuple[str, str, str]] = {
    "bank": ("Bank", "Checking", "Asset"),
    "clearing": ("Other Current Asset", "OtherCurrentAssets", "Asset"),
    "receivable": ("Accounts Receivable", "AccountsReceivable", "Asset"),
    "income": ("Income", "ServiceFeeIncome", "Revenue"),
    "expense": ("Expense", "BankCharges", "Expense"),
    "bad_debt": ("Expense", "BadDebts", "Expense"),
}
_CURRENCY_NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling"}

JSON = dict[str, Any]


class BooksWorld(Protocol):
    """Where the API finds a workspace's books at the current clock, and who may connect."""

    def books(self, workspace_id: str) -> Books: ...

    def accounting_clients(self, provider: str) -> dict[str, OAuthClient]: ...


def qbo_time(ts: int) -> str:
    return to_datetime(ts).astimezone(REALM_TZ).isoformat()


def _meta(created: int, updated: int) -> JSON:
    return {"CreateTime": qbo_time(created), "LastUpdatedTime": qbo_time(updated)}


def _ref(value: int | str, name: str | None = None) -> JSON:
    return {"value": str(value), **({"name": name} if name is not None else {})}


def _currency(code: str) -> JSON:
    return _ref(code, _CURRENCY_NAMES.get(code, code))


def _account_ref(entry: BookAccount) -> JSON:
    return _ref(entry.number, entry.name)


def _sales_line(number: int, line: BookLine) -> JSON:
    detail: JSON = {"Qty": line.quantity}
    if line.item is not None:
        detail["ItemRef"] = _ref(line.item.number, line.item.name)
    return {
        "Id": str(number),
        "LineNum": number,
        "Description": line.description,
        "Amount": minor_to_decimal(line.amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail,
    }


@dataclass(frozen=True)
class Rendered:
    """The books as QBO serves them: live entities per entity name (ordered by Id), and the
    tombstones CDC reports for the ones deleted by the clock."""

    live: dict[str, list[JSON]]
    deleted: dict[str, list[JSON]]


def _tombstone(entity_id: int, deleted_at: int) -> JSON:
    return {
        "domain": "QBO",
        "status": "Deleted",
        "Id": str(entity_id),
        "MetaData": {"LastUpdatedTime": qbo_time(deleted_at)},
    }


def _sync_token(created: int, updated: int) -> str:
    return "0" if updated == created else "1"


def _invoice(invoice: BookInvoice) -> JSON:
    return {
        "Id": str(invoice.number),
        "SyncToken": _sync_token(invoice.created, invoice.updated),
        "MetaData": _meta(invoice.created, invoice.updated),
        "DocNumber": invoice.doc_number,
        # Transaction dates are the UTC dates of the Stripe events, as the bookkeeper copied them.
        "TxnDate": to_date(invoice.issued).isoformat(),
        "DueDate": to_date(invoice.issued).isoformat(),
        "CustomerRef": _ref(invoice.customer.number, invoice.customer.name),
        "CurrencyRef": _currency(invoice.currency),
        "Line": [
            *(_sales_line(number, line) for number, line in enumerate(invoice.lines, start=1)),
            {
                "Amount": minor_to_decimal(invoice.total),
                "DetailType": "SubTotalLineDetail",
                "SubTotalLineDetail": {},
            },
        ],
        "TotalAmt": minor_to_decimal(invoice.total),
        "Balance": minor_to_decimal(invoice.balance),
        "PrivateNote": ("Voided. " if invoice.status == "voided" else "")
        + (f"Stripe invoice {invoice.stripe_id}" if invoice.stripe_id else "Invoiced outside Stripe"),
        "domain": "QBO",
        "sparse": False,
    }


def _credit(credit: BookCredit, line_account: BookAccount, deposit_account: BookAccount) -> JSON:
    """A CreditMemo (applied, or left as customer credit) or a RefundReceipt (money paid back)."""
    line = {
        "Id": "1",
        "LineNum": 1,
        "Description": credit.description,
        "Amount": minor_to_decimal(credit.amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"Qty": 1, "ItemAccountRef": _account_ref(line_account)},
    }
    rendered: JSON = {
        "Id": str(credit.number),
        "SyncToken": "0",
        "MetaData": _meta(credit.created, credit.created),
        "DocNumber": credit.doc_number,
        "TxnDate": credit.issued.isoformat(),
        "CustomerRef": _ref(credit.customer.number, credit.customer.name),
        "CurrencyRef": _currency(credit.currency),
        "Line": [line],
        "TotalAmt": minor_to_decimal(credit.amount),
        "PrivateNote": credit.description,
        "domain": "QBO",
        "sparse": False,
    }
    if credit.outcome == "refund":
        rendered["Balance"] = minor_to_decimal(0)
        rendered["DepositToAccountRef"] = _account_ref(deposit_account)
        rendered["PaymentRefNum"] = credit.doc_number
    else:
        remaining = 0 if credit.outcome == "applied" else credit.amount
        rendered["Balance"] = minor_to_decimal(remaining)
        rendered["RemainingCredit"] = minor_to_decimal(remaining)
    if credit.invoice is not None and credit.outcome != "refund":
        # Only a CreditMemo has an InvoiceRef (per the XSD); a refund receipt names it in its memo.
        rendered["InvoiceRef"] = _ref(credit.invoice.number, credit.invoice.doc_number)
    elif credit.invoice is not None:
        rendered["PrivateNote"] = f"{credit.description} (invoice {credit.invoice.doc_number})"
    return rendered


def _payment(payment: BookPayment, clearing: BookAccount, bank: BookAccount) -> JSON:
    """A Payment: applied to an invoice, a zero payment applying a credit memo to one (how QBO links
    them), or an unapplied receipt (an overpayment or a prepayment, banked directly)."""
    lines: list[JSON] = []
    unapplied = 0
    if payment.kind == "invoice":
        assert payment.invoice is not None
        lines.append(
            {
                "Amount": minor_to_decimal(payment.amount),
                "LinkedTxn": [{"TxnId": str(payment.invoice.number), "TxnType": "Invoice"}],
            }
        )
    elif payment.kind == "credit_application":
        assert payment.invoice is not None and payment.credit is not None
        applied = minor_to_decimal(payment.credit.amount)
        lines.append(
            {"Amount": applied, "LinkedTxn": [{"TxnId": str(payment.invoice.number), "TxnType": "Invoice"}]}
        )
        lines.append(
            {"Amount": applied, "LinkedTxn": [{"TxnId": str(payment.credit.number), "TxnType": "CreditMemo"}]}
        )
    else:
        unapplied = payment.amount
    rendered: JSON = {
        "Id": str(payment.number),
        "SyncToken": "0",
        "MetaData": _meta(payment.created, payment.created),
        "TxnDate": payment.paid_on.isoformat(),
        "TotalAmt": minor_to_decimal(payment.amount),
        "UnappliedAmt": minor_to_decimal(unapplied),
        "CustomerRef": _ref(payment.customer.number, payment.customer.name),
        "CurrencyRef": _currency(payment.currency),
        "DepositToAccountRef": _account_ref(
            bank if payment.kind in ("overpayment", "prepayment") else clearing
        ),
        "Line": lines,
        "domain": "QBO",
        "sparse": False,
    }
    if payment.invoice is not None:
        rendered["PaymentRefNum"] = payment.invoice.doc_number
    if payment.kind in ("overpayment", "prepayment"):
        rendered["PrivateNote"] = "Wire received: " + (
            "invoice paid twice" if payment.kind == "overpayment" else "advance for services"
        )
    return rendered


def render_books(books: Books) -> Rendered:
    """Every entity of the books as QBO serves it."""
    clearing, bank = account(books, "clearing"), account(books, "bank")
    fees, income = account(books, "expense"), account(books, "income")
    bad_debt = account(books, "bad_debt")
    rendered: dict[str, list[JSON]] = {}
    rendered["Account"] = [
        {
            "Id": str(entry.number),
            "SyncToken": "0",
            "MetaData": _meta(entry.created, entry.created),
            "Name": entry.name,
            "AcctNum": entry.code,
            "AccountType": _ACCOUNT_TYPES[entry.kind][0],
            "AccountSubType": _ACCOUNT_TYPES[entry.kind][1],
            "Classification": _ACCOUNT_TYPES[entry.kind][2],
            "CurrencyRef": _currency(books.home_currency),
            "Active": True,
            "domain": "QBO",
            "sparse": False,
        }
        for entry in books.accounts
    ]
    rendered["Customer"] = [
        {
            "Id": str(customer.number),
            "SyncToken": "0",
            "MetaData": _meta(customer.created, customer.created),
            "DisplayName": customer.name,
            "PrimaryEmailAddr": {"Address": customer.email},
            "BillAddr": {"Country": customer.country},
            "CurrencyRef": _currency(customer.currency),
            "Notes": f"Stripe customer {customer.stripe_id}",
            "Active": True,
            "domain": "QBO",
            "sparse": False,
        }
        for customer in books.customers
    ]
    rendered["Item"] = [
        {
            "Id": str(item.number),
            "SyncToken": "0",
            "MetaData": _meta(item.created, item.created),
            "Name": item.name,
            "Description": item.description,
            "Type": "Service",
            "IncomeAccountRef": _account_ref(income),
            "Active": True,
            "domain": "QBO",
            "sparse": False,
        }
        for item in books.items
    ]
    rendered["Invoice"] = [_invoice(invoice) for invoice in books.invoices if invoice.deleted_at is None]
    rendered["Payment"] = [_payment(payment, clearing, bank) for payment in books.payments]
    rendered["CreditMemo"] = [
        _credit(credit, bad_debt if credit.account == "bad_debt" else income, clearing)
        for credit in books.credits
        if credit.outcome != "refund"
    ]
    rendered["RefundReceipt"] = [
        _credit(credit, income, clearing) for credit in books.credits if credit.outcome == "refund"
    ]
    rendered["Deposit"] = [
        {
            "Id": str(deposit.number),
            "SyncToken": "0",
            "MetaData": _meta(deposit.created, deposit.created),
            "TxnDate": deposit.deposited_on.isoformat(),
            "TotalAmt": minor_to_decimal(deposit.amount),
            "CurrencyRef": _currency(deposit.currency),
            "DepositToAccountRef": _account_ref(bank),
            "PrivateNote": f"Stripe payout {deposit.stripe_payout_id}",
            "Line": [
                {
                    "Id": "1",
                    "LineNum": 1,
                    "Amount": minor_to_decimal(deposit.amount),
                    "DetailType": "DepositLineDetail",
                    "DepositLineDetail": {"AccountRef": _account_ref(clearing)},
                }
            ],
            "domain": "QBO",
            "sparse": False,
        }
        for deposit in books.deposits
    ]
    rendered["JournalEntry"] = [
        {
            "Id": str(journal.number),
            "SyncToken": "0",
            "MetaData": _meta(journal.created, journal.created),
            "DocNumber": f"FEES-{journal.month}",
            "TxnDate": journal.posted_on.isoformat(),
            "CurrencyRef": _currency(journal.currency),
            "PrivateNote": f"Stripe fees {journal.month}",
            "Line": [
                {
                    "Id": str(index),
                    "Description": f"Stripe fees {journal.month}",
                    "Amount": minor_to_decimal(journal.amount),
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": _account_ref(entry)},
                }
                for index, (posting, entry) in enumerate((("Debit", fees), ("Credit", clearing)))
            ],
            "domain": "QBO",
            "sparse": False,
        }
        for journal in books.journals
    ]
    deleted = {name: [] for name in ENTITIES}
    deleted["Invoice"] = [
        _tombstone(invoice.number, invoice.deleted_at)
        for invoice in books.invoices
        if invoice.deleted_at is not None
    ]
    return Rendered(rendered, deleted)


def server_time(now: int | None = None) -> str:
    """QBO's `time` of a response: the world's clock when known, in the realm's time zone."""
    moment = to_datetime(now) if now is not None else datetime.now(REALM_TZ)
    return moment.astimezone(REALM_TZ).isoformat(timespec="milliseconds")


def fault(
    status: int, fault_type: str, code: str, message: str, detail: str, now: int | None = None
) -> ApiResponse:
    """QBO's error body: a `Fault` with a list of errors and the server time."""
    body = {
        "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": fault_type},
        "time": server_time(now),
    }
    return ApiResponse(status, body)


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=REALM_TZ)


class QuickBooksApi:
    prefix = "/quickbooks"

    def __init__(self, world: BooksWorld) -> None:
        self.world = world
        self.clients = world.accounting_clients("quickbooks")
        self.tokens = TokenService("quickbooks", self.clients, REFRESH_GRACE_S)
        self._renders = RenderCache[Books, Rendered](render_books)

    def route(self, request: ApiRequest) -> str:
        match = _PATH.fullmatch(request.path)
        if match:
            return f"{request.method} /v3/company/{{realmId}}/{match['op']}"
        return f"{request.method} {request.path}"

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        if request.path == TOKEN_PATH:
            client = self.tokens.client(request.headers.get("authorization"))
            if client is None:
                return ApiResponse(401, {"error": "invalid_client"})
            return Caller(client.workspace_id, f"quickbooks:{client.company_id}")
        workspace_id, problem = self.tokens.check(request.headers.get("authorization"))
        if workspace_id is None:
            detail = "Token expired" if problem == "expired" else "Token invalid"
            return fault(
                401,
                "AUTHENTICATION",
                "3200",
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                detail,
            )
        return Caller(workspace_id, f"quickbooks:{self.clients[workspace_id].company_id}")

    def rate_limited(self, retry_after: float) -> ApiResponse:
        response = fault(
            429,
            "SERVICE",
            "003001",
            "message=ThrottleExceeded; errorCode=003001; statusCode=429",
            "The request limit was reached.",
        )
        return ApiResponse(429, response.payload, {"Retry-After": str(max(1, round(retry_after)))})

    def server_error(self, status: int) -> ApiResponse:
        return fault(
            status,
            "SystemFault",
            "10000",
            "An application error has occurred while processing your request",
            "System Failure Error",
        )

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse:
        if request.path == TOKEN_PATH and request.method == "POST":
            try:
                grant = self.tokens.refresh(self.clients[caller.workspace_id], request.body, faults)
            except TokenError as error:
                return ApiResponse(error.status, error.body)
            return ApiResponse(200, grant_body(grant, REFRESH_TOKEN_TTL_S))
        match = _PATH.fullmatch(request.path)
        if match is None or request.method != "GET":
            return fault(
                404, "ValidationFault", "4000", "Unsupported operation", f"{request.method} {request.path}"
            )
        if match["realm"] != self.clients[caller.workspace_id].company_id:
            return fault(
                403,
                "AUTHORIZATION",
                "003100",
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                "The token is not authorized for this realm",
            )
        params = dict(request.query)
        books = self.world.books(caller.workspace_id)
        rendered = self._renders.get(books)
        if match["op"] == "query":
            return self._query(params.get("query", ""), rendered.live, books.now)
        return self._cdc(params, rendered, books.now)

    def _query(self, query: str, rendered: dict[str, list[JSON]], now: int) -> ApiResponse:
        match = _QUERY.fullmatch(query)
        canonical = {name.lower(): name for name in ENTITIES}
        if match is None or match["entity"].lower() not in canonical:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Error parsing query",
                f"QueryParserError: Invalid query: {query[:200]}",
            )
        entity = canonical[match["entity"].lower()]
        try:
            keep = self._since(match["op"], match["since"])
        except ValueError:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Error parsing query",
                f"QueryValidationError: invalid date {match['since']}",
            )
        start = int(match["start"] or 1)
        limit = min(int(match["max"] or DEFAULT_MAX_RESULTS), MAX_MAX_RESULTS)
        selected = [obj for obj in rendered[entity] if keep(obj)]
        if match["ids"]:
            wanted = {part.strip().strip("'") for part in match["ids"].split(",")}
            selected = [obj for obj in selected if obj["Id"] in wanted]
        if match["order"] and match["order"].lower() == "metadata.lastupdatedtime":
            selected.sort(key=lambda obj: _parse_time(obj["MetaData"]["LastUpdatedTime"]))
        page = selected[start - 1 : start - 1 + limit]
        body: JSON = {"QueryResponse": {}, "time": server_time(now)}
        if page:
            body["QueryResponse"] = {entity: page, "startPosition": start, "maxResults": len(page)}
        return ApiResponse(200, encode_json(body), served=(entity, len(page)))

    @staticmethod
    def _since(op: str | None, since: str | None) -> Callable[[JSON], bool]:
        if since is None:
            return lambda obj: True
        boundary = _parse_time(since)
        if op == ">=":
            return lambda obj: _parse_time(obj["MetaData"]["LastUpdatedTime"]) >= boundary
        return lambda obj: _parse_time(obj["MetaData"]["LastUpdatedTime"]) > boundary

    def _cdc(self, params: Mapping[str, str], rendered: Rendered, now: int) -> ApiResponse:
        canonical = {name.lower(): name for name in ENTITIES}
        names = [name.strip() for name in params.get("entities", "").split(",") if name.strip()]
        unknown = [name for name in names if name.lower() not in canonical]
        if not names or unknown:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Invalid entities",
                f"Unsupported entities: {', '.join(unknown) or '(none)'}",
                now,
            )
        try:
            since = _parse_time(params.get("changedSince", ""))
        except ValueError:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Invalid changedSince",
                "changedSince must be an ISO 8601 date-time",
                now,
            )
        if since < to_datetime(now) - CDC_LOOKBACK:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Invalid changedSince",
                "changedSince cannot be more than 30 days in the past",
                now,
            )
        responses = []
        left = CDC_MAX_OBJECTS
        for name in names:
            entity = canonical[name.lower()]
            changed = sorted(
                (
                    obj
                    for obj in (*rendered.live[entity], *rendered.deleted[entity])
                    if _parse_time(obj["MetaData"]["LastUpdatedTime"]) > since
                ),
                key=lambda obj: (_parse_time(obj["MetaData"]["LastUpdatedTime"]), int(obj["Id"])),
            )[:left]
            left -= len(changed)
            responses.append(
                {entity: changed, "startPosition": 1, "maxResults": len(changed)} if changed else {}
            )
        body = {"CDCResponse": [{"QueryResponse": responses}], "time": server_time(now)}
        return ApiResponse(200, encode_json(body), served=("cdc", CDC_MAX_OBJECTS - left))
