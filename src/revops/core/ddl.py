"""The one place that decides how revops declares the tables it owns outside dbt (`raw`, `api`).

On one ClickHouse — the embedded engine or a single server — statements are plain. On a cluster
(REVOPS_WAREHOUSE_CLUSTER, for a server warehouse) each such table is one replication group spanning
every node of the cluster, so any node holds all of it and a lost node loses nothing another node has
fetched (docs/deploy.md, "The raw layer on a cluster"):

- what ClickHouse runs on one server only (CREATE DATABASE, CREATE TABLE) runs `ON CLUSTER`;
- engines are the Replicated variants, on one Keeper path for every node: `{uuid}` (the same on every
  node for an ON CLUSTER create) without `{shard}`, and the node's `{replica}` macro as its name;
- what a replicated table replicates by itself (ALTER, OPTIMIZE, TRUNCATE, mutations) runs on the
  connected node only. ON CLUSTER would run it once per shard of the cluster — twice, concurrently, in
  this one replication group;
- inserts into these tables (`insert_settings`) return only once a majority of the replicas have the
  rows (`insert_quorum='auto'`): a node lost right after acknowledging a load, a dunning action's
  record or a new API key loses nothing, and the dunning log's exactly-once record survives it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from revops.core.settings import get_settings
from revops.core.warehouse import WarehouseError, current_target

# Not the server's default_replica_path (`/clickhouse/tables/{uuid}/{shard}`): that one makes a group per
# shard, as dbt's models want; revops' own tables replicate to every node whatever its shard.
EVERY_NODE_REPLICA_PATH = "/clickhouse/tables/{uuid}/every_node"
REPLICA_NAME = "{replica}"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Dialect:
    """DDL for one ClickHouse (`cluster` None) or for every node of the named cluster."""

    cluster: str | None = None

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER {quote_identifier(self.cluster)}" if self.cluster else ""

    def engine(self, family: str, *args: str) -> str:
        """`family` (a MergeTree engine) with its arguments, replicated to every node on a cluster."""
        if self.cluster:
            args = (_quote_string(EVERY_NODE_REPLICA_PATH), _quote_string(REPLICA_NAME), *args)
            family = f"Replicated{family}"
        return f"{family}({', '.join(args)})" if args else family

    def create_database(self, database: str) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}{self.on_cluster}"

    def create_table(
        self,
        database: str,
        table: str,
        columns: Mapping[str, str],
        engine: str,
        *engine_args: str,
        order_by: Sequence[str],
    ) -> str:
        """CREATE TABLE IF NOT EXISTS from `{column: ClickHouse type}`; `engine_args` are SQL expressions."""
        column_sql = ",\n  ".join(f"{quote_identifier(name)} {type_}" for name, type_ in columns.items())
        return (
            f"CREATE TABLE IF NOT EXISTS {quote_identifier(database)}.{quote_identifier(table)}"
            f"{self.on_cluster} (\n  {column_sql}\n)"
            f"\nENGINE = {self.engine(engine, *engine_args)}"
            f"\nORDER BY ({', '.join(quote_identifier(name) for name in order_by)})"
        )

    @property
    def insert_settings(self) -> dict[str, str]:
        """Settings for every insert into these tables (see the module docstring)."""
        return {"insert_quorum": "auto"} if self.cluster else {}

    def add_column(self, database: str, table: str, column: str, type_: str) -> str:
        # The same on a cluster: a replicated table replicates its own ALTERs (see the module docstring).
        return (
            f"ALTER TABLE {quote_identifier(database)}.{quote_identifier(table)} "
            f"ADD COLUMN IF NOT EXISTS {quote_identifier(column)} {type_}"
        )

    def check_engine(self, database: str, table: str, engine: str) -> None:
        """Refuse an existing table the dialect would not have created: on a cluster, a table made before
        the cluster was configured exists on one node only and is not replicated."""
        if self.cluster and not engine.startswith("Replicated"):
            raise WarehouseError(
                f"{database}.{table} is a {engine} table, but REVOPS_WAREHOUSE_CLUSTER={self.cluster} needs "
                "it replicated on every node of the cluster: move its data into a replicated table as "
                'docs/deploy.md explains ("Moving a single server onto the cluster"), or unset '
                "REVOPS_WAREHOUSE_CLUSTER."
            )


def warehouse_dialect() -> Dialect:
    """The dialect of the configured warehouse: a cluster is a server setting, never an embedded one."""
    cluster = get_settings().warehouse_cluster
    return Dialect(cluster if cluster and not current_target().is_embedded else None)


def create_table_if_missing(
    client: Client,
    database: str,
    table: str,
    columns: Mapping[str, str],
    engine: str,
    *engine_args: str,
    order_by: Sequence[str],
) -> None:
    """Create `database.table` (and its database) unless the connected node has it.

    An existing table is left as it is (its columns are the caller's business), so the statements that
    reach every node of a cluster run once per table, not once per load.
    """
    dialect = warehouse_dialect()
    existing = client.query(
        "SELECT engine FROM system.tables WHERE database = {db:String} AND name = {tbl:String}",
        parameters={"db": database, "tbl": table},
    ).result_rows
    if existing:
        dialect.check_engine(database, table, existing[0][0])
        return
    client.command(dialect.create_database(database))
    client.command(dialect.create_table(database, table, columns, engine, *engine_args, order_by=order_by))
