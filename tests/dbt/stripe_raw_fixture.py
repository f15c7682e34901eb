"""Hand-made raw Stripe tables for the staging tests, created exactly as the loader creates them.

Two workspaces reuse the same Stripe ids on purpose (Stripe ids are only unique per account), so any
join that forgets `workspace_id` shows up as duplicated or mixed rows. Objects are fetched twice
(`FIRST_SYNC`, `SECOND_SYNC`) with different states, a subscription and an invoice lose an item
between fetches, and amounts come in EUR (two decimals), JPY (zero) and KWD (three).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from revops.pipelines.loading import LINEAGE_COLUMNS, RAW_DATABASE, contract_columns, ensure_table
from revops.pipelines.stripe import PRIMARY_KEY
from revops.pipelines.stripe.settings import (
    ENDPOINTS,
    INVOICE_LINE_ITEM_COLUMNS,
    INVOICE_LINE_ITEMS_TABLE,
    PAYMENT_METHODS,
    PAYMENT_METHODS_TABLE,
    PAYOUT_CONTENTS_COLUMNS,
    PAYOUT_CONTENTS_TABLE,
    SUBSCRIPTION_ITEM_COLUMNS,
    SUBSCRIPTION_ITEMS_TABLE,
    TEXT,
)

WS_A = "ws_alpha"
WS_B = "ws_beta"

FIRST_SYNC = datetime(2024, 6, 10, 8, 0, 0, 123456, tzinfo=UTC)
SECOND_SYNC = datetime(2024, 6, 11, 8, 0, 0, 654321, tzinfo=UTC)
# dlt load ids are the load's start time as text; a later load sorts later.
FIRST_LOAD = "1718006400.100000"
SECOND_LOAD = "1718092800.200000"
RELOAD = "1718092900.300000"  # the second fetch's file loaded again by a retried load

CREATED = 1717200000  # 2024-06-01 00:00:00 UTC
CREATED_AT = datetime(2024, 6, 1, tzinfo=UTC)
PAID = 1718090000  # 2024-06-11 07:13:20 UTC
DUE_BY = 1718600000

_DLT_COLUMNS = {"_dlt_load_id": TEXT, "_dlt_id": TEXT}


def _table_contract(columns: Mapping[str, str]) -> dict[str, Any]:
    """The raw-table contract as the Stripe source declares it (pipelines/stripe `declare_tables`),
    plus the lineage columns dlt's normalizer adds to every row."""
    declared = {**LINEAGE_COLUMNS, **columns, **_DLT_COLUMNS}
    return contract_columns(declared, primary_key=PRIMARY_KEY, required=("_revops_synced_at", *_DLT_COLUMNS))


def raw_contracts() -> dict[str, dict[str, Any]]:
    """Every raw Stripe table with its column schemas, keyed by table name."""
    contracts = {endpoint.table: _table_contract(endpoint.columns) for endpoint in ENDPOINTS}
    contracts[SUBSCRIPTION_ITEMS_TABLE] = _table_contract(SUBSCRIPTION_ITEM_COLUMNS)
    contracts[INVOICE_LINE_ITEMS_TABLE] = _table_contract(INVOICE_LINE_ITEM_COLUMNS)
    contracts[PAYOUT_CONTENTS_TABLE] = _table_contract(PAYOUT_CONTENTS_COLUMNS)
    contracts[PAYMENT_METHODS_TABLE] = _table_contract(PAYMENT_METHODS.columns)
    return contracts


_row_counter = 0


def _version(workspace_id: str, synced_at: datetime, load_id: str, **fields: Any) -> dict[str, Any]:
    """One fetched version of a Stripe object as a raw row; nested objects become JSON text."""
    global _row_counter
    _row_counter += 1
    row = {
        "workspace_id": workspace_id,
        "_revops_synced_at": synced_at,
        "_dlt_load_id": load_id,
        "_dlt_id": f"dlt{_row_counter:06d}",
    }
    for name, value in fields.items():
        row[name] = json.dumps(value) if isinstance(value, dict | list) else value
    return row


def v1(workspace_id: str, **fields: Any) -> dict[str, Any]:
    return _version(workspace_id, FIRST_SYNC, FIRST_LOAD, **fields)


