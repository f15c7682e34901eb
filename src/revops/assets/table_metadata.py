"""Row counts and column schemas of the dbt models, read from the warehouse once the dbt step is done.

dagster-dbt's `fetch_row_counts()` / `fetch_column_metadata()` query through a dbt adapter in the
Dagster process while dbt still runs. On the embedded warehouse that cannot work: the dbt subprocess holds
chDB's lock (one process at a time), and the adapter would dial a server (the chDB swap lives in the
revops-dbt launcher only). So the step keeps dbt's events until dbt exits, then reads `system.tables` and
`system.columns` with one client and attaches the same metadata (`dagster/row_count`,
`dagster/column_schema`, with each column's type and its persisted description) to every
materialization. The same path serves servers, so the UI looks the same on both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from clickhouse_connect.driver.client import Client
from dagster import AssetKey, TableColumn, TableSchema

# Public in dagster's docs, exported from here only (dagster-dbt imports it the same way).
from dagster._core.definitions.metadata import TableMetadataSet


def table_metadata(client: Client, keys: Iterable[AssetKey]) -> dict[AssetKey, dict[str, Any]]:
    """Per asset keyed [database, table]: its row count (tables only: counting a view runs its query)
    and its column schema."""
    wanted = {(key.path[0], key.path[-1]): key for key in keys}
    databases = sorted({database for database, _ in wanted})
    if not databases:
        return {}
    tables = client.query(
        "SELECT database, name, engine, total_rows FROM system.tables WHERE database IN {dbs:Array(String)}",
        parameters={"dbs": databases},
    ).result_rows
    columns: dict[tuple[str, str], list[TableColumn]] = defaultdict(list)
    for database, table, name, type_, comment in client.query(
        "SELECT database, table, name, type, comment FROM system.columns "
        "WHERE database IN {dbs:Array(String)} ORDER BY database, table, position",
        parameters={"dbs": databases},
    ).result_rows:
        if (database, table) in wanted:
            columns[database, table].append(TableColumn(name, type_, description=comment or None))
    metadata: dict[AssetKey, dict[str, Any]] = {}
    for database, table, engine, total_rows in tables:
        key = wanted.get((database, table))
        if key is None:
            continue
        row_count = None if engine.endswith("View") or total_rows is None else int(total_rows)
        metadata[key] = {
            **TableMetadataSet(
                row_count=row_count,
                column_schema=TableSchema(columns=columns[database, table]),
                table_name=f"{database}.{table}",
                storage_kind="clickhouse",
            )
        }
    return metadata
