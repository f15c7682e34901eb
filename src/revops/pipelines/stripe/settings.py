"""What the Stripe source extracts: endpoints, their raw-table contracts and change-tracking rules.

Each endpoint lands in `raw.stripe_<resource>`. Every top-level field of the Stripe object becomes a
column (nested objects and lists as JSON text); the columns listed here are declared up front so
they exist, with these types, even before any row carries a value, because staging reads them.
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, SecretStr

from revops.core.workspaces import Account

# Stripe's documented per-key read limits; the source stays under them.
LIVE_MODE_REQUESTS_PER_SECOND = 100.0
TEST_MODE_REQUESTS_PER_SECOND = 25.0
PER_ENDPOINT_REQUESTS_PER_SECOND = 25.0
PAGE_SIZE = 100
# /v1/events reaches back 30 days; a cursor older than this margin forces a full re-sync.
EVENTS_RETENTION_DAYS = 30
EVENTS_SAFETY_MARGIN_DAYS = 1
# Above this many changed objects of one kind, re-listing is cheaper than fetching each by id.
MAX_CHANGED_IDS_TO_RETRIEVE = 200

TABLE_PREFIX = "stripe_"


@dataclass(frozen=True)
class Endpoint:
    resource: str
    """dlt resource name; the raw table is `stripe_<resource>`."""
    path: str
    id_prefixes: tuple[str, ...]
    columns: dict[str, str]
    """Declared columns (dlt data types) beyond the lineage columns."""
    mutable: bool = True
    """Objects change after creation, so changes are tracked through events and periodic re-syncs."""
    event_object: str | None = None
    """`data.object.object` of the events that signal a change to this endpoint's objects."""
    list_params: dict[str, str] = field(default_factory=dict)
    includable: tuple[str, ...] = ()
    """Fields Stripe returns only when asked for with `expand[]` (a price's `tiers`)."""
    money_fields: tuple[str, ...] = ()
    decimal_fields: tuple[str, ...] = ()
    """Fields Stripe sends as JSON numbers with a fraction; kept exact as decimals."""

    @property
    def list_query(self) -> dict[str, Any]:
        expand = [f"data.{name}" for name in self.includable]
        return {**self.list_params, **({"expand": expand} if expand else {})}

    @property
    def retrieve_query(self) -> dict[str, Any]:
        return {"expand": list(self.includable)} if self.includable else {}

    @property
    def table(self) -> str:
        return TABLE_PREFIX + self.resource


