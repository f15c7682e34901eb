"""The one path that lands dlt data in ClickHouse, embedded (chDB) or server alike.

dlt's own ClickHouse destination speaks the native TCP protocol, which chDB does not, so revops loads
through a dlt custom destination that inserts each normalized Parquet file with clickhouse-connect.
Raw tables follow the dlt schema: a column that appears in the source appears in the table
(`ADD COLUMN`), never breaking a load. Tables with a primary key are ReplacingMergeTree ordered by
that key and versioned by `_revops_synced_at`, so re-loading a file, re-running a pipeline or
overlapping extraction windows never duplicates an object once staging (or `FINAL`) deduplicates.
How a table is declared — plain, or replicated on every node of a cluster — is core/ddl.py's decision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import dlt
import pyarrow.parquet as pq
from clickhouse_connect.driver.client import Client
from dlt.common.schema import TColumnSchema, TTableSchema
from dlt.common.schema.utils import new_table

from revops.core.ddl import create_table_if_missing, quote_identifier, warehouse_dialect
from revops.core.warehouse import connect

RAW_DATABASE = "raw"
VERSION_COLUMN = "_revops_synced_at"
# Columns every raw table carries besides the provider's own fields: the tenant, when the row was
# fetched (the version staging keeps the latest of), and dlt's load and row ids (tiebreaks).
LINEAGE_COLUMNS: dict[str, str] = {
    "workspace_id": "text",
    VERSION_COLUMN: "timestamp",
    "_dlt_load_id": "text",
    "_dlt_id": "text",
}
PIPELINE_STATE_TABLE = "_dlt_pipeline_state"
STATE_BLOB_COLUMN = "state"
# Sorting-key columns come first in this order when a table's primary key includes them.
KEY_COLUMN_ORDER = ("workspace_id",)

_SCALAR_TYPES: dict[str, str] = {
    "text": "String",
    "bigint": "Int64",
    "bool": "Bool",
    "double": "Float64",
    "json": "String",
    "binary": "String",
    "time": "String",
    "date": "Date32",
    "wei": "Int256",
}


def clickhouse_type(column: Mapping[str, Any]) -> str:
    """ClickHouse type of a dlt column; nullable unless dlt marks it otherwise."""
    data_type = column.get("data_type")
    if data_type == "timestamp":
        base = f"DateTime64({column.get('precision') or 6}, 'UTC')"
    elif data_type == "decimal":
        base = f"Decimal({column.get('precision') or 38}, {column.get('scale') or 9})"
    elif data_type in _SCALAR_TYPES:
        base = _SCALAR_TYPES[data_type]
    else:
        raise ValueError(f"column {column.get('name')!r} has unsupported dlt type {data_type!r}")
    return base if column.get("nullable", True) is False else f"Nullable({base})"


def _sorting_key(columns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    key = [name for name, column in columns.items() if column.get("primary_key")]
    return sorted(key, key=lambda name: KEY_COLUMN_ORDER.index(name) if name in KEY_COLUMN_ORDER else 99)


def _engine(columns: Mapping[str, Mapping[str, Any]]) -> tuple[str, tuple[str, ...], list[str]]:
    """Engine family, its arguments and the sorting key of a raw table with these columns."""
    key = _sorting_key(columns)
    if not key:
        return "MergeTree", (), []
    version = (quote_identifier(VERSION_COLUMN),) if VERSION_COLUMN in columns else ()
    return "ReplacingMergeTree", version, key


def ensure_table(client: Client, database: str, table: str, columns: Mapping[str, Mapping[str, Any]]) -> None:
    """Create the table, or add the columns it lacks; existing columns are never altered or dropped."""
    complete = {name: column for name, column in columns.items() if column.get("data_type")}
    family, args, key = _engine(complete)
    types = {name: clickhouse_type(column) for name, column in complete.items()}
    # Columns are compared even right after creating: another process may have created it first.
    create_table_if_missing(client, database, table, types, family, *args, order_by=key)
    existing = {
        row[0]
        for row in client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {tbl:String}",
            parameters={"db": database, "tbl": table},
        ).result_rows
    }
    dialect = warehouse_dialect()
    for name, type_ in types.items():
        if name not in existing:
            client.command(dialect.add_column(database, table, name, type_))


def contract_columns(
    declared: Mapping[str, str], primary_key: Iterable[str] = (), required: Iterable[str] = ()
) -> dict[str, TColumnSchema]:
    """dlt column schemas from a `{name: dlt data type}` contract; key and required columns are not null."""
    keys = list(primary_key)
    not_null = {*keys, *required}
    columns: dict[str, TColumnSchema] = {}
    for name in [*keys, *declared]:
        data_type = declared.get(name, "text")
        column: TColumnSchema = {"name": name, "data_type": data_type, "nullable": name not in not_null}  # type: ignore[typeddict-item]
        if name in keys:
            column["primary_key"] = True
        if data_type == "decimal":
            column["precision"], column["scale"] = 38, 9
        columns[name] = column
    return columns


def declare_table(
    schema: dlt.Schema,
    table: str,
    declared: Mapping[str, str],
    primary_key: Iterable[str],
    *,
    resource: str,
    required: Iterable[str] = (),
) -> None:
    """Declare a raw table's contract in a source schema, so its columns exist before data has them.

    `resource` is the dlt resource that writes the table (dlt attributes load metrics by it).
    """
    columns = contract_columns({**LINEAGE_COLUMNS, **declared}, primary_key, (*LINEAGE_COLUMNS, *required))
    schema.update_table(new_table(table, columns=list(columns.values()), resource=resource))


def declare_contracts(
    schema: dlt.Schema, contracts: Mapping[str, tuple[Mapping[str, str], tuple[str, ...]]]
) -> None:
    """Declare raw-table contracts (`table → (columns, key)`) where each table is its own resource."""
    for table, (declared, key) in contracts.items():
        declare_table(schema, table, declared, key, resource=table)


def ensure_declared_tables(client: Client, schema: dlt.Schema, database: str = RAW_DATABASE) -> None:
    """Create every table the schema declares, even those no row has reached yet."""
    for table in schema.data_tables():
        ensure_table(client, database, table["name"], table["columns"])


# dlt may call the destination from several load workers; chDB and DDL are serialized here.
_load_guard = threading.Lock()


def _load_file(file_path: str, table: TTableSchema, database: str) -> None:
    data = pq.read_table(file_path)
    if table["name"] == PIPELINE_STATE_TABLE and STATE_BLOB_COLUMN in data.column_names:
        # The blob holds source state (cursors, and whatever a source keeps there): it stays local, out
        # of the warehouse. The row itself (pipeline, version, time) still records that a load happened.
        data = data.drop_columns([STATE_BLOB_COLUMN])
    with _load_guard, connect() as client:
        ensure_table(client, database, table["name"], table["columns"])
        if data.num_rows:
            client.insert_arrow(
                f"{quote_identifier(database)}.{quote_identifier(table['name'])}",
                data,
                settings=warehouse_dialect().insert_settings,
            )


# Module-level, so dlt registers its factory under this module's name: `dlt pipeline <name> info`,
# `trace`, `failed-jobs` and `schema` restore revops pipelines from their state in another process
# (an inner function's factory cannot be imported there).
@dlt.destination(
    name="revops_clickhouse",
    batch_size=0,  # one call per normalized file: insert it whole
    loader_file_format="parquet",
    naming_convention="snake_case",
    skip_dlt_columns_and_tables=False,
)
def revops_clickhouse(items: str, table: TTableSchema, database: str = RAW_DATABASE) -> None:
    _load_file(items, table, database)


def clickhouse_destination(database: str = RAW_DATABASE) -> Any:
    """A dlt destination that loads into `database` of the configured warehouse."""
    return revops_clickhouse(database=database)
