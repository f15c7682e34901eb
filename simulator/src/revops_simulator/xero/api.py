"""Xero's Accounting API (`/api.xro/2.0`) over the simulated books, with Xero's shapes and semantics.

Lists page by `page` (100 per page, with a `pagination` block), `If-Modified-Since` limits them to
records updated since (inclusive), every call names its organisation in `Xero-tenant-id`, ids are
GUIDs and dates are Microsoft JSON dates (`/Date(1700000000000+0000)/`). Shapes follow
/work/shared/reference/xero-accounting-openapi.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from revops_simulator.business.books import BookAccount, BookCustomer, BookInvoice, Books, account
from revops_simulator.business.clock import DAY, day_start, to_date
from revops_simulator.faults import Faults
from revops_simulator.oauth import (
    OAuthClient,
    RenderCache,
    TokenError,
    TokenService,
    encode_json,
    grant_body,
    guid,
    minor_to_decimal,
)
from revops_simulator.provider import ApiRequest, ApiResponse, Caller
from revops_simulator.quickbooks.api import BooksWorld

ENDPOINTS = (
    "Contacts", "Accounts", "Invoices", "Payments", "BankTransactions", "ManualJournals", "CreditNotes",
    "Overpayments", "Prepayments",
)  # fmt: skip
ID_FIELDS = {
    "Accounts": "AccountID",
    "Contacts": "ContactID",
    "Invoices": "InvoiceID",
    "Payments": "PaymentID",
    "BankTransactions": "BankTransactionID",
    "ManualJournals": "ManualJournalID",
    "CreditNotes": "CreditNoteID",
    "Overpayments": "OverpaymentID",
    "Prepayments": "PrepaymentID",
}
UNPAGED = frozenset({"Accounts"})
"""Xero returns an organisation's whole chart of accounts at once."""
PAGE_SIZE = 100
REFRESH_TOKEN_TTL_S = 60 * DAY
REFRESH_GRACE_S = 30 * 60
"""Xero: a used refresh token works again for 30 minutes, in case its successor was never received."""
TOKEN_PATH = "/connect/token"
_PATH = re.compile(r"/api\.xro/2\.0/(?P<endpoint>\w+)")
_ACCOUNT_TYPES: Mapping[str, tuple[str, str]] = {
    "bank": ("BANK", "ASSET"),
    "clearing": ("BANK", "ASSET"),
    "receivable": ("CURRENT", "ASSET"),
    "income": ("REVENUE", "REVENUE"),
    "expense": ("EXPENSE", "EXPENSE"),
    "bad_debt": ("EXPENSE", "EXPENSE"),
}

JSON = dict[str, Any]


def xero_time(ts: int) -> str:
    return f"/Date({ts * 1000}+0000)/"


def xero_date(day: date) -> str:
    return xero_time(day_start(day))


def _date_fields(name: str, day: date) -> JSON:
    return {name: xero_date(day), f"{name}String": f"{day.isoformat()}T00:00:00"}


def _account_ref(entry: BookAccount, ids: Mapping[str, str]) -> JSON:
    return {"AccountID": ids[entry.code], "Code": entry.code, "Name": entry.name}


def xero_invoice_status(invoice: BookInvoice) -> str:
    """Xero deletes only drafts; an approved invoice deleted in the books is voided."""
    if invoice.draft:
        return "DELETED" if invoice.deleted_at is not None else "DRAFT"
    if invoice.status == "voided" or invoice.deleted_at is not None:
        return "VOIDED"
    if invoice.status == "paid" or invoice.balance == 0:
        return "PAID"
    return "AUTHORISED"


