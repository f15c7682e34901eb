"""What each raw table must satisfy, derived once from the sources' declared contracts.

Nothing here is written per table: every raw table a registered source declares
(`revops.pipelines.sources`) gets its key, currency, money and time rules from its declared columns and
their dlt types; the per-provider knowledge (the currency case it sends, whether amounts are minor
units, the money columns it guarantees are never negative) is part of the source's declaration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from revops.pipelines.loading import LINEAGE_COLUMNS, VERSION_COLUMN
from revops.pipelines.sources import SOURCES, SourceSpec

TENANT = "workspace_id"
TIME_FLOOR = "2000-01-01"
"""Nothing a provider sends predates this; earlier values are defaults or garbage."""
TIME_CEILING_DAYS = 1
"""Timestamps may run ahead of now by at most this (clock skew, time zones)."""
MAX_MINOR_UNITS = 10**12
"""Largest plausible amount in minor units (Stripe's integers): 10 billion in a 2-decimal currency."""
MAX_MAJOR_UNITS = 10**10
"""Largest plausible amount in major units (Plaid's, QuickBooks' and Xero's decimals)."""

# Currency code columns by name; QuickBooks nests its code in a JSON reference (`{"value": "USD"}`).
_CURRENCY_COLUMNS = ("currency", "iso_currency_code", "currency_code", "default_currency")
_CURRENCY_JSON_COLUMNS = ("currency_ref",)
_MONEY_NAME = re.compile(r"(^|_)(amount|amounts|amt|total|subtotal|balance|tax)(_|$)")
_NOT_MONEY = re.compile(r"(^|_)(count|rate|date|type|types|id)(_|$)")


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


def _is_money(source: SourceSpec, table: str, name: str, data_type: str) -> bool:
    if data_type not in ("bigint", "decimal"):
        return False
    return name in source.money_columns.get(table, ()) or bool(
        _MONEY_NAME.search(name) and not _NOT_MONEY.search(name)
    )


def _rules(source: SourceSpec, table: str, columns: Mapping[str, Mapping[str, object]]) -> TableRules:
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
        source=source.name,
        table=table,
        key=key,
        columns=types,
        currency_columns=currencies,
        currency_case=source.currency_case,
        money_columns=tuple(name for name, t in own.items() if _is_money(source, table, name, t)),
        minor_units=source.minor_units,
        non_negative=source.non_negative.get(table, frozenset()),
        epoch_columns=tuple(c for c in source.epoch_columns if own.get(c) == "bigint"),
        time_columns=(VERSION_COLUMN, *(name for name, t in own.items() if t in ("date", "timestamp"))),
    )


def declared_rules(sources: Sequence[SourceSpec] = SOURCES) -> dict[str, TableRules]:
    """Rules for every raw table the sources declare, by table name."""
    rules: dict[str, TableRules] = {}
    for source in sources:
        for table in source.schema().data_tables():
            if table["name"] in source.tables:  # not the quarantine a source writes rejections to
                rules[table["name"]] = _rules(source, table["name"], table["columns"])
    return rules


RAW_TABLE_RULES: dict[str, TableRules] = declared_rules()