def v2(workspace_id: str, **fields: Any) -> dict[str, Any]:
    return _version(workspace_id, SECOND_SYNC, SECOND_LOAD, **fields)


def _price(price_id: str, product: str, currency: str, unit_amount: int, interval: str = "month") -> dict:
    return {
        "id": price_id,
        "object": "price",
        "product": product,
        "currency": currency,
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
        "type": "recurring",
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed", "meter": None},
    }


PRICE_EUR = _price("price_eur", "prod_1", "eur", 1999)
PRICE_EUR_SEAT = _price("price_eur_seat", "prod_1", "eur", 500)
PRICE_JPY = _price("price_jpy", "prod_1", "jpy", 12000, interval="year")
PRICE_USD = _price("price_usd", "prod_1", "usd", 1000)


def _sub_line(subscription: str, item: str, proration: bool = False) -> dict:
    return {
        "type": "subscription_item_details",
        "subscription_item_details": {
            "subscription": subscription,
            "subscription_item": item,
            "proration": proration,
            "invoice_item": None,
        },
    }


def _pricing(price: str) -> dict:
    return {"type": "price_details", "price_details": {"price": price, "product": "prod_1"}}


PAID_BY_PI_1 = {"type": "payment_intent", "payment_intent": "pi_1"}


# The table of rows reads best one object version per call; keep formatters off it.
# fmt: off
def raw_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows per raw table: several versions per object, two workspaces sharing ids."""
    customers = [
        v1(WS_A, id="cus_1", created=CREATED, email="old@alpha.test", name="Alpha One", currency="eur",
           balance=0, delinquent=False, livemode=False, address={"country": "DE"}),
        v2(WS_A, id="cus_1", created=CREATED, email="new@alpha.test", name="Alpha One", currency="eur",
           balance=-500, delinquent=False, livemode=False, address={"country": "DE"},
           description="second fetch", invoice_settings={"default_payment_method": "pm_1"}),
        # The second fetch's file loaded again by a later load: the same fetch time, so the load id
        # decides; a different description makes the winner visible.
        _version(WS_A, SECOND_SYNC, RELOAD, id="cus_1", created=CREATED, email="new@alpha.test",
                 name="Alpha One", currency="eur", balance=-500, delinquent=False, livemode=False,
                 address={"country": "DE"}, description="reloaded",
                 invoice_settings={"default_payment_method": "pm_1"}),
        v1(WS_A, id="cus_2", created=CREATED, email="two@alpha.test", name="Alpha Two", currency="jpy",
           balance=1500, delinquent=True, livemode=False),
        # Same Stripe id as in WS_A, different account.
        v1(WS_B, id="cus_1", created=CREATED + 60, email="one@beta.test", name="Beta One", currency="usd",
           balance=250, delinquent=False, livemode=True),
        # Deleted customer: Stripe returns a stub with most fields absent.
        v1(WS_B, id="cus_3", created=None, email=None, name=None, deleted=True),
        # A blank currency next to an amount: the currency is unknown, so is the amount's size.
        v1(WS_B, id="cus_4", created=CREATED, email="four@beta.test", currency="  ", balance=700,
           livemode=True),
    ]
    products = [
        v1(WS_A, id="prod_1", created=CREATED, updated=CREATED, name="Pro", active=True, type="service",
           default_price="price_eur", livemode=False),
        v2(WS_A, id="prod_1", created=CREATED, updated=CREATED + 86400, name="Pro Plan", active=True,
           type="service", default_price="price_eur", livemode=False),
        v1(WS_B, id="prod_1", created=CREATED, updated=CREATED, name="Beta Pro", active=False,
           type="service", livemode=True),
    ]
    prices = [
        v1(WS_A, id="price_eur", created=CREATED, product="prod_1", active=True, currency="eur",
           unit_amount=1999, unit_amount_decimal="1999", billing_scheme="per_unit", type="recurring",
           recurring=PRICE_EUR["recurring"], livemode=False),
        v1(WS_A, id="price_eur_seat", created=CREATED, product="prod_1", active=True, currency="eur",
           unit_amount=500, unit_amount_decimal="499.5", billing_scheme="per_unit", type="recurring",
           recurring=PRICE_EUR_SEAT["recurring"], livemode=False),
        v1(WS_A, id="price_jpy", created=CREATED, product="prod_1", active=True, currency="jpy",
           unit_amount=12000, unit_amount_decimal="12000", billing_scheme="per_unit", type="recurring",
           recurring=PRICE_JPY["recurring"], livemode=False),
        v1(WS_A, id="price_kwd_once", created=CREATED, product="prod_1", active=True, currency="kwd",
           unit_amount=12345, unit_amount_decimal="12345", billing_scheme="per_unit", type="one_time",
           recurring=None, livemode=False),
        v1(WS_B, id="price_usd", created=CREATED, product="prod_1", active=True, currency="usd",
           unit_amount=1000, unit_amount_decimal="1000", billing_scheme="per_unit", type="recurring",
           recurring=PRICE_USD["recurring"], livemode=True),
    ]

    subscription_fields = dict(created=CREATED, customer="cus_1", currency="eur", start_date=CREATED,
                               billing_cycle_anchor=CREATED, collection_method="charge_automatically",
                               cancel_at_period_end=False, livemode=False)
    subscriptions = [
        v1(WS_A, id="sub_1", status="trialing", trial_start=CREATED, trial_end=CREATED + 14 * 86400,
           **subscription_fields),
        v2(WS_A, id="sub_1", status="active", trial_start=CREATED, trial_end=CREATED + 14 * 86400,
           latest_invoice="in_1", **subscription_fields),
        v1(WS_A, id="sub_2", created=CREATED, customer="cus_2", currency="jpy", status="canceled",
           start_date=CREATED, canceled_at=PAID, ended_at=PAID, cancel_at_period_end=False,
           cancellation_details={"reason": "cancellation_requested", "feedback": "too_expensive"},
           livemode=False),
        v1(WS_B, id="sub_1", created=CREATED, customer="cus_1", currency="usd", status="past_due",
           start_date=CREATED, cancel_at_period_end=True, livemode=True,
           pause_collection={"behavior": "mark_uncollectible", "resumes_at": PAID}),
    ]
    subscription_items = [
        # sub_1 first fetch: a base item and a seat add-on.
        v1(WS_A, id="si_1", subscription="sub_1", created=CREATED, price=PRICE_EUR, quantity=1,
           current_period_start=CREATED, current_period_end=CREATED + 30 * 86400),
        v1(WS_A, id="si_2", subscription="sub_1", created=CREATED, price=PRICE_EUR_SEAT, quantity=5,
           current_period_start=CREATED, current_period_end=CREATED + 30 * 86400),
        # sub_1 second fetch: the seat add-on was removed, the base item's quantity changed.
        v2(WS_A, id="si_1", subscription="sub_1", created=CREATED, price=PRICE_EUR, quantity=3,
           current_period_start=CREATED, current_period_end=CREATED + 30 * 86400),
        v1(WS_A, id="si_3", subscription="sub_2", created=CREATED, price=PRICE_JPY, quantity=1,
           current_period_start=CREATED, current_period_end=CREATED + 365 * 86400),
        # Same item and subscription ids in the other workspace.
        # Its embedded price has the product expanded into an object.
        v1(WS_B, id="si_1", subscription="sub_1", created=CREATED,
           price={**PRICE_USD, "product": {"id": "prod_1", "object": "product"}}, quantity=2,
           current_period_start=CREATED, current_period_end=CREATED + 30 * 86400),
    ]

    invoices = [
        v1(WS_A, id="in_1", created=CREATED, customer="cus_1", subscription=None,
           parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
           number=None, status="draft", currency="eur", amount_due=2499, amount_paid=0,
           amount_remaining=2499, subtotal=2499, total=2499, billing_reason="subscription_create",
           collection_method="charge_automatically", period_start=CREATED, period_end=CREATED,
           status_transitions={"finalized_at": None, "paid_at": None, "voided_at": None,
                               "marked_uncollectible_at": None},
           total_taxes=[], attempt_count=0, attempted=False, auto_advance=True, livemode=False),
        v2(WS_A, id="in_1", created=CREATED, customer="cus_1", subscription=None,
           parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
           number="ALPHA-0001", status="paid", currency="eur", amount_due=1999, amount_paid=1999,
           amount_remaining=0, subtotal=1680, total=1999, billing_reason="subscription_create",
           collection_method="charge_automatically", period_start=CREATED, period_end=CREATED,
           status_transitions={"finalized_at": PAID - 3600, "paid_at": PAID, "voided_at": None,
                               "marked_uncollectible_at": None},
           total_taxes=[{"amount": 319, "tax_behavior": "exclusive"}], attempt_count=1, attempted=True,
           auto_advance=False, livemode=False),
        # Pre-2025 API shape: subscription at the top level, no parent.
        v1(WS_A, id="in_2", created=CREATED, customer="cus_2", subscription="sub_2", parent=None,
           number="ALPHA-0002", status="open", currency="jpy", amount_due=12000, amount_paid=0,
           amount_remaining=12000, subtotal=12000, total=12000, billing_reason="subscription_cycle",
           collection_method="charge_automatically", period_start=CREATED, period_end=CREATED,
           due_date=DUE_BY, status_transitions={"finalized_at": CREATED}, livemode=False),
        # Malformed status_transitions: every transition time must read as NULL, not break the model.
        v1(WS_B, id="in_1", created=CREATED, customer="cus_1", subscription=None,
           parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
           number="BETA-0001", status="open", currency="usd", amount_due=2000, amount_paid=0,
           amount_remaining=2000, subtotal=2000, total=2000, status_transitions="{not json",
           total_taxes=[{"amount": 333, "tax_behavior": "inclusive", "type": "tax_rate_details",
                         "tax_rate_details": {"tax_rate": "txr_1"}, "taxability_reason": "standard_rated",
                         "taxable_amount": 1667}],
           total_discount_amounts=[], subtotal_excluding_tax=1667, total_excluding_tax=1667, livemode=True),
        # A one-off draft (no parent) loaded with its line, then deleted: the second fetch is the last
        # state `invoice.deleted` carried, marked deleted, with no lines fetched.
        *(
            version(WS_B, id="in_9", created=CREATED, customer="cus_1", parent=None, number=None,
                    status="draft", currency="usd", amount_due=45000, amount_paid=0,
                    amount_remaining=45000, subtotal=45000, total=45000, billing_reason="manual",
                    collection_method="charge_automatically", period_start=CREATED, period_end=CREATED,
                    status_transitions={"finalized_at": None, "paid_at": None, "voided_at": None,
                                        "marked_uncollectible_at": None},
                    total_taxes=[], attempt_count=0, attempted=False, auto_advance=False, livemode=True,
                    **deleted)
            for version, deleted in ((v1, {}), (v2, {"deleted": True}))
        ),
    ]
    invoice_line_items = [
        v1(WS_A, id="il_1", invoice="in_1", amount=1999, currency="eur", quantity=1,
           period={"start": CREATED, "end": CREATED + 30 * 86400},
           parent=_sub_line("sub_1", "si_1"),
           pricing=_pricing("price_eur"),
           discountable=True, livemode=False),
        v1(WS_A, id="il_2", invoice="in_1", amount=500, currency="eur", quantity=1,
           period={"start": CREATED, "end": CREATED + 30 * 86400},
           parent=_sub_line("sub_1", "si_2", proration=True),
           pricing=_pricing("price_eur_seat"),
           discountable=True, livemode=False),
        # Second fetch of in_1: the seat line is gone.
        v2(WS_A, id="il_1", invoice="in_1", amount=1999, currency="eur", quantity=1,
           period={"start": CREATED, "end": CREATED + 30 * 86400},
           parent=_sub_line("sub_1", "si_1"),
           pricing=_pricing("price_eur"),
           discount_amounts=[{"amount": 100, "discount": "di_1"}], taxes=[{"amount": 319}],
           discountable=True, livemode=False),
        v1(WS_A, id="il_3", invoice="in_2", amount=12000, currency="jpy", quantity=1, subscription="sub_2",
           period={"start": CREATED, "end": CREATED + 365 * 86400},
           parent={"type": "invoice_item_details", "invoice_item_details": {
               "invoice_item": "ii_1", "proration": False, "subscription": None}},
           pricing=_pricing("price_jpy"),
           livemode=False),
        v1(WS_B, id="il_1", invoice="in_1", amount=2000, currency="usd", quantity=2,
           period={"start": CREATED, "end": CREATED + 30 * 86400},
           parent=_sub_line("sub_1", "si_1"),
           pricing=_pricing("price_usd"),
           taxes=[{"amount": 333, "tax_behavior": "inclusive", "type": "tax_rate_details",
                   "tax_rate_details": {"tax_rate": "txr_1"}, "taxability_reason": "standard_rated",
                   "taxable_amount": 1667}],
           livemode=True),
        v1(WS_B, id="il_9", invoice="in_9", amount=45000, currency="usd", quantity=1,
           period={"start": CREATED, "end": CREATED},
           parent={"type": "invoice_item_details", "invoice_item_details": {
               "invoice_item": "ii_9", "proration": False, "subscription": None}},
           pricing={"type": "price_details", "price_details": None, "unit_amount_decimal": "45000"},
           livemode=True),
    ]
    invoice_payments = [
        v1(WS_A, id="inpay_1", created=CREATED, invoice="in_1", amount_requested=1999, amount_paid=None,
           currency="eur", status="open", is_default=True, payment=PAID_BY_PI_1,
           status_transitions={"paid_at": None, "canceled_at": None}, livemode=False),
        v2(WS_A, id="inpay_1", created=CREATED, invoice="in_1", amount_requested=1999, amount_paid=1999,
           currency="eur", status="paid", is_default=True, payment=PAID_BY_PI_1,
           status_transitions={"paid_at": PAID, "canceled_at": None}, livemode=False),
        v1(WS_B, id="inpay_1", created=CREATED, invoice="in_1", amount_requested=2000, amount_paid=None,
           currency="usd", status="open", is_default=True, payment=PAID_BY_PI_1,
           livemode=True),
    ]
    payment_intents = [
        v1(WS_A, id="pi_1", created=CREATED, customer="cus_1", amount=1999, amount_received=0,
           currency="eur", status="processing", livemode=False),
        v2(WS_A, id="pi_1", created=CREATED, customer="cus_1", amount=1999, amount_received=1999,
           currency="eur", status="succeeded", latest_charge="ch_1", livemode=False),
        v1(WS_A, id="pi_2", created=CREATED, customer="cus_2", amount=12000, amount_received=0,
           currency="jpy", status="requires_payment_method", latest_charge="ch_2",
           last_payment_error={"type": "card_error", "code": "card_declined",
                               "decline_code": "insufficient_funds", "advice_code": "try_again_later"},
           livemode=False),
        v1(WS_B, id="pi_1", created=CREATED, customer="cus_1", amount=2000, amount_received=0,
           currency="usd", status="requires_action", livemode=True),
    ]
    charge_card = {"type": "card", "card": {"brand": "visa", "funding": "credit", "country": "DE"}}
    charges = [
        v1(WS_A, id="ch_1", created=CREATED, customer="cus_1", payment_intent="pi_1", amount=1999,
           amount_captured=0, amount_refunded=0, currency="eur", status="pending", paid=False,
           captured=False, refunded=False, disputed=False, outcome=None, livemode=False),
        v2(WS_A, id="ch_1", created=CREATED, customer="cus_1", payment_intent="pi_1", amount=1999,
           amount_captured=1999, amount_refunded=500, currency="eur", status="succeeded", paid=True,
           captured=True, refunded=False, disputed=True, balance_transaction="txn_1",
           outcome={"type": "authorized", "reason": None, "network_status": "approved_by_network",
                    "risk_level": "normal", "seller_message": "Payment complete."},
           payment_method_details=charge_card, livemode=False),
        v1(WS_A, id="ch_2", created=CREATED, customer="cus_2", payment_intent="pi_2", amount=12000,
           amount_captured=0, amount_refunded=0, currency="jpy", status="failed", paid=False,
           captured=False, refunded=False, disputed=False, failure_code="card_declined",
           failure_message="Your card has insufficient funds.",
           outcome={"type": "issuer_declined", "reason": "insufficient_funds",
                    "network_status": "declined_by_network", "advice_code": "try_again_later",
                    "network_decline_code": "51", "network_advice_code": "02", "risk_level": "normal"},
           payment_method_details=charge_card, livemode=False),
        v1(WS_B, id="ch_1", created=CREATED, customer="cus_1", payment_intent="pi_1", amount=2000,
           amount_captured=2000, amount_refunded=2000, currency="usd", status="succeeded", paid=True,
           captured=True, refunded=True, disputed=False, balance_transaction="txn_1",
           outcome={"type": "blocked", "reason": "highest_risk_level",
                    "network_status": "not_sent_to_network"},
           livemode=True),
    ]
    refunds = [
        v1(WS_A, id="re_1", created=CREATED, charge="ch_1", payment_intent="pi_1", amount=500,
           currency="eur", status="pending", reason="requested_by_customer"),
        v2(WS_A, id="re_1", created=CREATED, charge="ch_1", payment_intent="pi_1", amount=500,
           currency="eur", status="succeeded", reason="requested_by_customer", balance_transaction="txn_2"),
        v1(WS_B, id="re_1", created=CREATED, charge="ch_1", payment_intent="pi_1", amount=2000,
           currency="usd", status="succeeded", reason="duplicate"),
    ]
    disputes = [
        v1(WS_A, id="dp_1", created=CREATED, charge="ch_1", payment_intent="pi_1", amount=1999,
           currency="eur", status="needs_response", reason="fraudulent", is_charge_refundable=False,
           evidence_details={"due_by": DUE_BY, "submission_count": 0}, livemode=False),
    ]
    payouts = [
        v1(WS_A, id="po_1", created=CREATED, amount=1000, currency="eur", arrival_date=CREATED + 2 * 86400,
           status="in_transit", method="standard", type="bank_account", automatic=True,
           balance_transaction="txn_3", destination="ba_1", trace_id={"status": "pending", "value": None},
           livemode=False),
        v2(WS_A, id="po_1", created=CREATED, amount=1000, currency="eur", arrival_date=CREATED + 2 * 86400,
           status="paid", method="standard", type="bank_account", automatic=True,
           balance_transaction="txn_3", destination="ba_1", reconciliation_status="completed",
           trace_id={"status": "supported", "value": "TRACE123"}, livemode=False),
        v1(WS_B, id="po_1", created=CREATED, amount=5000, currency="usd", arrival_date=CREATED,
           status="failed", method="instant", type="card", automatic=False, failure_code="account_closed",
           livemode=True),
    ]
    balance_transactions = [
        v1(WS_A, id="txn_1", created=CREATED, amount=1999, currency="eur", net=1911, fee=88,
           fee_details=[{"amount": 59, "currency": "eur", "type": "stripe_fee"},
                        {"amount": 29, "currency": "eur", "type": "application_fee"}],
           type="charge", reporting_category="charge", source="ch_1", status="pending",
           available_on=CREATED + 2 * 86400, exchange_rate=None, balance_type="payments"),
        v2(WS_A, id="txn_1", created=CREATED, amount=1999, currency="eur", net=1911, fee=88,
           fee_details=[{"amount": 59, "currency": "eur", "type": "stripe_fee"},
                        {"amount": 29, "currency": "eur", "type": "application_fee"}],
           type="charge", reporting_category="charge", source="ch_1", status="available",
           available_on=CREATED + 2 * 86400, exchange_rate=Decimal("1.085432101"), balance_type="payments"),
        v1(WS_A, id="txn_2", created=CREATED, amount=-500, currency="eur", net=-500, fee=0, fee_details=[],
           type="refund", reporting_category="refund", source="re_1", status="available",
           available_on=CREATED),
        v1(WS_A, id="txn_3", created=CREATED, amount=-1000, currency="eur", net=-1000, fee=0, fee_details=[],
           type="payout", reporting_category="payout", source="po_1", status="available",
           available_on=CREATED),
        v1(WS_B, id="txn_1", created=CREATED, amount=2000, currency="usd", net=1912, fee=88,
           fee_details=[{"amount": 88, "currency": "usd", "type": "stripe_fee"}],
           type="charge", reporting_category="charge", source="ch_1", status="available",
           available_on=CREATED),
    ]
    # po_1 paid out txn_1 (a charge, net of fees) and txn_2 (a refund); txn_3 is the payout itself.
    payout_contents = [
        v1(WS_A, id="txn_1", payout="po_1", type="charge", reporting_category="charge", source="ch_1",
           amount=1999, fee=88, net=1911, currency="eur", available_on=CREATED + 2 * 86400),
        v1(WS_A, id="txn_2", payout="po_1", type="refund", reporting_category="refund", source="re_1",
           amount=-500, fee=0, net=-500, currency="eur", available_on=CREATED),
        v1(WS_A, id="txn_3", payout="po_1", type="payout", reporting_category="payout", source="po_1",
           amount=-1411, fee=0, net=-1411, currency="eur", available_on=CREATED),
        # Listed again (the payout listed in the cursor's last second): the same rows.
        v2(WS_A, id="txn_3", payout="po_1", type="payout", reporting_category="payout", source="po_1",
           amount=-1411, fee=0, net=-1411, currency="eur", available_on=CREATED),
    ]
    event_data = {"object": {"id": "cus_1", "object": "customer", "email": "new@alpha.test"}}
    card = {"brand": "visa", "last4": "4242", "exp_month": 2, "exp_year": 2028, "funding": "credit",
            "country": "DE", "fingerprint": "fp_1"}
    payment_methods = [
        v1(WS_A, id="pm_1", created=CREATED, customer="cus_1", type="card", card=card, livemode=False),
        # Replaced by pm_2 between the fetches: detached, so Stripe nulls its customer.
        v1(WS_A, id="pm_0", created=CREATED - 86400, customer="cus_2", type="card",
           card={**card, "last4": "0002", "exp_month": 12, "exp_year": 2024}, livemode=False),
        v2(WS_A, id="pm_0", created=CREATED - 86400, customer=None, type="card",
           card={**card, "last4": "0002", "exp_month": 12, "exp_year": 2024}, livemode=False),
        v2(WS_A, id="pm_2", created=CREATED + 86400, customer="cus_2", type="card",
           card={**card, "last4": "0003"}, livemode=False),
        v1(WS_B, id="pm_1", created=CREATED, customer="cus_1", type="card",
           card={**card, "brand": "amex"}, livemode=True),
    ]
    events = [
        v1(WS_A, id="evt_1", created=CREATED, type="customer.updated", api_version="2025-03-31.basil",
           data=event_data, request={"id": "req_1", "idempotency_key": "idem_1"}, pending_webhooks=0,
           livemode=False),
        # The same event again from an overlapping extraction window.
        v2(WS_A, id="evt_1", created=CREATED, type="customer.updated", api_version="2025-03-31.basil",
           data=event_data, request={"id": "req_1", "idempotency_key": "idem_1"}, pending_webhooks=0,
           livemode=False),
        v1(WS_B, id="evt_1", created=CREATED, type="invoice.paid", api_version="2025-03-31.basil",
           data={"object": {"id": "in_1", "object": "invoice"}}, request={"id": None}, livemode=True),
    ]
    # The same ids in both workspaces; ws_alpha adds tax on top, ws_beta's VAT is inside its prices.
    tax_rates = [
        v1(WS_A, id="txr_1", created=CREATED, display_name="Sales Tax", description=None, percentage=8.875,
           effective_percentage=8.875, inclusive=False, active=True, country="US", state="NY",
           jurisdiction="NEW YORK CITY", jurisdiction_level="multiple", tax_type="sales_tax",
           rate_type="percentage", livemode=False, metadata={}),
        v1(WS_B, id="txr_1", created=CREATED, display_name="VAT", description="UK VAT", percentage=20,
           effective_percentage=20, inclusive=True, active=True, country="GB", state=None,
           jurisdiction="GB", jurisdiction_level="country", tax_type="vat", rate_type="percentage",
           livemode=True, metadata={}),
        # Archived after the first fetch: the second one wins.
        v2(WS_B, id="txr_1", created=CREATED, display_name="VAT", description="UK VAT", percentage=20,
           effective_percentage=20, inclusive=True, active=False, country="GB", state=None,
           jurisdiction="GB", jurisdiction_level="country", tax_type="vat", rate_type="percentage",
           livemode=True, metadata={}),
    ]
    coupons = [
        v1(WS_A, id="LAUNCH20", created=CREATED, name="Launch offer", percent_off=25.5, amount_off=None,
           currency=None, duration="repeating", duration_in_months=3, redeem_by=DUE_BY, max_redemptions=None,
           times_redeemed=4, valid=True, livemode=False, metadata={}),
        # A coupon deleted in Stripe, fetched by id: the deleted stub.
        v2(WS_A, id="OLD10", deleted=True),
        v1(WS_B, id="LAUNCH20", created=CREATED, name="Welcome credit", percent_off=None, amount_off=1500,
           currency="kwd", duration="once", duration_in_months=None, redeem_by=None, max_redemptions=10,
           times_redeemed=10, valid=False, livemode=True, metadata={}),
    ]
    promotion_codes = [
        v1(WS_A, id="promo_1", created=CREATED, code="LAUNCH20", active=True,
           promotion={"coupon": "LAUNCH20", "type": "coupon"}, customer=None, expires_at=DUE_BY,
           max_redemptions=None, times_redeemed=3,
           restrictions={"first_time_transaction": True, "minimum_amount": 1000,
                         "minimum_amount_currency": "eur"}, livemode=False, metadata={}),
        v1(WS_B, id="promo_1", created=CREATED, code="WELCOME", active=False,
           promotion={"coupon": "LAUNCH20", "type": "coupon"}, customer="cus_1", expires_at=None,
           max_redemptions=5, times_redeemed=5,
           restrictions={"first_time_transaction": False, "minimum_amount": None,
                         "minimum_amount_currency": None}, livemode=True, metadata={}),
    ]
    return {
        "stripe_tax_rates": tax_rates,
        "stripe_coupons": coupons,
        "stripe_promotion_codes": promotion_codes,
        "stripe_customers": customers,
        "stripe_products": products,
        "stripe_prices": prices,
        "stripe_subscriptions": subscriptions,
        SUBSCRIPTION_ITEMS_TABLE: subscription_items,
        "stripe_invoices": invoices,
        INVOICE_LINE_ITEMS_TABLE: invoice_line_items,
        "stripe_invoice_payments": invoice_payments,
        "stripe_charges": charges,
        "stripe_payment_intents": payment_intents,
        "stripe_refunds": refunds,
        "stripe_disputes": disputes,
        "stripe_payouts": payouts,
        "stripe_balance_transactions": balance_transactions,
        PAYOUT_CONTENTS_TABLE: payout_contents,
        "stripe_events": events,
        PAYMENT_METHODS_TABLE: payment_methods,
    }
# fmt: on


def _insert(client: Client, table: str, columns: Iterable[str], rows: list[dict[str, Any]]) -> None:
    names = list(columns)
    unknown = {name for row in rows for name in row} - set(names)
    assert not unknown, f"{table}: fixture uses columns outside the contract: {sorted(unknown)}"
    client.insert(
        f"{RAW_DATABASE}.{table}", [[row.get(name) for name in names] for row in rows], column_names=names
    )


def load_raw_fixture(client: Client) -> dict[str, list[dict[str, Any]]]:
    """Create every raw Stripe table with the loader's contract and insert the fixture rows.

    Each object's versions go in as separate inserts (separate parts), as separate loads would,
    so the ReplacingMergeTree keeps them all unless something forces a merge.
    """
    rows = raw_rows()
    for table, columns in raw_contracts().items():
        ensure_table(client, RAW_DATABASE, table, columns)
        by_load: dict[str, list[dict[str, Any]]] = {}
        for row in rows.get(table, []):
            by_load.setdefault(row["_dlt_load_id"], []).append(row)
        for load_rows in by_load.values():
            _insert(client, table, columns, load_rows)
    return rows
