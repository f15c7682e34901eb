"""Looking inside the warehouse: table status (ad-hoc SQL is in revops.cli.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clickhouse_connect.driver.client import Client

from revops.core.warehouse import DATABASES, connect
from revops.pipelines.loading import RAW_DATABASE
from revops.pipelines.syncs import SYNC_ATTEMPTS_TABLE


@dataclass
class TableStatus:
    database: str
    table: str
    engine: str
    rows: int | None
    """None for a view: counting one runs its whole query (the usage views aggregate every event)."""
    rows_by_workspace: dict[str, int]

    @property
    def is_view(self) -> bool:
        return self.engine.endswith("View")  # View, MaterializedView, LiveView …


def _count_sql(database: str, table: str, engine: str, group_by_workspace: bool) -> str:
    # Raw tables hold re-fetched versions of an object until merged; FINAL counts objects.
    final = " FINAL" if "ReplacingMergeTree" in engine else ""  # Replicated too
    if group_by_workspace:
        return f"SELECT workspace_id, count() FROM `{database}`.`{table}`{final} GROUP BY workspace_id"
    return f"SELECT '', count() FROM `{database}`.`{table}`{final}"


def _table_status(client: Client, database: str, table: str, engine: str) -> TableStatus:
    if engine.endswith("View"):
        return TableStatus(database, table, engine, None, {})
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
    """Every table and view of raw, staging and marts, in pipeline order (then by name)."""
    with connect() as client:
        tables = client.query(
            "SELECT database, name, engine FROM system.tables WHERE database IN {dbs:Array(String)} "
            "AND NOT is_temporary ORDER BY indexOf({dbs:Array(String)}, database), name",
            parameters={"dbs": list(DATABASES)},
        ).result_rows
        return [_table_status(client, database, table, engine) for database, table, engine in tables]


CONNECTIONS_MART = "marts.dim_connections"


@dataclass(frozen=True)
class ConnectionStatus:
    workspace_id: str
    provider: str
    last_success_at: datetime | None
    last_attempt_at: datetime
    last_success_rows_loaded: int | None
    last_error: str | None
    needs_reauth: bool
    consecutive_failures: int | None
    """None when read from the raw attempts (before dbt first built the mart)."""


# Only until dbt first builds the mart (during a first run): the latest attempt
# per connection straight from the load log. The mart is the definition; this is its fallback.
_RAW_CONNECTIONS_SQL = f"""
SELECT
    workspace_id,
    provider,
    last_success_at,
    last_attempt_at,
    last_success_rows_loaded,
    tupleElement(last_attempt, 1) AS last_error,
    tupleElement(last_attempt, 2) AS needs_reauth,
    NULL AS consecutive_failures
FROM (
    SELECT
        workspace_id,
        source AS provider,
        maxIfOrNull(finished_at, succeeded) AS last_success_at,
        max(finished_at) AS last_attempt_at,
        argMaxIfOrNull(rows_loaded, (finished_at, started_at, attempt_id), succeeded)
            AS last_success_rows_loaded,
        argMax(tuple(if(succeeded, NULL, error), ifNull(needs_reauth, false)),
            (finished_at, started_at, attempt_id)) AS last_attempt
    FROM {RAW_DATABASE}.{SYNC_ATTEMPTS_TABLE}
    GROUP BY workspace_id, source
)
ORDER BY workspace_id, provider
"""


def connection_statuses() -> tuple[list[ConnectionStatus], str]:
    """Each (workspace, provider) connection's sync status, and the table it was read from: the mart,
    or the raw load log before dbt has built the mart (none before the first load)."""
    fields = [name for name in ConnectionStatus.__dataclass_fields__]
    with connect() as client:
        existing = {
            f"{database}.{name}"
            for database, name in client.query(
                "SELECT database, name FROM system.tables WHERE database IN ('raw', 'marts')"
            ).result_rows
        }
        if CONNECTIONS_MART in existing:
            sql, source = (
                f"SELECT {', '.join(fields)} FROM {CONNECTIONS_MART} ORDER BY workspace_id, provider",
                CONNECTIONS_MART,
            )
        elif f"{RAW_DATABASE}.{SYNC_ATTEMPTS_TABLE}" in existing:
            sql, source = _RAW_CONNECTIONS_SQL, f"{RAW_DATABASE}.{SYNC_ATTEMPTS_TABLE}"
        else:
            return [], ""
        rows = client.query(sql).named_results()
        return [ConnectionStatus(**{name: row[name] for name in fields}) for row in rows], source


FRESHNESS_MART = "marts.dim_data_freshness"


@dataclass(frozen=True)
class WorkspaceFreshness:
    """How current one workspace's marts are, as the last build left them (marts.dim_data_freshness)."""

    workspace_id: str
    data_as_of: datetime | None
    """The oldest as-of over its marts: every mart holds its data up to at least then."""
    stale_marts: tuple[str, ...]
    """Its stale marts (table names), sorted."""
    stale_providers: tuple[str, ...]
    """The providers that make them stale, sorted."""


_FRESHNESS_SQL = f"""
SELECT
    workspace_id,
    if(countIf(data_as_of IS NULL) > 0, NULL, min(data_as_of)) AS data_as_of,
    arraySort(groupArrayIf(splitByChar('.', mart)[2], is_stale)) AS stale_marts,
    arraySort(arrayDistinct(arrayFlatten(groupArray(stale_providers)))) AS stale_providers
FROM {FRESHNESS_MART}
WHERE notEmpty(providers)
GROUP BY workspace_id
ORDER BY workspace_id
"""


def workspace_freshness() -> list[WorkspaceFreshness]:
    """Per workspace, the as-of of its marts and which are stale; empty before dbt first built them."""
    with connect() as client:
        built = client.command(
            "SELECT count() FROM system.tables WHERE database = 'marts' AND name = 'dim_data_freshness'"
        )
        if not int(built):
            return []
        return [
            WorkspaceFreshness(
                row["workspace_id"],
                row["data_as_of"],
                tuple(row["stale_marts"]),
                tuple(row["stale_providers"]),
            )
            for row in client.query(_FRESHNESS_SQL).named_results()
        ]
