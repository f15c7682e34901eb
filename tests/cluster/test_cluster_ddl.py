"""Every table revops creates outside dbt, on a cluster: ON CLUSTER, replicated on every node, schema
evolution replicated by the table itself; and on one ClickHouse the same statements as before.

No ClickHouse server or Keeper runs here (docs/deploy.md says what was and was not run against a real
cluster), so the DDL sites run against a stand-in client and the statements they send are checked as
text, then parsed by ClickHouse's own parser (chDB's `formatQuery`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dlt
import pytest

from revops.api.keys import ensure_keys_table
from revops.core.ddl import EVERY_NODE_REPLICA_PATH, Dialect, warehouse_dialect
from revops.core.warehouse import WarehouseError, connect, ensure_databases
from revops.pipelines import loading
from revops.pipelines.loading import LINEAGE_COLUMNS, VERSION_COLUMN, contract_columns, ensure_table
from revops.pipelines.runner import OWN_TABLE_DECLARATIONS
from revops.pipelines.sources import SOURCES
from revops.quality.quarantine import ensure_quarantine_table
from tests.cluster.conftest import CLUSTER, SERVER_URL, RecordingClient, warehouse_settings

REPLICATED_ARGS = f"'{EVERY_NODE_REPLICA_PATH}', '{{replica}}'"
CHARGES = contract_columns({**LINEAGE_COLUMNS, "amount": "bigint"}, ("workspace_id", "id"), LINEAGE_COLUMNS)


CREATE_ON_CLUSTER = re.compile(
    rf"CREATE TABLE IF NOT EXISTS (?P<table>`\w+`\.`\w+`) ON CLUSTER `{CLUSTER}` \(\n.*\n\)\n"
    r"ENGINE = Replicated(?P<family>MergeTree|ReplacingMergeTree)"
    rf"\({re.escape(REPLICATED_ARGS)}(?P<args>.*)\)\n"
    r"ORDER BY \((?P<order_by>.*)\)",
    re.DOTALL,
)


def declared_schemas() -> Iterator[dlt.Schema]:
    """The raw-table contracts of every source and of revops' own raw tables."""
    for source in SOURCES:
        yield source.schema()
    for name, declare in OWN_TABLE_DECLARATIONS.items():
        schema = dlt.Schema(name)
        declare(schema)
        yield schema


def declared_tables() -> dict[str, list[str]]:
    """Every raw table revops declares, with its primary key: `raw`.`name` → key columns."""
    tables = {}
    for schema in declared_schemas():
        for table in schema.data_tables():
            key = [name for name, column in table["columns"].items() if column.get("primary_key")]
            tables[f"`raw`.`{table['name']}`"] = key
    return tables


def own_table_statements(client: RecordingClient) -> RecordingClient:
    """Run every site that creates a table revops owns (not dlt's own tables: see the pipeline test)."""
    for schema in declared_schemas():
        loading.ensure_declared_tables(client, schema)
    ensure_quarantine_table(client)
    ensure_keys_table(client)
    ensure_databases(client)
    return client


def test_a_keyed_raw_table_is_created_on_every_node_as_one_replicated_group(cluster_node: str) -> None:
    client = RecordingClient()
    ensure_table(client, "raw", "charges", CHARGES)
    assert client.statements == [
        "CREATE DATABASE IF NOT EXISTS `raw` ON CLUSTER `revops`",
        "CREATE TABLE IF NOT EXISTS `raw`.`charges` ON CLUSTER `revops` (\n"
        "  `workspace_id` String,\n"
        "  `id` String,\n"
        "  `_revops_synced_at` DateTime64(6, 'UTC'),\n"
        "  `_dlt_load_id` String,\n"
        "  `_dlt_id` String,\n"
        "  `amount` Nullable(Int64)\n"
        ")\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/every_node', '{replica}', "
        "`_revops_synced_at`)\n"
        "ORDER BY (`workspace_id`, `id`)",
    ]


def test_an_unkeyed_table_is_a_replicated_merge_tree(cluster_node: str) -> None:
    client = RecordingClient()
    ensure_table(client, "raw", "audit", contract_columns({"event": "text"}))
    assert client.statements[1].endswith(f"\nENGINE = ReplicatedMergeTree({REPLICATED_ARGS})\nORDER BY ()")


