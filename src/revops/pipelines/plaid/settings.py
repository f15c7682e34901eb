"""What the Plaid source extracts: its raw tables, their contracts, and how hard it retries.

Raw tables are `raw.plaid_<resource>`. Every top-level field of Plaid's object becomes a column
(nested objects as JSON text); the columns declared here exist with these types before any row
carries a value, because staging reads them.
"""

from pydantic import Field, SecretStr

from revops.core.workspaces import Account
from revops.pipelines.stripe.settings import BOOL, DECIMAL, JSON, TEXT

ITEMS_TABLE = "plaid_items"
ACCOUNTS_TABLE = "plaid_accounts"
TRANSACTIONS_TABLE = "plaid_transactions"
PLAID_TABLES = (ITEMS_TABLE, ACCOUNTS_TABLE, TRANSACTIONS_TABLE)

DEFAULT_API_BASE = "https://production.plaid.com"
SYNC_PAGE_SIZE = 500
"""Plaid's maximum `count` for /transactions/sync: fewest round trips."""
MAX_ATTEMPTS = 8
"""Attempts per request on 429 / 5xx / connection errors before the workspace fails."""
MAX_PAGINATION_RESTARTS = 5
"""Times one update is restarted after TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION."""
REQUESTS_PER_SECOND = 10.0
"""Per Item: paces requests well under Plaid's per-Item limits, so 429s stay exceptional."""
DATE, TIMESTAMP = "date", "timestamp"

ITEM_KEY = ("workspace_id", "item_id")
ITEM_COLUMNS: dict[str, str] = {
    "item_id": TEXT,
    "institution_id": TEXT,
    "institution_name": TEXT,
    "webhook": TEXT,
    "error": JSON,
    "available_products": JSON,
    "billed_products": JSON,
    "products": JSON,
    "consent_expiration_time": TEXT,
    "update_type": TEXT,
}

ACCOUNT_KEY = ("workspace_id", "account_id")
ACCOUNT_COLUMNS: dict[str, str] = {
    "account_id": TEXT,
    "item_id": TEXT,
    "name": TEXT,
    "official_name": TEXT,
    "mask": TEXT,
    "type": TEXT,
    "subtype": TEXT,
    "balances": JSON,
    # The balances flattened and exact (Plaid sends JSON numbers in major units).
    "balance_current": DECIMAL,
    "balance_available": DECIMAL,
    "balance_limit": DECIMAL,
    "iso_currency_code": TEXT,
    "unofficial_currency_code": TEXT,
}

TRANSACTION_KEY = ("workspace_id", "transaction_id")
TRANSACTION_COLUMNS: dict[str, str] = {
    "transaction_id": TEXT,
    "account_id": TEXT,
    "item_id": TEXT,
    "amount": DECIMAL,
    "iso_currency_code": TEXT,
    "unofficial_currency_code": TEXT,
    "date": DATE,
    "authorized_date": DATE,
    "datetime": TIMESTAMP,
    "authorized_datetime": TIMESTAMP,
    "name": TEXT,
    "merchant_name": TEXT,
    "payment_channel": TEXT,
    "pending": BOOL,
    "pending_transaction_id": TEXT,
    "personal_finance_category": JSON,
    "transaction_code": TEXT,
    "transaction_type": TEXT,
    "is_removed": BOOL,
}


class PlaidAccount(Account):
    """`[workspaces.<id>.plaid]`: a Plaid client and the Items (bank logins) linked for this workspace."""

    api_base: str = DEFAULT_API_BASE
    client_id: str | None = None
    secret: SecretStr | None = None
    access_tokens: list[SecretStr] = Field(default_factory=list, description="One per linked Item.")