def render_books(books: Books, company_id: str) -> dict[str, list[JSON]]:
    """Every record of the books as Xero serves it, per endpoint, in Xero's order (oldest update first)."""

    def gid(kind: str, number: int | str) -> str:
        return guid(company_id, kind, number)

    account_ids = {entry.code: gid("account", entry.code) for entry in books.accounts}
    clearing, bank = account(books, "clearing"), account(books, "bank")
    fees, income = account(books, "expense"), account(books, "income")
    accounts_by_kind = {entry.kind: entry for entry in books.accounts}
    contacts = {customer.number: gid("contact", customer.number) for customer in books.customers}
    invoice_ids = {invoice.number: gid("invoice", invoice.number) for invoice in books.invoices}

    def contact(customer: BookCustomer) -> JSON:
        return {"ContactID": contacts[customer.number], "Name": customer.name}

    def invoice_ref(invoice: BookInvoice) -> JSON:
        return {
            "Type": "ACCREC",
            "InvoiceID": invoice_ids[invoice.number],
            "InvoiceNumber": invoice.doc_number,
            "CurrencyCode": invoice.currency,
            "Contact": contact(invoice.customer),
        }

    credit_ids = {
        (credit.outcome == "refund", credit.number): gid("credit-note", credit.doc_number)
        for credit in books.credits
    }
    paid_with: dict[int, list[JSON]] = {}
    for payment in books.payments:
        if payment.kind == "invoice" and payment.invoice is not None:
            paid_with.setdefault(payment.invoice.number, []).append(
                {
                    "PaymentID": gid("payment", payment.number),
                    **_date_fields("Date", payment.paid_on),
                    "Amount": minor_to_decimal(payment.amount),
                    "CurrencyRate": minor_to_decimal(1, 0),
                }
            )
    credited_by: dict[int, list[JSON]] = {}
    for credit in books.credits:
        if credit.outcome == "applied" and credit.invoice is not None:
            credited_by.setdefault(credit.invoice.number, []).append(
                {
                    "CreditNoteID": credit_ids[False, credit.number],
                    "CreditNoteNumber": credit.doc_number,
                    "Total": minor_to_decimal(credit.amount),
                    "AppliedAmount": minor_to_decimal(credit.amount),
                    **_date_fields("Date", credit.issued),
                }
            )
    rendered: dict[str, list[JSON]] = {}
    rendered["Accounts"] = [
        {
            "AccountID": account_ids[entry.code],
            "Code": entry.code,
            "Name": entry.name,
            "Type": _ACCOUNT_TYPES[entry.kind][0],
            "Class": _ACCOUNT_TYPES[entry.kind][1],
            "Status": "ACTIVE",
            "TaxType": "NONE",
            "EnablePaymentsToAccount": entry.kind == "clearing",
            **(
                {"BankAccountType": "BANK", "CurrencyCode": books.home_currency}
                if entry.kind in ("bank", "clearing")
                else {}
            ),
            **({"SystemAccount": "DEBTORS"} if entry.kind == "receivable" else {}),
            "UpdatedDateUTC": xero_time(entry.created),
        }
        for entry in books.accounts
    ]
    rendered["Contacts"] = [
        {
            "ContactID": contacts[customer.number],
            "ContactNumber": customer.stripe_id,
            "ContactStatus": "ACTIVE",
            "Name": customer.name,
            "EmailAddress": customer.email,
            "Addresses": [{"AddressType": "POBOX", "Country": customer.country}],
            "IsCustomer": True,
            "IsSupplier": False,
            "DefaultCurrency": customer.currency,
            "UpdatedDateUTC": xero_time(customer.created),
            "HasAttachments": False,
        }
        for customer in books.customers
    ]
    rendered["Invoices"] = [
        {
            "Type": "ACCREC",
            "InvoiceID": invoice_ids[invoice.number],
            "InvoiceNumber": invoice.doc_number,
            "Reference": invoice.stripe_id or "",
            "Contact": contact(invoice.customer),
            **_date_fields("Date", to_date(invoice.issued)),
            **_date_fields("DueDate", to_date(invoice.issued)),
            "Status": xero_invoice_status(invoice),
            "LineAmountTypes": "NoTax",
            "LineItems": [
                {
                    "LineItemID": gid(f"line-{invoice.number}", index),
                    "Description": line.description,
                    # Xero keeps Quantity x UnitAmount = LineAmount; a line that does not divide is one unit.
                    "Quantity": minor_to_decimal(_units(line.quantity, line.amount), 0),
                    "UnitAmount": minor_to_decimal(line.amount // _units(line.quantity, line.amount)),
                    "LineAmount": minor_to_decimal(line.amount),
                    "AccountCode": income.code,
                    **({"ItemCode": line.item.stripe_id} if line.item is not None else {}),
                    "TaxType": "NONE",
                    "TaxAmount": minor_to_decimal(0),
                }
                for index, line in enumerate(invoice.lines, start=1)
            ],
            "SubTotal": minor_to_decimal(invoice.total),
            "TotalTax": minor_to_decimal(0),
            "Total": minor_to_decimal(invoice.total),
            "AmountDue": minor_to_decimal(0 if invoice.deleted_at is not None else invoice.balance),
            "AmountPaid": minor_to_decimal(invoice.amount_paid),
            "AmountCredited": minor_to_decimal(invoice.credited),
            "CurrencyCode": invoice.currency,
            "CurrencyRate": minor_to_decimal(1, 0),
            "IsDiscounted": False,
            "Payments": paid_with.get(invoice.number, []),
            "CreditNotes": credited_by.get(invoice.number, []),
            "Prepayments": [],
            "Overpayments": [],
            **(
                {"FullyPaidOnDate": paid_with[invoice.number][-1]["Date"]}
                if invoice.status == "paid" and invoice.number in paid_with
                else {}
            ),
            "UpdatedDateUTC": xero_time(invoice.updated),
            "HasAttachments": False,
            "HasErrors": False,
        }
        for invoice in books.invoices
    ]
    refunds = [credit for credit in books.credits if credit.outcome == "refund"]
    credit_ids = {
        (credit.outcome == "refund", credit.number): gid("credit-note", f"{credit.doc_number}")
        for credit in books.credits
    }
    rendered["Payments"] = [
        {
            "PaymentID": gid("payment", payment.number),
            **_date_fields("Date", payment.paid_on),
            "Amount": minor_to_decimal(payment.amount),
            "Reference": payment.invoice.stripe_id or "",
            "CurrencyRate": minor_to_decimal(1, 0),
            "PaymentType": "ACCRECPAYMENT",
            "Status": "AUTHORISED",
            "IsReconciled": False,
            "UpdatedDateUTC": xero_time(payment.created),
            "Account": _account_ref(clearing, account_ids),
            "Invoice": invoice_ref(payment.invoice),
        }
        for payment in books.payments
        if payment.kind == "invoice" and payment.invoice is not None
    ] + [
        # A credit note's cash refund is a payment on the credit note.
        {
            "PaymentID": gid("refund-payment", credit.number),
            **_date_fields("Date", credit.issued),
            "Amount": minor_to_decimal(credit.amount),
            "Reference": credit.description,
            "CurrencyRate": minor_to_decimal(1, 0),
            "PaymentType": "ARCREDITPAYMENT",
            "Status": "AUTHORISED",
            "IsReconciled": False,
            "UpdatedDateUTC": xero_time(credit.created),
            "Account": _account_ref(clearing, account_ids),
            "CreditNote": {
                "CreditNoteID": credit_ids[True, credit.number],
                "CreditNoteNumber": credit.doc_number,
                "Type": "ACCRECCREDIT",
                "CurrencyCode": credit.currency,
                "Contact": contact(credit.customer),
            },
        }
        for credit in refunds
    ]
    rendered["CreditNotes"] = [
        {
            "CreditNoteID": credit_ids[credit.outcome == "refund", credit.number],
            "CreditNoteNumber": credit.doc_number,
            "Type": "ACCRECCREDIT",
            "Reference": credit.invoice.doc_number if credit.invoice is not None else "",
            "Contact": contact(credit.customer),
            **_date_fields("Date", credit.issued),
            "Status": "AUTHORISED" if credit.outcome == "customer_credit" else "PAID",
            "LineAmountTypes": "NoTax",
            "LineItems": [
                {
                    "LineItemID": gid(f"credit-line-{credit.doc_number}", 1),
                    "Description": credit.description,
                    "Quantity": minor_to_decimal(1, 0),
                    "UnitAmount": minor_to_decimal(credit.amount),
                    "LineAmount": minor_to_decimal(credit.amount),
                    "AccountCode": accounts_by_kind[credit.account].code,
                    "TaxType": "NONE",
                    "TaxAmount": minor_to_decimal(0),
                }
            ],
            "SubTotal": minor_to_decimal(credit.amount),
            "TotalTax": minor_to_decimal(0),
            "Total": minor_to_decimal(credit.amount),
            "RemainingCredit": minor_to_decimal(credit.amount if credit.outcome == "customer_credit" else 0),
            "CurrencyCode": credit.currency,
            "CurrencyRate": minor_to_decimal(1, 0),
            "Allocations": (
                [
                    {
                        "AllocationID": gid("allocation", credit.doc_number),
                        "Amount": minor_to_decimal(credit.amount),
                        **_date_fields("Date", credit.issued),
                        "Invoice": invoice_ref(credit.invoice),
                    }
                ]
                if credit.outcome == "applied" and credit.invoice is not None
                else []
            ),
            "Payments": (
                [
                    {
                        "PaymentID": gid("refund-payment", credit.number),
                        **_date_fields("Date", credit.issued),
                        "Amount": minor_to_decimal(credit.amount),
                        "Reference": credit.description,
                        "CurrencyRate": minor_to_decimal(1, 0),
                    }
                ]
                if credit.outcome == "refund"
                else []
            ),
            "UpdatedDateUTC": xero_time(credit.created),
            "HasAttachments": False,
        }
        for credit in books.credits
    ]
    for endpoint, kind, label in (
        ("Overpayments", "overpayment", "Wire received: invoice paid twice"),
        ("Prepayments", "prepayment", "Wire received: advance for services"),
    ):
        prefix = endpoint[:-1]
        rendered[endpoint] = [
            {
                f"{prefix}ID": gid(kind, payment.number),
                "Type": f"RECEIVE-{kind.upper()}",
                "Contact": contact(payment.customer),
                **_date_fields("Date", payment.paid_on),
                "Status": "AUTHORISED",
                "LineAmountTypes": "NoTax",
                "LineItems": [
                    {
                        "LineItemID": gid(f"{kind}-line-{payment.number}", 1),
                        "Description": label,
                        "Quantity": minor_to_decimal(1, 0),
                        "UnitAmount": minor_to_decimal(payment.amount),
                        "LineAmount": minor_to_decimal(payment.amount),
                        "AccountCode": accounts_by_kind["receivable"].code,
                        "TaxType": "NONE",
                        "TaxAmount": minor_to_decimal(0),
                    }
                ],
                "SubTotal": minor_to_decimal(payment.amount),
                "TotalTax": minor_to_decimal(0),
                "Total": minor_to_decimal(payment.amount),
                "UpdatedDateUTC": xero_time(payment.created),
                "CurrencyCode": payment.currency,
                "CurrencyRate": minor_to_decimal(1, 0),
                "RemainingCredit": minor_to_decimal(payment.amount),
                "Allocations": [],
                "HasAttachments": False,
                **({"Reference": label} if kind == "overpayment" else {}),
            }
            for payment in books.payments
            if payment.kind == kind
        ]
    rendered["BankTransactions"] = [
        {
            "BankTransactionID": gid("bank-transaction", deposit.number),
            "Type": "RECEIVE",
            "Contact": {"Name": "Stripe"},
            "BankAccount": _account_ref(bank, account_ids),
            "IsReconciled": True,
            **_date_fields("Date", deposit.deposited_on),
            "Reference": deposit.stripe_payout_id,
            "CurrencyCode": deposit.currency,
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "LineItems": [
                {
                    "LineItemID": gid(f"bank-line-{deposit.number}", 1),
                    "Description": f"Stripe payout {deposit.stripe_payout_id}",
                    "Quantity": minor_to_decimal(1, 0),
                    "UnitAmount": minor_to_decimal(deposit.amount),
                    "LineAmount": minor_to_decimal(deposit.amount),
                    "AccountCode": clearing.code,
                }
            ],
            "SubTotal": minor_to_decimal(deposit.amount),
            "TotalTax": minor_to_decimal(0),
            "Total": minor_to_decimal(deposit.amount),
            "UpdatedDateUTC": xero_time(deposit.created),
        }
        for deposit in books.deposits
    ]
    rendered["ManualJournals"] = [
        {
            "ManualJournalID": gid("manual-journal", journal.number),
            **_date_fields("Date", journal.posted_on),
            "Narration": f"Stripe fees {journal.month}",
            "Status": "POSTED",
            "LineAmountTypes": "NoTax",
            "ShowOnCashBasisReports": True,
            "UpdatedDateUTC": xero_time(journal.created),
            # Xero journal lines are signed: debits positive, credits negative.
            "JournalLines": [
                {
                    "LineAmount": minor_to_decimal(journal.amount),
                    "AccountCode": fees.code,
                    "Description": "Stripe fees",
                    "TaxType": "NONE",
                },
                {
                    "LineAmount": minor_to_decimal(-journal.amount),
                    "AccountCode": clearing.code,
                    "Description": "Stripe fees",
                    "TaxType": "NONE",
                },
            ],
        }
        for journal in books.journals
    ]
    for endpoint, records in rendered.items():
        records.sort(key=lambda record: (_epoch_ms(record["UpdatedDateUTC"]), record[ID_FIELDS[endpoint]]))
    return rendered


def _units(quantity: int, amount: int) -> int:
    return quantity if quantity > 0 and amount % quantity == 0 else 1


def _epoch_ms(text: str) -> int:
    return int(text[6 : text.index("+")])


def problem(status: int, title: str, detail: str) -> ApiResponse:
    """Xero's error body for authentication, authorisation and throttling failures."""
    return ApiResponse(
        status, {"Type": None, "Title": title, "Status": status, "Detail": detail, "Extensions": {}}
    )


def _modified_since(header: str) -> datetime:
    """`If-Modified-Since` as Xero accepts it: an HTTP date or an ISO timestamp (UTC when naive)."""
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        moment = datetime.fromisoformat(header.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class XeroApi:
    prefix = "/xero"

    def __init__(self, world: BooksWorld) -> None:
        self.world = world
        self.clients: dict[str, OAuthClient] = world.accounting_clients("xero")
        self.tokens = TokenService("xero", self.clients, REFRESH_GRACE_S)
        company_id = {client.workspace_id: client.company_id for client in self.clients.values()}
        self._renders = RenderCache[Books, dict[str, list[JSON]]](
            lambda books: render_books(books, company_id[books.tenant_id])
        )

    def route(self, request: ApiRequest) -> str:
        return f"{request.method} {request.path}"

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        if request.path == TOKEN_PATH:
            client = self.tokens.client(request.headers.get("authorization"))
            if client is None:
                return ApiResponse(400, {"error": "invalid_client"})
            return Caller(client.workspace_id, f"xero:{client.company_id}")
        workspace_id, trouble = self.tokens.check(request.headers.get("authorization"))
        if workspace_id is None:
            detail = (
                f"TokenExpired: token expired at {datetime.now(UTC):%m/%d/%Y %H:%M:%S}"
                if trouble == "expired"
                else "AuthenticationUnsuccessful"
            )
            return problem(401, "Unauthorized", detail)
        return Caller(workspace_id, f"xero:{self.clients[workspace_id].company_id}")

    def rate_limited(self, retry_after: float) -> ApiResponse:
        response = problem(429, "Too Many Requests", "Rate limit exceeded")
        headers = {"Retry-After": str(max(1, round(retry_after))), "X-Rate-Limit-Problem": "minute"}
        return ApiResponse(429, response.payload, headers)

    def server_error(self, status: int) -> ApiResponse:
        return problem(
            status,
            "Internal Server Error" if status == 500 else "Service Unavailable",
            "An error occurred in Xero.",
        )

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse:
        client = self.clients[caller.workspace_id]
        if request.path == TOKEN_PATH and request.method == "POST":
            try:
                grant = self.tokens.refresh(client, request.body, faults)
            except TokenError as error:
                return ApiResponse(error.status, error.body)
            return ApiResponse(200, grant_body(grant, REFRESH_TOKEN_TTL_S))
        match = _PATH.fullmatch(request.path)
        if match is None or match["endpoint"] not in ENDPOINTS or request.method != "GET":
            return ApiResponse(
                404,
                {
                    "Type": None,
                    "Title": "Not Found",
                    "Status": 404,
                    "Detail": "The resource you're looking for cannot be found",
                },
            )
        if request.headers.get("xero-tenant-id") != client.company_id:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        endpoint = match["endpoint"]
        params = dict(request.query)
        records = self._renders.get(self.world.books(caller.workspace_id))[endpoint]
        if "if-modified-since" in request.headers:
            try:
                since_ms = int(_modified_since(request.headers["if-modified-since"]).timestamp() * 1000)
            except ValueError:
                return ApiResponse(
                    400,
                    {
                        "ErrorNumber": 14,
                        "Type": "PostDataInvalidException",
                        "Message": "Invalid If-Modified-Since header",
                    },
                )
            # A record without a last-update time cannot be judged: it is listed.
            records = [
                record
                for record in records
                if "UpdatedDateUTC" not in record or _epoch_ms(record["UpdatedDateUTC"]) >= since_ms
            ]
        body: JSON = {
            "Id": guid("response", endpoint, len(records)),
            "Status": "OK",
            "ProviderName": "revops simulator",
            "DateTimeUTC": xero_time(int(datetime.now(UTC).timestamp())),
        }
        if endpoint not in UNPAGED:
            page_text = params.get("page", "1")
            if not page_text.isdigit() or int(page_text) < 1:
                return ApiResponse(
                    400,
                    {
                        "ErrorNumber": 10,
                        "Type": "ValidationException",
                        "Message": "page must be a positive integer",
                    },
                )
            page = int(page_text)
            item_count = len(records)
            records = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            body["pagination"] = {
                "page": page,
                "pageSize": PAGE_SIZE,
                "pageCount": -(-item_count // PAGE_SIZE),
                "itemCount": item_count,
            }
        body[endpoint] = records
        return ApiResponse(200, encode_json(body), served=(endpoint, len(records)))
