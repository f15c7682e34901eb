"""The one way the API reads the warehouse: a declared mart endpoint, always scoped to one workspace.

An endpoint is a `MartEndpoint`: a marts table, a row model (its fields are the selected columns), the
filters it allows and its keyset order. `page_query` is the only function that turns one into SQL (and
`fetch_page` the only one that runs it); it always starts the WHERE clause with the caller's workspace,
bound as a parameter. Every value a
client sends is a bound parameter; identifiers come only from declarations, checked when declared.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args, get_origin

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from revops.api.errors import invalid_parameter
from revops.api.keys import Scope
from revops.api.schemas import as_utc
from revops.api.warehouse import WarehousePool
from revops.core.dbt_models import DbtModel, dbt_models

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100

Operator = Literal["=", ">=", "<", "<="]
WindowUnit = Literal["hour", "day", "month"]


def _upper_currency_code(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("must be a three-letter ISO 4217 currency code (`USD` or `usd`)")
    return value.upper()


CurrencyCode = Annotated[str, AfterValidator(_upper_currency_code)]
"""A filter on an ISO 4217 code: either case is accepted; the marts hold upper case (`is_currency_code`)."""


def base_type(python_type: Any) -> Any:
    """The type without `Annotated` metadata (what a value is bound as)."""
    return get_args(python_type)[0] if get_origin(python_type) is Annotated else python_type


def clickhouse_type(python_type: Any) -> str:
    """The ClickHouse parameter type a value of this Python type is bound as."""
    python_type = base_type(python_type)
    if python_type is bool:
        return "Bool"
    if python_type is int:
        return "Int64"
    if python_type is str:
        return "String"
    if python_type is datetime:
        return "DateTime64(6, 'UTC')"
    if python_type is date:
        return "Date32"
    if python_type is Decimal:
        return "Decimal(38, 9)"
    raise TypeError(f"no ClickHouse parameter type for {python_type!r}")


# The range ClickHouse's Date32 and DateTime64 hold; a value outside it is a client error, not a 5xx.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, 23, 59, 59, tzinfo=UTC)


def _within_clickhouse_range(value: date) -> date:
    instant = (
        value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=UTC)
    )
    if not EARLIEST <= as_utc(instant) <= LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def request_type(python_type: Any) -> Any:
    """The type a filter value is validated as: the Python type, bounded to what ClickHouse can hold."""
    if python_type in (date, datetime):
        return Annotated[python_type, AfterValidator(_within_clickhouse_range)]
    if python_type is int:
        return Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    if python_type is str:
        return Annotated[str, Field(max_length=1024)]
    return python_type


def truncate_to(instant: datetime, unit: WindowUnit) -> datetime:
    """The start of the UTC hour, day or month `instant` falls in."""
    start = as_utc(instant).replace(minute=0, second=0, microsecond=0)
    if unit in ("day", "month"):
        start = start.replace(hour=0)
    if unit == "month":
        start = start.replace(day=1)
    return start


def to_parameter(value: Any) -> Any:
    """A value in the text form ClickHouse parses for its bound type (UTC for datetimes)."""
    if isinstance(value, datetime):
        return as_utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_parameter(item) for item in value]
    return value


@dataclass(frozen=True)
class Filter:
    """A query parameter that narrows rows: `column <op> value`. On a column that is a closed set (dbt
    `accepted_values`), an `=` filter takes one or several of its values (`?status=a&status=b`)."""

    param: str
    column: str
    type: type
    op: Operator = "="
    description: str = ""

    def __post_init__(self) -> None:
        for name in (self.param, self.column):
            if not IDENTIFIER.match(name):
                raise ValueError(f"invalid identifier {name!r} in filter")
        clickhouse_type(self.type)


@dataclass(frozen=True)
class SortKey:
    """Part of an endpoint's order: a column, or an SQL expression over the table's columns (declared
    in code, never taken from a request), e.g. `ifNull(payout_id, '')` where a column may be null."""

    expression: str
    type: type


@dataclass(frozen=True)
class Variant:
    """One value of an endpoint's variant param: the marts table read for it, whose rows are windows of
    one `unit` (e.g. usage per hour)."""

    value: str
    table: str
    unit: WindowUnit


@dataclass(frozen=True)
class Variants:
    """A query parameter choosing which of several marts tables an endpoint reads: tables with the same
    columns over windows of different sizes (usage per hour, day or month). Filters on `window_column`
    must fall on the chosen unit's boundaries, so a window never cuts a row's window in two."""

    param: str
    window_column: str
    options: tuple[Variant, ...]
    default: str
    description: str = ""

    def __post_init__(self) -> None:
        for name in (self.param, self.window_column):
            if not IDENTIFIER.match(name):
                raise ValueError(f"invalid identifier {name!r} in variants")
        values = [option.value for option in self.options]
        if len(set(values)) != len(values) or self.default not in values:
            raise ValueError(f"{self.param}: values must be unique and include the default")

    def option(self, value: str | None) -> Variant:
        """The variant a request asks for (the default when it does not say)."""
        wanted = self.default if value is None else value
        for option in self.options:
            if option.value == wanted:
                return option
        raise invalid_parameter(self.param, f"{self.param} must be one of {[o.value for o in self.options]}")


@dataclass(frozen=True)
class MartEndpoint:
    """A read-only list endpoint over one marts table."""

    path: str
    table: str
    row: type[BaseModel]
    scope: Scope
    order_by: tuple[str | SortKey, ...]
    """Columns (or keys) that order the rows uniquely within a workspace: the keyset for cursors."""
    summary: str
    filters: tuple[Filter, ...] = ()
    description: str = ""
    required: tuple[str, ...] = ()
    """Filter params a request must give (e.g. a trial balance needs its date)."""
    variants: Variants | None = None
    """A param choosing the table among tables of the same columns; `table` is its default's."""
    keys: tuple[SortKey, ...] = field(init=False)
    closed_sets: Mapping[str, tuple[Any, ...]] = field(init=False)
    """Filter param → the values its column takes (its dbt `accepted_values`), for `=` filters on one."""

    def __post_init__(self) -> None:
        for table in self.tables:
            database, _, name = table.partition(".")
            if database != "marts" or not IDENTIFIER.match(name):
                raise ValueError(f"{self.path}: the API serves marts tables only, got {table!r}")
        columns = self.columns
        if "workspace_id" not in columns:
            raise ValueError(f"{self.path}: rows must carry workspace_id")
        for column in columns:
            if not IDENTIFIER.match(column):
                raise ValueError(f"{self.path}: invalid column name {column!r}")
        keys = []
        for key in self.order_by:
            if isinstance(key, str):
                if key not in columns:
                    raise ValueError(
                        f"{self.path}: sort column {key!r} is not a field of {self.row.__name__}"
                    )
                key = SortKey(key, self.row.model_fields[key].annotation)  # type: ignore[arg-type]
            clickhouse_type(key.type)  # a nullable column cannot be a key: wrap it in an expression
            keys.append(key)
        object.__setattr__(self, "keys", tuple(keys))
        contracts = self._contracts()
        for column in columns:
            if (
                len(
                    {
                        model.columns[column].data_type if column in model.columns else None
                        for model in contracts
                    }
                )
                > 1
            ):
                raise ValueError(f"{self.path}: the tables' dbt contracts disagree on {column!r}")
        object.__setattr__(self, "closed_sets", self._closed_sets(contracts))
        params = [f.param for f in self.filters]
        reserved = {"limit", "cursor"} | ({self.variants.param} if self.variants else set())
        if len(set(params)) != len(params) or reserved & set(params):
            raise ValueError(f"{self.path}: filter params must be unique and not {sorted(reserved)}")
        if not set(self.required) <= set(params):
            raise ValueError(f"{self.path}: required params must be filters")
        if self.variants is not None:
            if self.variants.option(None).table != self.table:
                raise ValueError(f"{self.path}: table must be the default {self.variants.param}'s")
            if self.variants.window_column not in columns or any(
                f.type is not datetime for f in self.filters if f.column == self.variants.window_column
            ):
                raise ValueError(f"{self.path}: filters on the window column must be datetimes")

    def _contracts(self) -> list[DbtModel]:
        """The dbt declarations of the tables read (none for tables dbt does not build, as in tests)."""
        models = dbt_models()
        return [models[name] for name in (table.partition(".")[2] for table in self.tables) if name in models]

    def _closed_sets(self, contracts: list[DbtModel]) -> dict[str, tuple[Any, ...]]:
        """The `=` filters on a column with accepted values, and those values (the tables must agree)."""
        sets: dict[str, tuple[Any, ...]] = {}
        for spec in self.filters:
            if spec.op != "=" or base_type(spec.type) not in (str, int):
                continue
            declared = {
                model.columns[spec.column].accepted_values if spec.column in model.columns else None
                for model in contracts
            }
            if len(declared) > 1:
                raise ValueError(f"{self.path}: the tables' accepted values for {spec.column} differ")
            if declared and (values := declared.pop()) is not None:
                sets[spec.param] = tuple(base_type(spec.type)(value) for value in values)
        return sets

    def request_type(self, spec: Filter) -> Any:
        """What a filter's value is validated as: one or several of its column's values for a closed set,
        else one value of its type, bounded to what ClickHouse holds."""
        if spec.param not in self.closed_sets:
            return request_type(spec.type)
        values = self.closed_sets[spec.param]
        if base_type(spec.type) is str:
            return list[Literal[values]]  # type: ignore[valid-type]

        def member(value: int) -> int:  # an int from a query string is not a Literal[7] match
            if value not in values:
                raise ValueError("must be one of " + ", ".join(map(str, values)))
            return value

        return list[Annotated[int, AfterValidator(member)]]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row.model_fields)

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the endpoint may read."""
        if self.variants is None:
            return (self.table,)
        return tuple(option.table for option in self.variants.options)


@dataclass(frozen=True)
class PageRequest:
    filters: Mapping[str, Any]
    """Filter param → value, only the ones given."""
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    variant: str | None = None
    """The endpoint's variant param value, if given (else its default)."""


