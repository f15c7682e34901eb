"""QuickBooks Online's Accounting API (v3 query and CDC) over the simulated books, with QBO's shapes.

Entities carry `Id` (numeric string), `SyncToken`, `MetaData.CreateTime/LastUpdatedTime` and money
as JSON decimals. Timestamps are in the company's time zone; the simulated realm keeps UTC-08:00
all year (a real realm follows daylight saving time; see pipelines/quickbooks for why that matters).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from revops_simulator.business.books import BookAccount, BookLine, Books, account
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

REALM_TZ = timezone(timedelta(hours=-8))
ENTITIES = ("Customer", "Item", "Account", "Invoice", "Payment", "JournalEntry", "Deposit")
DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 1000
CDC_LOOKBACK = timedelta(days=30)
REFRESH_TOKEN_TTL_S = 100 * DAY
TOKEN_PATH = "/oauth2/v1/tokens/bearer"

_QUERY = re.compile(
    r"\s*SELECT\s+\*\s+FROM\s+(?P<entity>\w+)"
    r"(?:\s+WHERE\s+MetaData\.LastUpdatedTime\s*(?P<op>>=|>)\s*'(?P<since>[^']+)')?"
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


def render_books(books: Books) -> dict[str, list[JSON]]:
    """Every entity of the books as QBO serves it, per entity name, ordered by Id."""
    clearing, bank = account(books, "clearing"), account(books, "bank")
    fees, income = account(books, "expense"), account(books, "income")
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
    rendered["Invoice"] = [
        {
            "Id": str(invoice.number),
            "SyncToken": "0" if invoice.updated == invoice.created else "1",
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
            + f"Stripe invoice {invoice.stripe_id}",
            "domain": "QBO",
            "sparse": False,
        }
        for invoice in books.invoices
    ]
    rendered["Payment"] = [
        {
            "Id": str(payment.number),
            "SyncToken": "0",
            "MetaData": _meta(payment.created, payment.created),
            "TxnDate": payment.paid_on.isoformat(),
            "TotalAmt": minor_to_decimal(payment.amount),
            "UnappliedAmt": minor_to_decimal(0),
            "CustomerRef": _ref(payment.invoice.customer.number, payment.invoice.customer.name),
            "CurrencyRef": _currency(payment.invoice.currency),
            "DepositToAccountRef": _account_ref(clearing),
            "PaymentRefNum": payment.invoice.doc_number,
            "Line": [
                {
                    "Amount": minor_to_decimal(payment.amount),
                    "LinkedTxn": [{"TxnId": str(payment.invoice.number), "TxnType": "Invoice"}],
                }
            ],
            "domain": "QBO",
            "sparse": False,
        }
        for payment in books.payments
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
    return rendered


def fault(status: int, fault_type: str, code: str, message: str, detail: str) -> ApiResponse:
    """QBO's error body: a `Fault` with a list of errors and the server time."""
    body = {
        "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": fault_type},
        "time": datetime.now(REALM_TZ).isoformat(timespec="milliseconds"),
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
        self.tokens = TokenService("quickbooks", self.clients)
        self._renders = RenderCache[Books, dict[str, list[JSON]]](render_books)

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
            return self._query(params.get("query", ""), rendered)
        return self._cdc(params, rendered, books.now)

    def _query(self, query: str, rendered: dict[str, list[JSON]]) -> ApiResponse:
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
        if match["order"] and match["order"].lower() == "metadata.lastupdatedtime":
            selected.sort(key=lambda obj: _parse_time(obj["MetaData"]["LastUpdatedTime"]))
        page = selected[start - 1 : start - 1 + limit]
        body: JSON = {"QueryResponse": {}, "time": datetime.now(REALM_TZ).isoformat(timespec="milliseconds")}
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

    def _cdc(self, params: Mapping[str, str], rendered: dict[str, list[JSON]], now: int) -> ApiResponse:
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
            )
        if since < to_datetime(now) - CDC_LOOKBACK:
            return fault(
                400,
                "ValidationFault",
                "4000",
                "Invalid changedSince",
                "changedSince cannot be more than 30 days in the past",
            )
        responses = []
        served = 0
        for name in names:
            entity = canonical[name.lower()]
            changed = [
                obj for obj in rendered[entity] if _parse_time(obj["MetaData"]["LastUpdatedTime"]) > since
            ]
            served += len(changed)
            responses.append(
                {entity: changed, "startPosition": 1, "maxResults": len(changed)} if changed else {}
            )
        body = {
            "CDCResponse": [{"QueryResponse": responses}],
            "time": datetime.now(REALM_TZ).isoformat(timespec="milliseconds"),
        }
        return ApiResponse(200, encode_json(body), served=("cdc", served))