JSON, TEXT, BIGINT, BOOL, DECIMAL = "json", "text", "bigint", "bool", "decimal"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "customers",
        "/v1/customers",
        ("cus_",),
        event_object="customer",
        columns={
            "created": BIGINT,
            "email": TEXT,
            "name": TEXT,
            "description": TEXT,
            "currency": TEXT,
            "balance": BIGINT,
            "delinquent": BOOL,
            "deleted": BOOL,
            "address": JSON,
            "invoice_settings": JSON,
            "default_source": TEXT,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("balance",),
    ),
    Endpoint(
        "products",
        "/v1/products",
        ("prod_",),
        event_object="product",
        columns={
            "created": BIGINT,
            "updated": BIGINT,
            "name": TEXT,
            "description": TEXT,
            "active": BOOL,
            "type": TEXT,
            "default_price": TEXT,
            "unit_label": TEXT,
            "livemode": BOOL,
            "metadata": JSON,
        },
    ),
    Endpoint(
        "prices",
        "/v1/prices",
        ("price_",),
        event_object="price",
        includable=("tiers",),
        columns={
            "created": BIGINT,
            "product": TEXT,
            "active": BOOL,
            "currency": TEXT,
            "unit_amount": BIGINT,
            "unit_amount_decimal": TEXT,
            "billing_scheme": TEXT,
            "type": TEXT,
            "recurring": JSON,
            "tiers_mode": TEXT,
            "tiers": JSON,
            "lookup_key": TEXT,
            "nickname": TEXT,
            "tax_behavior": TEXT,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("unit_amount",),
    ),
    Endpoint(
        "subscriptions",
        "/v1/subscriptions",
        ("sub_",),
        event_object="subscription",
        # Without status=all Stripe omits canceled subscriptions from the list.
        list_params={"status": "all"},
        columns={
            "created": BIGINT,
            "customer": TEXT,
            "status": TEXT,
            "currency": TEXT,
            "start_date": BIGINT,
            "billing_cycle_anchor": BIGINT,
            "cancel_at": BIGINT,
            "cancel_at_period_end": BOOL,
            "canceled_at": BIGINT,
            "ended_at": BIGINT,
            "trial_start": BIGINT,
            "trial_end": BIGINT,
            "collection_method": TEXT,
            "days_until_due": BIGINT,
            "latest_invoice": TEXT,
            "default_payment_method": TEXT,
            "cancellation_details": JSON,
            "pause_collection": JSON,
            "items": JSON,
            "discounts": JSON,
            "livemode": BOOL,
            "metadata": JSON,
        },
    ),
    Endpoint(
        "invoices",
        "/v1/invoices",
        ("in_",),
        event_object="invoice",
        columns={
            "created": BIGINT,
            "customer": TEXT,
            "subscription": TEXT,
            "parent": JSON,
            "number": TEXT,
            "status": TEXT,
            "currency": TEXT,
            "amount_due": BIGINT,
            "amount_paid": BIGINT,
            "amount_remaining": BIGINT,
            "amount_overpaid": BIGINT,
            "subtotal": BIGINT,
            "total": BIGINT,
            "total_taxes": JSON,
            "total_discount_amounts": JSON,
            "subtotal_excluding_tax": BIGINT,
            "total_excluding_tax": BIGINT,
            "starting_balance": BIGINT,
            "ending_balance": BIGINT,
            "attempt_count": BIGINT,
            "attempted": BOOL,
            "auto_advance": BOOL,
            "billing_reason": TEXT,
            "collection_method": TEXT,
            "period_start": BIGINT,
            "period_end": BIGINT,
            "due_date": BIGINT,
            "effective_at": BIGINT,
            "next_payment_attempt": BIGINT,
            "status_transitions": JSON,
            "customer_email": TEXT,
            "hosted_invoice_url": TEXT,
            "lines": JSON,
            "discounts": JSON,
            "last_finalization_error": JSON,
            "deleted": BOOL,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount_due", "amount_paid", "amount_remaining", "subtotal", "total"),
    ),
    Endpoint(
        "invoice_payments",
        "/v1/invoice_payments",
        ("inpay_",),
        event_object="invoice_payment",
        columns={
            "created": BIGINT,
            "invoice": TEXT,
            "amount_paid": BIGINT,
            "amount_requested": BIGINT,
            "currency": TEXT,
            "status": TEXT,
            "is_default": BOOL,
            "payment": JSON,
            "status_transitions": JSON,
            "livemode": BOOL,
        },
        money_fields=("amount_requested",),
    ),
    Endpoint(
        "charges",
        "/v1/charges",
        ("ch_", "py_"),
        event_object="charge",
        columns={
            "created": BIGINT,
            "customer": TEXT,
            "payment_intent": TEXT,
            "amount": BIGINT,
            "amount_captured": BIGINT,
            "amount_refunded": BIGINT,
            "currency": TEXT,
            "status": TEXT,
            "paid": BOOL,
            "captured": BOOL,
            "refunded": BOOL,
            "disputed": BOOL,
            "failure_code": TEXT,
            "failure_message": TEXT,
            "outcome": JSON,
            "balance_transaction": TEXT,
            "payment_method": TEXT,
            "payment_method_details": JSON,
            "billing_details": JSON,
            "description": TEXT,
            "calculated_statement_descriptor": TEXT,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount", "amount_captured", "amount_refunded"),
    ),
    Endpoint(
        "payment_intents",
        "/v1/payment_intents",
        ("pi_",),
        event_object="payment_intent",
        columns={
            "created": BIGINT,
            "customer": TEXT,
            "amount": BIGINT,
            "amount_received": BIGINT,
            "currency": TEXT,
            "status": TEXT,
            "latest_charge": TEXT,
            "last_payment_error": JSON,
            "payment_method": TEXT,
            "description": TEXT,
            "canceled_at": BIGINT,
            "cancellation_reason": TEXT,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount", "amount_received"),
    ),
    Endpoint(
        "refunds",
        "/v1/refunds",
        ("re_", "pyr_"),
        event_object="refund",
        columns={
            "created": BIGINT,
            "charge": TEXT,
            "payment_intent": TEXT,
            "amount": BIGINT,
            "currency": TEXT,
            "status": TEXT,
            "reason": TEXT,
            "balance_transaction": TEXT,
            "metadata": JSON,
        },
        money_fields=("amount",),
    ),
    Endpoint(
        "disputes",
        "/v1/disputes",
        ("dp_", "du_"),
        event_object="dispute",
        columns={
            "created": BIGINT,
            "charge": TEXT,
            "payment_intent": TEXT,
            "amount": BIGINT,
            "currency": TEXT,
            "status": TEXT,
            "reason": TEXT,
            "balance_transactions": JSON,
            "evidence_details": JSON,
            "is_charge_refundable": BOOL,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount",),
    ),
    Endpoint(
        "payouts",
        "/v1/payouts",
        ("po_",),
        event_object="payout",
        columns={
            "created": BIGINT,
            "amount": BIGINT,
            "currency": TEXT,
            "arrival_date": BIGINT,
            "status": TEXT,
            "method": TEXT,
            "type": TEXT,
            "automatic": BOOL,
            "balance_transaction": TEXT,
            "failure_balance_transaction": TEXT,
            "failure_code": TEXT,
            "failure_message": TEXT,
            "description": TEXT,
            "statement_descriptor": TEXT,
            "destination": TEXT,
            "reconciliation_status": TEXT,
            "trace_id": JSON,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount",),
    ),
    Endpoint(
        # Balance transactions move from pending to available without an event, so they are
        # re-synced periodically like the evented objects.
        "balance_transactions",
        "/v1/balance_transactions",
        ("txn_",),
        event_object=None,
        columns={
            "created": BIGINT,
            "amount": BIGINT,
            "currency": TEXT,
            "net": BIGINT,
            "fee": BIGINT,
            "fee_details": JSON,
            "type": TEXT,
            "reporting_category": TEXT,
            "source": TEXT,
            "status": TEXT,
            "available_on": BIGINT,
            "exchange_rate": DECIMAL,
            "description": TEXT,
            "balance_type": TEXT,
        },
        money_fields=("amount", "net", "fee"),
        decimal_fields=("exchange_rate",),
    ),
    Endpoint(
        "tax_rates",
        "/v1/tax_rates",
        ("txr_",),
        event_object="tax_rate",
        columns={
            "created": BIGINT,
            "display_name": TEXT,
            "description": TEXT,
            "percentage": DECIMAL,
            "effective_percentage": DECIMAL,
            "inclusive": BOOL,
            "active": BOOL,
            "country": TEXT,
            "state": TEXT,
            "jurisdiction": TEXT,
            "jurisdiction_level": TEXT,
            "tax_type": TEXT,
            "rate_type": TEXT,
            "flat_amount": JSON,
            "livemode": BOOL,
            "metadata": JSON,
        },
        decimal_fields=("percentage", "effective_percentage"),
    ),
    Endpoint(
        # Coupon ids are the merchant's own codes or eight random characters: no prefix to check.
        # Redemptions change `times_redeemed` without an event; the periodic re-sync catches them up.
        "coupons",
        "/v1/coupons",
        ("",),
        event_object="coupon",
        columns={
            "created": BIGINT,
            "name": TEXT,
            "percent_off": DECIMAL,
            "amount_off": BIGINT,
            "currency": TEXT,
            "duration": TEXT,
            "duration_in_months": BIGINT,
            "redeem_by": BIGINT,
            "max_redemptions": BIGINT,
            "times_redeemed": BIGINT,
            "valid": BOOL,
            "deleted": BOOL,
            "applies_to": JSON,
            "livemode": BOOL,
            "metadata": JSON,
        },
        money_fields=("amount_off",),
        decimal_fields=("percent_off",),
    ),
    Endpoint(
        "promotion_codes",
        "/v1/promotion_codes",
        ("promo_",),
        event_object="promotion_code",
        columns={
            "created": BIGINT,
            "code": TEXT,
            "active": BOOL,
            "promotion": JSON,
            "customer": TEXT,
            "expires_at": BIGINT,
            "max_redemptions": BIGINT,
            "times_redeemed": BIGINT,
            "restrictions": JSON,
            "livemode": BOOL,
            "metadata": JSON,
        },
    ),
    Endpoint(
        "events",
        "/v1/events",
        ("evt_",),
        mutable=False,
        columns={
            "created": BIGINT,
            "type": TEXT,
            "api_version": TEXT,
            "data": JSON,
            "request": JSON,
            "pending_webhooks": BIGINT,
            "livemode": BOOL,
        },
    ),
)

# Tables derived from a parent object's embedded lists (fetched further when `has_more`).
SUBSCRIPTION_ITEMS_TABLE = "stripe_subscription_items"
SUBSCRIPTION_ITEM_COLUMNS: dict[str, str] = {
    "subscription": TEXT,
    "created": BIGINT,
    "price": JSON,
    "plan": JSON,
    "quantity": BIGINT,
    "current_period_start": BIGINT,
    "current_period_end": BIGINT,
    "discounts": JSON,
    "metadata": JSON,
}
INVOICE_LINE_ITEMS_TABLE = "stripe_invoice_line_items"
INVOICE_LINE_ITEM_COLUMNS: dict[str, str] = {
    "invoice": TEXT,
    "amount": BIGINT,
    "currency": TEXT,
    "description": TEXT,
    "quantity": BIGINT,
    "period": JSON,
    "pricing": JSON,
    "parent": JSON,
    "subscription": TEXT,
    "discountable": BOOL,
    "discount_amounts": JSON,
    "taxes": JSON,
    "livemode": BOOL,
    "metadata": JSON,
}
# What each automatic payout paid out: `/v1/balance_transactions?payout=<id>` (Stripe answers it for
# automatic payouts only), listed once when the payout is first listed (its contents are fixed when
# Stripe creates it). One row per (payout, balance transaction) with these columns only: the link and
# what Stripe's payout reconciliation report itemizes; the whole transaction is in
# stripe_balance_transactions. (Without `created`: the payouts resource's `created` cursor would drop
# every transaction older than the payouts it has listed.)
PAYOUT_CONTENTS_TABLE = "stripe_payout_balance_transactions"
PAYOUT_CONTENTS_PATH = "/v1/balance_transactions"
PAYOUT_CONTENTS_COLUMNS: dict[str, str] = {
    "payout": TEXT,
    "type": TEXT,
    "reporting_category": TEXT,
    "source": TEXT,
    "amount": BIGINT,
    "fee": BIGINT,
    "net": BIGINT,
    "currency": TEXT,
    "available_on": BIGINT,
}
# A customer's cards are listed per customer (`GET /v1/customers/{id}/payment_methods`, the documented
# way: the account-wide `/v1/payment_methods` list is for Treasury flows), so they are a child list of
# customers; `payment_method.*` events name cards to fetch by id (a detached card has `customer` null).
PAYMENT_METHODS = Endpoint(
    "payment_methods",
    "/v1/payment_methods",
    ("pm_", "card_", "src_"),
    event_object="payment_method",
    columns={
        "created": BIGINT,
        "customer": TEXT,
        "type": TEXT,
        "card": JSON,
        "billing_details": JSON,
        "allow_redisplay": TEXT,
        "livemode": BOOL,
        "metadata": JSON,
    },
)
PAYMENT_METHODS_TABLE = PAYMENT_METHODS.table
ENDPOINTS_BY_RESOURCE = {endpoint.resource: endpoint for endpoint in ENDPOINTS}


class StripeAccount(Account):
    """`[workspaces.<id>.stripe]`: a Stripe account."""

    api_base: str = "https://api.stripe.com"
    api_key: SecretStr | None = Field(
        default=None, description="Normally left out here and resolved by dlt from env or secrets.toml."
    )
