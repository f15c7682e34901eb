"""QuickBooks Online entities revops loads, their raw tables and the columns staging relies on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field

from revops.pipelines.oauth import OAuthAccount

DEFAULT_API_BASE = "https://quickbooks.api.intuit.com"
DEFAULT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
MINOR_VERSION = "75"
PAGE_SIZE = 100
"""QBO allows up to 1000 per query page; 100 keeps responses small and retries cheap."""
CDC_LOOKBACK = timedelta(days=30)
"""Intuit: the change data capture operation reaches back 30 days."""
CDC_MAX_OBJECTS = 1000
"""Intuit: a CDC response holds at most 1,000 objects; a full one may have left changes out."""
KEY = ("workspace_id", "id")

# Columns every QBO entity has (dlt snake_case names); nested objects land as JSON text. `status` is
# QBO's entity status (`Deleted` on the stubs CDC returns for deleted entities) and `is_deleted` the
# source's soft-delete flag (true on those stubs, and on entities a full re-listing no longer finds).
_COMMON: Mapping[str, str] = {
    "id": "text",
    "sync_token": "text",
    "meta_data": "json",
    "status": "text",
    "is_deleted": "bool",
}
_TXN: Mapping[str, str] = {
    **_COMMON,
    "txn_date": "text",
    "currency_ref": "json",
    "line": "json",
    "private_note": "text",
}


@dataclass(frozen=True)
class Entity:
    name: str
    """QBO entity name, as in `SELECT * FROM <name>` and CDC's `entities`."""
    table: str
    columns: Mapping[str, str]


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "Account",
        "qbo_accounts",
        {
            **_COMMON,
            "name": "text",
            "acct_num": "text",
            "account_type": "text",
            "account_sub_type": "text",
            "classification": "text",
            "currency_ref": "json",
            "active": "bool",
        },
    ),
    Entity(
        "Customer",
        "qbo_customers",
        {
            **_COMMON,
            "display_name": "text",
            "primary_email_addr": "json",
            "bill_addr": "json",
            "currency_ref": "json",
            "active": "bool",
        },
    ),
    Entity(
        "Item",
        "qbo_items",
        {
            **_COMMON,
            "name": "text",
            "description": "text",
            "type": "text",
            "income_account_ref": "json",
            "active": "bool",
        },
    ),
    Entity(
        "Invoice",
        "qbo_invoices",
        {
            **_TXN,
            "doc_number": "text",
            "due_date": "text",
            "customer_ref": "json",
            "total_amt": "decimal",
            "balance": "decimal",
        },
    ),
    Entity(
        "Payment",
        "qbo_payments",
        {
            **_TXN,
            "customer_ref": "json",
            "deposit_to_account_ref": "json",
            "payment_ref_num": "text",
            "total_amt": "decimal",
            "unapplied_amt": "decimal",
        },
    ),
    Entity(
        "CreditMemo",
        "qbo_credit_memos",
        {
            **_TXN,
            "doc_number": "text",
            "customer_ref": "json",
            "invoice_ref": "json",
            "total_amt": "decimal",
            "balance": "decimal",
            "remaining_credit": "decimal",
        },
    ),
    Entity(
        "RefundReceipt",
        "qbo_refund_receipts",
        {
            **_TXN,
            "doc_number": "text",
            "customer_ref": "json",
            "deposit_to_account_ref": "json",
            "payment_ref_num": "text",
            "total_amt": "decimal",
        },
    ),
    Entity(
        "Deposit",
        "qbo_deposits",
        {**_TXN, "deposit_to_account_ref": "json", "total_amt": "decimal"},
    ),
    Entity("JournalEntry", "qbo_journal_entries", {**_TXN, "doc_number": "text"}),
)

QUICKBOOKS_TABLES: tuple[str, ...] = tuple(entity.table for entity in ENTITIES)


class QuickBooksAccount(OAuthAccount):
    """`[workspaces.<id>.quickbooks]`: a QuickBooks Online company."""

    api_base: str = "https://quickbooks.api.intuit.com"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    realm_id: str = Field(description="The QuickBooks company id.")
