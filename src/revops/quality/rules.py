"""What each raw table must satisfy, derived once from the sources' declared contracts.

Nothing here is written per table: every declared raw table (`pipelines.runner.TABLE_DECLARATIONS`)
gets its key, currency, money and time rules from its declared columns and their dlt types; the
only per-provider knowledge is the currency case each provider sends and the money columns a
provider guarantees are never negative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import dlt

from revops.pipelines.loading import LINEAGE_COLUMNS, VERSION_COLUMN
from revops.pipelines.runner import TABLE_DECLARATIONS
from revops.pipelines.stripe.settings import ENDPOINTS

TENANT = "workspace_id"
TIME_FLOOR = "2000-01-01"
"""Nothing a provider sends predates this; earlier values are defaults or garbage."""
TIME_CEILING_DAYS = 1
"""Timestamps may run ahead of now by at most this (clock skew, time zones)."""
MAX_MINOR_UNITS = 10**12
"""Largest plausible amount in minor units (Stripe's integers): 10 billion in a 2-decimal currency."""
MAX_MAJOR_UNITS = 10**10
"""Largest plausible amount in major units (Plaid's, QuickBooks' and Xero's decimals)."""

CURRENCY_CASE: Mapping[str, str] = {
    "stripe": "lower",
    "plaid": "upper",
    "quickbooks": "upper",
    "xero": "upper",
}
# Currency code columns by name; QuickBooks nests its code in a JSON reference (`{"value": "USD"}`).
_CURRENCY_COLUMNS = ("currency", "iso_currency_code", "currency_code", "default_currency")
_CURRENCY_JSON_COLUMNS = ("currency_ref",)
_MONEY_NAME = re.compile(r"(^|_)(amount|amounts|amt|total|subtotal|balance|tax)(_|$)")
_NOT_MONEY = re.compile(r"(^|_)(count|rate|date|type|types|id)(_|$)")

# Money columns the provider documents as never negative (credits and refunds are their own objects).
NON_NEGATIVE: Mapping[str, frozenset[str]] = {
    "stripe_charges": frozenset({"amount", "amount_captured", "amount_refunded"}),
    "stripe_payment_intents": frozenset({"amount", "amount_received"}),
    "stripe_refunds": frozenset({"amount"}),
    "stripe_disputes": frozenset({"amount"}),
    "stripe_prices": frozenset({"unit_amount"}),
    "stripe_invoices": frozenset({"amount_due", "amount_paid", "amount_remaining"}),
    "stripe_invoice_payments": frozenset({"amount_paid", "amount_requested"}),
    "qbo_invoices": frozenset({"total_amt", "balance"}),
    "qbo_payments": frozenset({"total_amt", "unapplied_amt"}),
    "xero_invoices": frozenset({"total", "amount_due", "amount_paid", "amount_credited"}),
    "xero_payments": frozenset({"amount"}),
    "qbo_credit_memos": frozenset({"total_amt", "balance", "remaining_credit"}),
    "qbo_refund_receipts": frozenset({"total_amt"}),
    "xero_credit_notes": frozenset({"total", "remaining_credit"}),
    "xero_overpayments": frozenset({"total", "remaining_credit"}),
    "xero_prepayments": frozenset({"total", "remaining_credit"}),
}
_STRIPE_MONEY = {endpoint.table: frozenset(endpoint.money_fields) for endpoint in ENDPOINTS}
_STRIPE_EPOCH_COLUMNS = ("created",)
"""Stripe timestamps are Unix seconds in bigint columns; `created` is on every object."""


@dataclass(frozen=True)
class TableRules:
    source: str
    table: str
    key: str
    """The object id column; the table's key is (workspace_id, key)."""
    columns: Mapping[str, str]
    """Declared columns and their dlt data types."""
    currency_columns: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Output column → (raw column, SQL expression of the currency code in it)."""
    currency_case: str = "upper"
    money_columns: tuple[str, ...] = ()
    minor_units: bool = False
    non_negative: frozenset[str] = frozenset()
    epoch_columns: tuple[str, ...] = ()
    time_columns: tuple[str, ...] = ()
    """Date/timestamp typed columns (the fetch time included)."""


def _is_money(table: str, name: str, data_type: str) -> bool:
    if data_type not in ("bigint", "decimal"):
        return False
    return name in _STRIPE_MONEY.get(table, ()) or bool(
        _MONEY_NAME.search(name) and not _NOT_MONEY.search(name)
    )


def _rules(source: str, table: str, columns: Mapping[str, Mapping[str, object]]) -> TableRules:
    key = next(name for name, column in columns.items() if column.get("primary_key") and name != TENANT)
    types = {name: str(column.get("data_type")) for name, column in columns.items()}
    currencies = {name: (name, name) for name in _CURRENCY_COLUMNS if types.get(name) == "text"}
    currencies |= {
        f"{name}__value": (name, f"JSONExtract({name}, 'value', 'Nullable(String)')")
        for name in _CURRENCY_JSON_COLUMNS
        if types.get(name) == "json"
    }
    own = {name: t for name, t in types.items() if name not in LINEAGE_COLUMNS}
    return TableRules(
        source=source,
        table=table,
        key=key,
        columns=types,
        currency_columns=currencies,
        currency_case=CURRENCY_CASE.get(source, "upper"),
        money_columns=tuple(name for name, t in own.items() if _is_money(table, name, t)),
        minor_units=source == "stripe",
        non_negative=NON_NEGATIVE.get(table, frozenset()),
        epoch_columns=tuple(
            c for c in _STRIPE_EPOCH_COLUMNS if source == "stripe" and own.get(c) == "bigint"
        ),
        time_columns=(VERSION_COLUMN, *(name for name, t in own.items() if t in ("date", "timestamp"))),
    )


def declared_rules() -> dict[str, TableRules]:
    """Rules for every raw table every source declares, by table name."""
    rules: dict[str, TableRules] = {}
    for source, declare in TABLE_DECLARATIONS.items():
        schema = dlt.Schema(source)
        declare(schema)
        for table in schema.data_tables():
            rules[table["name"]] = _rules(source, table["name"], table["columns"])
    return rules


RAW_TABLE_RULES: dict[str, TableRules] = declared_rules()