@dataclass(frozen=True)
class TenantQuery:
    """SQL over one workspace's rows of one mart, and its bound parameters. Built only by `page_query`,
    `interval_query` and `freshness_query`."""

    sql: str
    parameters: dict[str, Any]
    workspace_id: str
    table: str
    """The mart it reads, `schema.table`: what `freshness_query` tells the as-of of."""

    @property
    def cache_key(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        """Identifies the query's result: its SQL and every bound value (the workspace among them)."""
        return self.sql, tuple(
            (name, tuple(value) if isinstance(value, list) else value)
            for name, value in sorted(self.parameters.items())
        )


def filters_fingerprint(filters: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {k: str(to_parameter(sorted(set(v)) if isinstance(v, list) else v)) for k, v in filters.items()},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def cursor_scope(endpoint: MartEndpoint, request: PageRequest) -> dict[str, Any]:
    """What a cursor is valid for: the request's filters and, for an endpoint with variants, the
    variant read (so a cursor never crosses from one table to another)."""
    if endpoint.variants is None:
        return dict(request.filters)
    return {**request.filters, endpoint.variants.param: endpoint.variants.option(request.variant).value}


def encode_cursor(endpoint: MartEndpoint, last_row: Mapping[str, Any], scope: Mapping[str, Any]) -> str:
    payload = {
        "k": [str(to_parameter(last_row[f"_sort_{i}"])) for i in range(len(endpoint.keys))],
        "f": filters_fingerprint(scope),
    }
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(endpoint: MartEndpoint, cursor: str, scope: Mapping[str, Any]) -> list[Any]:
    """The keyset values a cursor carries, validated against the endpoint's key types."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = payload["k"]
        fingerprint = payload["f"]
        if not isinstance(values, list) or len(values) != len(endpoint.keys):
            raise ValueError("wrong number of keys")
        typed = [
            TypeAdapter(request_type(key.type)).validate_strings(value)
            for key, value in zip(endpoint.keys, values, strict=True)
        ]
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise invalid_parameter("cursor", "invalid cursor: pass next_cursor from a previous page") from exc
    if fingerprint != filters_fingerprint(scope):
        raise invalid_parameter("cursor", "this cursor belongs to a request with different filters")
    return typed


def _keyset_predicate(endpoint: MartEndpoint, values: Sequence[Any], parameters: dict[str, Any]) -> str:
    """(k1, k2, …) > (v1, v2, …) expanded into OR/AND terms, which ClickHouse's primary-key index
    analysis understands (a tuple comparison it does not)."""
    names = []
    for i, (key, value) in enumerate(zip(endpoint.keys, values, strict=True)):
        parameters[f"k{i}"] = to_parameter(value)
        names.append((key.expression, f"{{k{i}:{clickhouse_type(key.type)}}}"))
    terms = []
    for i, (column, placeholder) in enumerate(names):
        equal_prefix = [f"{c} = {p}" for c, p in names[:i]]
        terms.append("(" + " AND ".join([*equal_prefix, f"{column} > {placeholder}"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def _table_for(endpoint: MartEndpoint, request: PageRequest) -> str:
    """The table a request reads: for an endpoint with variants, its variant's, whose windows the
    filters on the window column must start (a bound inside a window would either cut its row or
    silently widen what was asked)."""
    if endpoint.variants is None:
        return endpoint.table
    variant = endpoint.variants.option(request.variant)
    for spec in endpoint.filters:
        value = request.filters.get(spec.param)
        if spec.column == endpoint.variants.window_column and value is not None:
            start = truncate_to(value, variant.unit)
            if as_utc(value) != start:
                raise invalid_parameter(
                    spec.param,
                    f"{spec.param} must be the start of a {variant.unit} (UTC) with "
                    f"{endpoint.variants.param}={variant.value}: {as_utc(value).isoformat()} falls inside "
                    f"the {variant.unit} starting {start.isoformat()}",
                )
    return variant.table


def page_query(endpoint: MartEndpoint, workspace_id: str, request: PageRequest) -> TenantQuery:
    table = _table_for(endpoint, request)
    parameters: dict[str, Any] = {"workspace_id": workspace_id}
    conditions = ["workspace_id = {workspace_id:String}"]
    declared = {f.param: f for f in endpoint.filters}
    for param, value in request.filters.items():
        spec = declared[param]
        if param in endpoint.closed_sets:  # one or several of the set's values
            parameters[f"f_{param}"] = sorted(set(value))
            conditions.append(f"{spec.column} IN {{f_{param}:Array({clickhouse_type(spec.type)})}}")
            continue
        parameters[f"f_{param}"] = to_parameter(value)
        conditions.append(f"{spec.column} {spec.op} {{f_{param}:{clickhouse_type(spec.type)}}}")
    if request.cursor is not None:
        values = decode_cursor(endpoint, request.cursor, cursor_scope(endpoint, request))
        conditions.append(_keyset_predicate(endpoint, values, parameters))
    parameters["limit"] = request.limit + 1  # one more than asked tells whether there is a next page
    # The keys are selected under their own names, for the next page's cursor.
    sort_keys = [f"{key.expression} AS _sort_{i}" for i, key in enumerate(endpoint.keys)]
    sql = (
        f"SELECT {', '.join([*endpoint.columns, *sort_keys])} FROM {table} "
        f"WHERE {' AND '.join(conditions)} "
        f"ORDER BY {', '.join(key.expression for key in endpoint.keys)} LIMIT {{limit:UInt32}}"
    )
    return TenantQuery(sql, parameters, workspace_id, table)


FRESHNESS_TABLE = "marts.dim_data_freshness"
"""Per workspace and mart, the as-of of its data and whether it is stale (issue 18)."""


def freshness_query(workspace_id: str, table: str) -> TenantQuery:
    """The as-of of one workspace's data in `table`: its row of `FRESHNESS_TABLE`, if any."""
    return TenantQuery(
        f"SELECT data_as_of, is_stale, stale_providers FROM {FRESHNESS_TABLE} "
        "WHERE workspace_id = {workspace_id:String} AND mart = {mart:String}",
        {"workspace_id": workspace_id, "mart": table},
        workspace_id,
        FRESHNESS_TABLE,
    )


@dataclass(frozen=True)
class Freshness:
    """How current a page's data is: the mart's row of `FRESHNESS_TABLE` for the key's workspace."""

    data_as_of: datetime | None
    """The oldest last successful sync among the providers the mart reads; None if unknown."""
    is_stale: bool
    stale_providers: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        """`X-Data-As-Of` (RFC 3339, UTC; absent when unknown), `X-Data-Stale` (`true`/`false`) and,
        when stale, `X-Data-Stale-Providers` (comma-separated)."""
        headers = {"X-Data-Stale": "true" if self.is_stale else "false"}
        if self.data_as_of is not None:
            headers["X-Data-As-Of"] = as_utc(self.data_as_of).isoformat().replace("+00:00", "Z")
        if self.stale_providers:
            headers["X-Data-Stale-Providers"] = ",".join(self.stale_providers)
        return headers


UNKNOWN_FRESHNESS = Freshness(None, False)
"""A mart with no freshness row for the workspace: it reads no provider the workspace is connected to
(its pages are empty), or the warehouse was last built before `FRESHNESS_TABLE` existed."""


def read_freshness(client: Client, query: TenantQuery) -> Freshness:
    """The page's freshness, read with the page; a warehouse built before `FRESHNESS_TABLE` existed
    answers without it rather than failing every endpoint until the next run."""
    freshness = freshness_query(query.workspace_id, query.table)
    try:
        rows = list(client.query(freshness.sql, parameters=freshness.parameters).named_results())
    except DatabaseError as error:
        if "UNKNOWN_TABLE" in str(error) or "UNKNOWN_DATABASE" in str(error):
            return UNKNOWN_FRESHNESS
        raise
    if not rows:
        return UNKNOWN_FRESHNESS
    row = rows[0]
    return Freshness(row["data_as_of"], bool(row["is_stale"]), tuple(row["stale_providers"]))


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    session: Hashable | None
    """The embedded warehouse session it was read in (`WarehousePool.session_generation`)."""
    freshness: Freshness | None = None
    """How current its rows are, read in the same lease; None when the caller already knew it."""

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def fetch_page(
    pool: WarehousePool,
    endpoint: MartEndpoint,
    request: PageRequest,
    query: TenantQuery,
    freshness_known_in: Hashable | None = None,
) -> Page:
    """Reads one page of `query` (built by `page_query` for `request`) from the warehouse, and its
    freshness (`freshness_query`) unless the caller knows it from this same warehouse session
    (`freshness_known_in`), so it may block: with `fetch_entries`, the only places the API runs a query."""
    with pool.lease() as client:
        session = pool.session_generation  # cannot end while a client is leased
        rows = list(client.query(query.sql, parameters=query.parameters).named_results())
        known = freshness_known_in is not None and freshness_known_in == session
        freshness = None if known else read_freshness(client, query)
    if len(rows) <= request.limit:
        return Page(rows, None, session, freshness)
    rows = rows[: request.limit]
    cursor = encode_cursor(endpoint, rows[-1], cursor_scope(endpoint, request))
    return Page(rows, cursor, session, freshness)


# Totals per interval (`/v1/metrics/all`): one entry per day, ISO week or calendar month.

INTERVALS: tuple[str, ...] = ("day", "week", "month")
"""The intervals an interval endpoint answers in: the one list its `interval` parameter accepts."""
MetricKind = Literal["stock", "flow", "rate"]
MAX_INTERVAL_ENTRIES = 2000
"""Entries one request may ask for (five years of days)."""


@dataclass(frozen=True)
class IntervalMetric:
    """One figure of an interval entry, named as in the month mart, and how an interval gets it.

    `stock` (a level: MRR, customers, ARPA) is the value at the interval's last day; `flow` (a movement,
    a count of customers who moved) is the month mart's month or the sum of the day mart's days; `rate`
    is the month mart's for a month and the day mart's trailing-30-day one at the interval's last day for
    a day or a week (a rate of a week is not a sum of days, and NRR/GRR are per customer: only the
    marts compute them). `week_sql` overrides the week's rule for a ratio of two flows (ASP), recomputed
    from the week's summed numerator and denominator."""

    name: str
    kind: MetricKind
    day_column: str | None = None
    """The day mart's column holding it (default: `name`)."""
    week_sql: str | None = None

    def __post_init__(self) -> None:
        for identifier in (self.name, self.day_column or self.name):
            if not IDENTIFIER.match(identifier):
                raise ValueError(f"invalid identifier {identifier!r} in metric")

    @property
    def day(self) -> str:
        return self.day_column or self.name

    def week_aggregate(self) -> str:
        """The SQL giving the week's value from the day mart's rows (`days`) of one ISO week."""
        if self.week_sql is not None:
            return self.week_sql
        if self.kind == "flow":
            return f"sum(days.{self.day})"
        # Through a tuple: argMax skips NULL values, and a null rate on the last day is the answer.
        return f"argMax(tuple(days.{self.day}), days.metric_date).1"


@dataclass(frozen=True)
class IntervalEndpoint:
    """An endpoint answering totals per interval over a day mart and a month mart of the same metrics
    (one row per workspace and `metric_date`, resp. `metric_month` with its last day `period_end_date`)."""

    path: str
    day_table: str
    month_table: str
    metrics: tuple[IntervalMetric, ...]
    scope: Scope
    summary: str
    description: str = ""

    def __post_init__(self) -> None:
        for table in (self.day_table, self.month_table):
            database, _, name = table.partition(".")
            if database != "marts" or not IDENTIFIER.match(name):
                raise ValueError(f"{self.path}: the API serves marts tables only, got {table!r}")
        names = [metric.name for metric in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.path}: metric names must be unique")
        models = dbt_models()
        day, month = (models.get(table.partition(".")[2]) for table in (self.day_table, self.month_table))
        if day is not None and month is not None:
            for metric in self.metrics:
                if metric.name not in month.columns or metric.day not in day.columns:
                    raise ValueError(f"{self.path}: {metric.name} is not a column of both marts")
                if metric.week_sql is None and (
                    month.columns[metric.name].data_type != day.columns[metric.day].data_type
                ):
                    raise ValueError(f"{self.path}: the marts' contracts disagree on {metric.name!r}")


@dataclass(frozen=True)
class IntervalRequest:
    start: date
    end: date
    interval: str


def interval_bounds(day: date, interval: str) -> tuple[date, date]:
    """The first and last day of the day, ISO week (Monday to Sunday) or calendar month `day` is in."""
    if interval == "day":
        return day, day
    if interval == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    first = day.replace(day=1)
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return first, following - timedelta(days=1)


def _check_interval_request(request: IntervalRequest) -> None:
    """The range must be whole intervals (an entry is never a part of its interval), `from` ≤ `to`."""
    if request.interval not in INTERVALS:
        raise invalid_parameter("interval", f"interval must be one of {list(INTERVALS)}")
    if request.start > request.end:
        raise invalid_parameter("from", f"from ({request.start}) is after to ({request.end})")
    first, _ = interval_bounds(request.start, request.interval)
    if first != request.start:
        raise invalid_parameter(
            "from",
            f"from must be the first day of a {request.interval} with interval={request.interval}: "
            f"{request.start} falls in the {request.interval} starting {first}",
        )
    _, last = interval_bounds(request.end, request.interval)
    if last != request.end:
        raise invalid_parameter(
            "to",
            f"to must be the last day of a {request.interval} with interval={request.interval}: "
            f"{request.end} falls in the {request.interval} ending {last}",
        )
    days = (request.end - request.start).days + 1
    entries = {"day": days, "week": days // 7}.get(
        request.interval,
        (request.end.year - request.start.year) * 12 + request.end.month - request.start.month + 1,
    )
    if entries > MAX_INTERVAL_ENTRIES:
        raise invalid_parameter(
            "to", f"the range holds {entries} {request.interval}s; ask for at most {MAX_INTERVAL_ENTRIES}"
        )


def interval_query(endpoint: IntervalEndpoint, workspace_id: str, request: IntervalRequest) -> TenantQuery:
    """The entries of `request` for one workspace, in interval order; like `page_query`, the WHERE clause
    starts with the caller's workspace and every value is bound."""
    _check_interval_request(request)
    parameters: dict[str, Any] = {
        "workspace_id": workspace_id,
        "start": to_parameter(request.start),
        "end": to_parameter(request.end),
    }
    tenant = "workspace_id = {workspace_id:String}"
    if request.interval == "month":
        figures = [f"{metric.name} AS {metric.name}" for metric in endpoint.metrics]
        sql = (
            "SELECT metric_month AS interval_start, period_end_date AS date, "
            f"reporting_currency, {', '.join(figures)} FROM {endpoint.month_table} "
            f"WHERE {tenant} AND metric_month >= {{start:Date32}} AND metric_month <= {{end:Date32}} "
            "ORDER BY metric_month"
        )
    elif request.interval == "day":
        figures = [f"{metric.day} AS {metric.name}" for metric in endpoint.metrics]
        sql = (
            "SELECT metric_date AS interval_start, metric_date AS date, "
            f"reporting_currency, {', '.join(figures)} FROM {endpoint.day_table} "
            f"WHERE {tenant} AND metric_date >= {{start:Date32}} AND metric_date <= {{end:Date32}} "
            "ORDER BY metric_date"
        )
    else:
        # Aggregates read the table's columns through its alias: a bare name would be the SELECT's alias
        # of the same name (ClickHouse resolves aliases first).
        figures = [f"{metric.week_aggregate()} AS {metric.name}" for metric in endpoint.metrics]
        sql = (
            "SELECT toMonday(days.metric_date) AS interval_start, max(days.metric_date) AS date, "
            f"any(days.reporting_currency) AS reporting_currency, {', '.join(figures)} "
            f"FROM {endpoint.day_table} AS days "
            f"WHERE days.{tenant} AND days.metric_date >= {{start:Date32}} "
            "AND days.metric_date <= {end:Date32} "
            "GROUP BY interval_start ORDER BY interval_start"
        )
    table = endpoint.month_table if request.interval == "month" else endpoint.day_table
    return TenantQuery(sql, parameters, workspace_id, table)


def fetch_entries(
    pool: WarehousePool, query: TenantQuery
) -> tuple[list[dict[str, Any]], Hashable | None, Freshness]:
    """The rows of an `interval_query`, the embedded warehouse session they were read in, and the
    freshness of the mart they come from (read with them)."""
    with pool.lease() as client:
        session = pool.session_generation
        rows = list(client.query(query.sql, parameters=query.parameters).named_results())
        freshness = read_freshness(client, query)
    return rows, session, freshness