def test_schema_evolution_alters_the_replicated_table_from_one_node(cluster_node: str) -> None:
    existing = ["workspace_id", "id", VERSION_COLUMN, "_dlt_load_id", "_dlt_id"]
    client = RecordingClient(tables={("raw", "charges"): ("ReplicatedReplacingMergeTree", existing)})
    ensure_table(client, "raw", "charges", CHARGES)
    # No CREATE (the table exists), and no ON CLUSTER: the replicated table carries the ALTER to every
    # replica; ON CLUSTER would run it once per shard, twice in the one replication group.
    assert client.statements == [
        "ALTER TABLE `raw`.`charges` ADD COLUMN IF NOT EXISTS `amount` Nullable(Int64)"
    ]


def test_a_table_another_process_created_meanwhile_still_gets_the_missing_columns(cluster_node: str) -> None:
    class CreatedMeanwhile(RecordingClient):
        def query(self, sql: str, parameters: Any = None) -> Any:
            if "FROM system.tables" in sql:  # not there yet when looked for...
                return SimpleNamespace(result_rows=[])
            return super().query(sql, parameters)

    # ...but there, without `amount`, when our CREATE TABLE IF NOT EXISTS arrives.
    narrow = ["workspace_id", "id", VERSION_COLUMN, "_dlt_load_id", "_dlt_id"]
    client = CreatedMeanwhile(tables={("raw", "charges"): ("ReplicatedReplacingMergeTree", narrow)})
    ensure_table(client, "raw", "charges", CHARGES)
    assert (
        client.statements[-1]
        == "ALTER TABLE `raw`.`charges` ADD COLUMN IF NOT EXISTS `amount` Nullable(Int64)"
    )


def test_a_table_made_before_the_cluster_was_configured_is_refused(cluster_node: str) -> None:
    client = RecordingClient(tables={("raw", "charges"): ("ReplacingMergeTree", ["workspace_id", "id"])})
    with pytest.raises(WarehouseError, match=r"raw\.charges is a ReplacingMergeTree table.*REVOPS_WAREHOUSE"):
        ensure_table(client, "raw", "charges", CHARGES)
    assert client.statements == []


def test_the_api_keys_table_is_replicated_on_every_node(cluster_node: str) -> None:
    client = RecordingClient()
    ensure_keys_table(client)
    assert client.statements[0] == "CREATE DATABASE IF NOT EXISTS `api` ON CLUSTER `revops`"
    assert client.statements[1].startswith(
        "CREATE TABLE IF NOT EXISTS `api`.`api_keys` ON CLUSTER `revops` (\n"
    )
    assert client.statements[1].endswith(
        f"\nENGINE = ReplicatedReplacingMergeTree({REPLICATED_ARGS}, version)\nORDER BY (`key_id`)"
    )


def test_every_own_table_and_database_is_created_on_cluster_and_replicated(cluster_node: str) -> None:
    statements = own_table_statements(RecordingClient()).statements
    databases = {s for s in statements if s.startswith("CREATE DATABASE")}
    assert databases == {
        f"CREATE DATABASE IF NOT EXISTS `{db}` ON CLUSTER `{CLUSTER}`"
        for db in ("raw", "staging", "marts", "api")
    }
    created = {}
    for statement in set(statements) - databases:
        match = CREATE_ON_CLUSTER.fullmatch(statement)
        assert match, statement
        created[match["table"]] = match
    declared = declared_tables()
    assert set(created) == {
        *declared,
        "`raw`.`quarantined_records`",
        "`raw`.`quarantine_releases`",
        "`api`.`api_keys`",
    }
    for table, key in declared.items():
        match = created[table]
        assert match["order_by"] == ", ".join(f"`{column}`" for column in key), table
        assert match["family"] == ("ReplacingMergeTree" if key else "MergeTree"), table
        versioned = bool(key) and f"`{VERSION_COLUMN}` " in match.string
        assert match["args"] == (f", `{VERSION_COLUMN}`" if versioned else ""), table


