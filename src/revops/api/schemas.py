"""The endpoints' row models, built from the marts' dbt contracts: one source from SQL to API.

A mart's YAML (beside its model in dbt_project/models/marts) declares each column's ClickHouse type
(the enforced contract), its description and, for a closed set, its `accepted_values`. `mart_row`
turns that into the pydantic model of the endpoint's rows: the Python type follows the column's type,
the description is the column's, and a closed set is an `enum` in the OpenAPI document (its filters
validate against the same values: `MartEndpoint.closed_sets`). Nothing here copies text or values
from the YAML.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from revops.core.dbt_models import DbtProjectError, ModelColumn, dbt_model


def as_utc(value: datetime) -> datetime:
    """An instant in UTC (a naive one is read as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A ClickHouse DateTime64(…, 'UTC'), always rendered with its offset."""

_WRAPPER = re.compile(r"^(LowCardinality|Nullable|Array)\((.*)\)$")
_SCALARS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^(String|FixedString\(\d+\)|UUID)$"), str),
    (re.compile(r"^Bool$"), bool),
    (re.compile(r"^U?Int(8|16|32|64|128|256)$"), int),
    (re.compile(r"^Float(32|64)$"), float),
    (re.compile(r"^Decimal(32|64|128|256)?\(.*\)$"), Decimal),
    (re.compile(r"^Date(32)?$"), date),
    (re.compile(r"^DateTime(64)?(\(.*\))?$"), UtcDatetime),
)


def python_type(data_type: str) -> Any:
    """The Python type a value of this ClickHouse type is served as."""
    data_type = data_type.strip()
    if wrapped := _WRAPPER.match(data_type):
        kind, inner = wrapped.groups()
        if kind == "Nullable":
            return python_type(inner) | None
        if kind == "Array":
            return list[python_type(inner)]  # type: ignore[misc]
        return python_type(inner)
    for pattern, python in _SCALARS:
        if pattern.match(data_type):
            return python
    raise DbtProjectError(f"no API type for the ClickHouse type {data_type!r}")


def _field_type(column: ModelColumn, where: str) -> Any:
    if column.data_type is None:
        raise DbtProjectError(
            f"{where}: column {column.name!r} has no data_type (an enforced contract needs one)"
        )
    served = python_type(column.data_type)
    if column.accepted_values is None:
        return served
    nullable = type(None) in get_args(served)
    scalar = next(arg for arg in get_args(served) if arg is not type(None)) if nullable else served
    if scalar not in (str, int):
        raise DbtProjectError(f"{where}: accepted values on a {column.data_type} column")
    # Served as declared, listed as an enum: a value outside the set fails the model's dbt test, and
    # the page is still served rather than answered with a 500.
    schema = {"type": "string" if scalar is str else "integer"}
    enum = Annotated[scalar, WithJsonSchema({**schema, "enum": [scalar(v) for v in column.accepted_values]})]
    return enum | None if nullable else enum


def mart_row(table: str, name: str, *, exclude: tuple[str, ...] = ()) -> type[BaseModel]:
    """The row model of a marts table: every column its dbt YAML declares (in that order) but `exclude`,
    typed, described and, for closed sets, enumerated from the YAML. The model's contract must be
    enforced, so the types are the ones ClickHouse really holds."""
    model = dbt_model(table)
    if not model.contract_enforced:
        raise DbtProjectError(f"{table}: the API serves models with an enforced dbt contract only")
    unknown = set(exclude) - set(model.columns)
    if unknown:
        raise DbtProjectError(f"{table}: cannot exclude undeclared columns {sorted(unknown)}")
    fields: dict[str, Any] = {}
    for column in model.columns.values():
        if column.name in exclude:
            continue
        if not column.description:
            raise DbtProjectError(f"{table}: column {column.name!r} has no description in its YAML")
        fields[column.name] = (_field_type(column, table), Field(description=column.description))
    return create_model(name, __config__=ConfigDict(title=name), __doc__=model.description or None, **fields)
