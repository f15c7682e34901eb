"""The double-entry ledger (`/v1/ledger/*`) and payout reconciliation (`/v1/reconciliation/*`)."""

from datetime import date, datetime

from pydantic import BaseModel

from revops.api.keys import Scope
from revops.api.queries import Filter, MartEndpoint, SortKey
from revops.api.schemas import MinorUnits, UtcDatetime

CURRENCY = Filter("currency", "currency", str, description="ISO 4217 code, upper case (`USD`).")
ACCOUNT = Filter("account", "account", str, description="Chart-of-accounts code (`revenue`, `cash`, …).")


class LedgerEntry(BaseModel):
    workspace_id: str
    entry_id: str
    transaction_id: str
    occurred_at: UtcDatetime
    account: str
    sub_account: str
    currency: str
    debit: MinorUnits
    credit: MinorUnits
    source_system: str
    source_object_id: str
    posting_rule: str
    customer_id: str | None
    invoice_id: str | None
    description: str | None


class AccountBalance(BaseModel):
    workspace_id: str
    balance_date: date
    account: str
    sub_account: str
    account_class: str | None
    currency: str
    debits: MinorUnits
    credits: MinorUnits
    balance: MinorUnits


class PayoutReconciliation(BaseModel):
    workspace_id: str
    payout_id: str | None
    bank_transaction_id: str | None
    bank_account_id: str | None
    reconciliation_status: str
    is_flagged: bool
    currency: str | None
    payout_amount: MinorUnits | None
    deposit_amount: MinorUnits | None
    amount_difference: MinorUnits | None
    payout_created_at: UtcDatetime | None
    expected_arrival_date: date | None
    deposit_date: date | None
    days_after_expected: int | None
    deposit_description: str | None


ENDPOINTS = (
    MartEndpoint(
        path="/ledger/entries",
        table="marts.fct_ledger_entries",
        row=LedgerEntry,
        scope=Scope.ledger,
        order_by=("occurred_at", "transaction_id", "entry_id"),
        summary="Ledger entries",
        description="Double-entry lines in time order; the lines of a transaction balance per currency.",
        filters=(
            ACCOUNT,
            Filter(
                "sub_account", "sub_account", str, description="Sub-account (a bank account id for `cash`)."
            ),
            CURRENCY,
            Filter("since", "occurred_at", datetime, ">=", "Entries at or after this instant (ISO 8601)."),
            Filter("until", "occurred_at", datetime, "<", "Entries before this instant (ISO 8601)."),
            Filter("source_system", "source_system", str, description="`stripe`, `plaid`, …"),
            Filter(
                "source_object_id", "source_object_id", str, description="The object posted (`ch_…`, `in_…`)."
            ),
            Filter("transaction_id", "transaction_id", str, description="All lines of one transaction."),
        ),
    ),
    MartEndpoint(
        path="/ledger/balances",
        table="marts.fct_account_balances_daily",
        row=AccountBalance,
        scope=Scope.ledger,
        order_by=("account", "sub_account", "currency"),
        summary="Trial balance as of a date",
        description="Closing balance (debits minus credits) of every account, sub-account and currency "
        "at the end of `as_of`, with that day's debits and credits.",
        filters=(
            Filter("as_of", "balance_date", date, description="The day whose closing balances to list."),
            ACCOUNT,
            CURRENCY,
        ),
        required=("as_of",),
    ),
    MartEndpoint(
        path="/reconciliation/payouts",
        table="marts.fct_payout_reconciliation",
        row=PayoutReconciliation,
        scope=Scope.ledger,
        # A payout not yet in the bank has no deposit; an unexplained deposit has no payout.
        order_by=(SortKey("ifNull(payout_id, '')", str), SortKey("ifNull(bank_transaction_id, '')", str)),
        summary="Payouts matched to bank deposits",
        description="Every Stripe payout with its bank deposit and status, and every deposit that no "
        "payout explains.",
        filters=(
            Filter("status", "reconciliation_status", str, description="`matched`, `missing_in_bank`, …"),
            Filter("is_flagged", "is_flagged", bool, description="Only rows that need attention (or not)."),
            Filter("currency", "currency", str, description="ISO 4217 code, upper case (`USD`)."),
            Filter("payout_id", "payout_id", str, description="One payout (`po_…`)."),
        ),
    ),
)
