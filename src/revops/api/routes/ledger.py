"""The double-entry ledger (`/v1/ledger/*`) and payout reconciliation (`/v1/reconciliation/*`)."""

from datetime import date, datetime

from revops.api.keys import Scope
from revops.api.queries import CurrencyCode, Filter, MartEndpoint, SortKey
from revops.api.schemas import mart_row

CURRENCY = Filter("currency", "currency", CurrencyCode, description="ISO 4217 code (`USD` or `usd`).")
ACCOUNT = Filter("account", "account", str, description="Chart-of-accounts code (`revenue`, `cash`, …).")

# Row models are the marts' dbt contracts (types, descriptions, closed sets): api/schemas.py.
LedgerEntry = mart_row("marts.fct_ledger_entries", "LedgerEntry", exclude=("posting_key", "line_key"))
AccountBalance = mart_row("marts.fct_account_balances_daily", "AccountBalance")
PayoutReconciliation = mart_row("marts.fct_payout_reconciliation", "PayoutReconciliation")
ArAging = mart_row("marts.fct_ar_aging", "ArAging")


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
            Filter(
                "source_system", "source_system", str, description="The system the line's object comes from."
            ),
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
            Filter("status", "reconciliation_status", str, description="The reconciliation status."),
            Filter("is_flagged", "is_flagged", bool, description="Only rows that need attention (or not)."),
            CURRENCY,
            Filter("payout_id", "payout_id", str, description="One payout (`po_…`)."),
        ),
    ),
    MartEndpoint(
        path="/ledger/ar-aging",
        table="marts.fct_ar_aging",
        row=ArAging,
        scope=Scope.ledger,
        order_by=("currency", "customer_id", "age_bucket"),
        summary="Accounts receivable aging",
        description="Open receivables at the as-of date (`as_of_date`) per customer, currency and age "
        "bucket (days past due), from the ledger's receivable lines, so they tie to the "
        "`accounts_receivable` balance.",
        filters=(
            CURRENCY,
            Filter("customer_id", "customer_id", str, description="One customer (`cus_…`)."),
            Filter("age_bucket", "age_bucket", str, description="The age bucket."),
        ),
    ),
)
