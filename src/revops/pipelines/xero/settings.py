"""Xero Accounting endpoints revops loads, their raw tables and the columns staging relies on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field

from revops.pipelines.oauth import OAuthAccount

DEFAULT_API_BASE = "https://api.xero.com"
API_PATH = "api.xro/2.0"
DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"
INITIAL_UPDATED_SINCE = "/Date(0+0000)/"
"""Cursor start: Xero's own date format, so cursor values compare like the ones Xero sends."""

_UPDATED: Mapping[str, str] = {"updated_date_utc": "text"}
_DATED: Mapping[str, str] = {**_UPDATED, "date": "text", "date_string": "text", "status": "text"}
# Credit notes, overpayments and prepayments: credits a customer holds, allocated or refunded.
_CREDIT: Mapping[str, str] = {
    **_DATED,
    "type": "text",
    "reference": "text",
    "contact": "json",
    "line_amount_types": "text",
    "line_items": "json",
    "currency_code": "text",
    "currency_rate": "decimal",
    "sub_total": "decimal",
    "total_tax": "decimal",
    "total": "decimal",
    "remaining_credit": "decimal",
    "allocations": "json",
    "payments": "json",
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    """Path under /api.xro/2.0 and the list's key in the body."""
    id_field: str
    """Xero's id field, as sent (`InvoiceID`)."""
    table: str
    columns: Mapping[str, str]
    paged: bool = True
    params: Mapping[str, str] = field(default_factory=dict)
    """Query parameters sent with every page (as Xero's specification declares them)."""

    @property
    def id_column(self) -> str:
        """The id's column in dlt's snake_case (`BankTransactionID` → `bank_transaction_id`)."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", self.id_field[:-2]).lower() + "_id"

    @property
    def key(self) -> tuple[str, str]:
        return ("workspace_id", self.id_column)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "Accounts",
        "AccountID",
        "xero_accounts",
        {
            **_UPDATED,
            "account_id": "text",
            "code": "text",
            "name": "text",
            "type": "text",
            "class": "text",
            "status": "text",
            "currency_code": "text",
            "bank_account_type": "text",
            "system_account": "text",
        },
        paged=False,
    ),
    Endpoint(
        "Contacts",
        "ContactID",
        "xero_contacts",
        {
            **_UPDATED,
            "contact_id": "text",
            "contact_number": "text",
            "contact_status": "text",
            "name": "text",
            "email_address": "text",
            "addresses": "json",
            "default_currency": "text",
            "is_customer": "bool",
            "is_supplier": "bool",
        },
        # Archived contacts are left out of the list unless asked for; their invoices are not.
        params={"includeArchived": "true"},
    ),
    Endpoint(
        "Invoices",
        "InvoiceID",
        "xero_invoices",
        {
            **_DATED,
            "invoice_id": "text",
            "type": "text",
            "invoice_number": "text",
            "reference": "text",
            "contact": "json",
            "due_date": "text",
            "due_date_string": "text",
            "line_amount_types": "text",
            "line_items": "json",
            "currency_code": "text",
            "sub_total": "decimal",
            "total_tax": "decimal",
            "total": "decimal",
            "amount_due": "decimal",
            "amount_paid": "decimal",
            "amount_credited": "decimal",
        },
    ),
    Endpoint(
        "Payments",
        "PaymentID",
        "xero_payments",
        {
            **_DATED,
            "payment_id": "text",
            "payment_type": "text",
            "reference": "text",
            "amount": "decimal",
            "currency_rate": "decimal",
            "is_reconciled": "bool",
            "account": "json",
            "invoice": "json",
            "credit_note": "json",
        },
    ),
    Endpoint(
        "BankTransactions",
        "BankTransactionID",
        "xero_bank_transactions",
        {
            **_DATED,
            "bank_transaction_id": "text",
            "type": "text",
            "reference": "text",
            "contact": "json",
            "bank_account": "json",
            "is_reconciled": "bool",
            "currency_code": "text",
            "line_items": "json",
            "sub_total": "decimal",
            "total_tax": "decimal",
            "total": "decimal",
        },
    ),
    Endpoint(
        "ManualJournals",
        "ManualJournalID",
        "xero_manual_journals",
        {**_DATED, "manual_journal_id": "text", "narration": "text", "journal_lines": "json"},
    ),
    Endpoint(
        "CreditNotes",
        "CreditNoteID",
        "xero_credit_notes",
        {**_CREDIT, "credit_note_id": "text", "credit_note_number": "text"},
    ),
    Endpoint("Overpayments", "OverpaymentID", "xero_overpayments", {**_CREDIT, "overpayment_id": "text"}),
    Endpoint("Prepayments", "PrepaymentID", "xero_prepayments", {**_CREDIT, "prepayment_id": "text"}),
)

XERO_TABLES: tuple[str, ...] = tuple(endpoint.table for endpoint in ENDPOINTS)


class XeroAccount(OAuthAccount):
    """`[workspaces.<id>.xero]`: a Xero organisation."""

    api_base: str = "https://api.xero.com"
    token_url: str = "https://identity.xero.com/connect/token"
    tenant_id: str = Field(description="The Xero organisation (Xero-tenant-id header).")