def test_dlt_loads_create_their_tables_on_cluster(cluster_node: str, tmp_path: Path, monkeypatch) -> None:
    """The destination itself, dlt's own state table included, declares tables through the dialect."""
    client = RecordingClient()

    @contextmanager
    def node() -> Iterator[RecordingClient]:
        yield client

    monkeypatch.setattr(loading, "connect", node)

    @dlt.resource(name="invoices", primary_key=("workspace_id", "id"), write_disposition="append")
    def invoices(updated=dlt.sources.incremental("updated", initial_value=0)):
        yield [{"workspace_id": "ws_a", "id": "in_1", "updated": 1}]

    pipeline = dlt.pipeline(
        pipeline_name="cluster_ddl",
        destination=loading.clickhouse_destination(),
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.run(invoices())
    tables = [s for s in client.statements if s.startswith("CREATE TABLE")]
    names = {s.split(" ON CLUSTER")[0].removeprefix("CREATE TABLE IF NOT EXISTS ") for s in tables}
    assert names == {"`raw`.`invoices`", "`raw`.`_dlt_pipeline_state`"}
    assert all(f"({REPLICATED_ARGS}" in s and f"ON CLUSTER `{CLUSTER}`" in s for s in tables)
    assert "`raw`.`invoices`" in client.inserted
    # Acknowledged only once a majority of the replicas have the rows.
    assert client.insert_settings and all(s == {"insert_quorum": "auto"} for s in client.insert_settings)


def test_cluster_statements_parse_as_clickhouse_sql(cluster_node: str, tmp_path: Path) -> None:
    statements = own_table_statements(RecordingClient()).statements
    statements.append(Dialect(CLUSTER).add_column("raw", "charges", "amount", "Nullable(Int64)"))
    with connect(f"chdb://{tmp_path / 'parser'}") as parser:
        for statement in statements:
            formatted = parser.query(
                "SELECT formatQuery({q:String})", parameters={"q": statement}
            ).result_rows
            assert formatted, statement


def test_one_clickhouse_gets_plain_statements(tmp_path: Path) -> None:
    """No cluster, or a cluster named for the embedded engine (which has none): the DDL of one server."""
    for url, cluster in [
        (f"chdb://{tmp_path / 'wh'}", None),
        (f"chdb://{tmp_path / 'wh'}", CLUSTER),
        (SERVER_URL, None),
    ]:
        with warehouse_settings(tmp_path, url, cluster):
            assert warehouse_dialect() == Dialect(None)
            assert warehouse_dialect().insert_settings == {}
            client = RecordingClient()
            ensure_table(client, "raw", "charges", CHARGES)
            ensure_table(client, "raw", "audit", contract_columns({"event": "text"}))
            ensure_keys_table(client)
            statements = "\n".join(client.statements)
            assert "ON CLUSTER" not in statements and "Replicated" not in statements
            assert (
                "ENGINE = ReplacingMergeTree(`_revops_synced_at`)\nORDER BY (`workspace_id`, `id`)"
                in statements
            )
            assert "ENGINE = MergeTree\nORDER BY ()" in statements
            assert "ENGINE = ReplacingMergeTree(version)\nORDER BY (`key_id`)" in statements
    # An existing non-replicated table is what one server should have: it is evolved, not refused.
    with warehouse_settings(tmp_path, SERVER_URL, None):
        client = RecordingClient(tables={("raw", "charges"): ("ReplacingMergeTree", ["workspace_id", "id"])})
        ensure_table(client, "raw", "charges", CHARGES)
        assert len(client.statements) == 4 and all(s.startswith("ALTER TABLE") for s in client.statements)


def test_the_embedded_warehouse_creates_and_evolves_raw_tables(tmp_path: Path) -> None:
    with warehouse_settings(tmp_path, f"chdb://{tmp_path / 'wh'}", CLUSTER):
        narrow = {name: column for name, column in CHARGES.items() if name != "amount"}
        with connect() as client:
            ensure_table(client, "raw", "charges", narrow)
            ensure_table(client, "raw", "charges", CHARGES)
            engine, sorting_key = client.query(
                "SELECT engine, sorting_key FROM system.tables WHERE database = 'raw' AND name = 'charges'"
            ).result_rows[0]
            columns = [
                row[0]
                for row in client.query(
                    "SELECT name FROM system.columns WHERE database = 'raw' AND table = 'charges' "
                    "ORDER BY position"
                ).result_rows
            ]
    assert (engine, sorting_key) == ("ReplacingMergeTree", "workspace_id, id")
    assert columns == list(CHARGES)
