"""Looking inside the warehouse: table status (ad-hoc SQL is in revops.cli.sql)."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from revops.core.warehouse import DATABASES, connect


@dataclass
class TableStatus:
    database: str
    table: str
    engine: str
    rows: int
    rows_by_workspace: dict[str, int]


def _count_sql(database: str, table: str, engine: str, group_by_workspace: bool) -> str:
    # Raw tables hold re-fetched versions of an object until merged; FINAL counts objects.
    final = " FINAL" if "ReplacingMergeTree" in engine else ""  # Replicated too
    if group_by_workspace:
        return f"SELECT workspace_id, count() FROM `{database}`.`{table}`{final} GROUP BY workspace_id"
    return f"SELECT '', count() FROM `{database}`.`{table}`{final}"


def _table_status(client: Client, database: str, table: str, engine: str) -> TableStatus:
    has_workspace = bool(
        client.command(
            "SELECT count() FROM system.columns WHERE database = {db:String} AND table = {t:String} "
            "AND name = 'workspace_id'",
            parameters={"db": database, "t": table},
        )
    )
    counts = dict(client.query(_count_sql(database, table, engine, has_workspace)).result_rows)
    return TableStatus(database, table, engine, sum(counts.values()), counts if has_workspace else {})


def warehouse_status() -> list[TableStatus]:
    with connect() as client:
        tables = client.query(
            "SELECT database, name, engine FROM system.tables WHERE database IN {dbs:Array(String)} "
            "AND NOT is_temporary AND engine NOT LIKE '%View' ORDER BY database, name",
            parameters={"dbs": list(DATABASES)},
        ).result_rows
        return [_table_status(client, database, table, engine) for database, table, engine in tables]
