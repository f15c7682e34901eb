"""The cluster's ClickHouse configs fit the two kinds of replicated tables revops creates: dbt's models (a
replication group per shard, the server's default replica path) and revops' own tables (one group over
every node, core/ddl.py's path)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import yaml

from revops.core.ddl import EVERY_NODE_REPLICA_PATH, REPLICA_NAME
from revops.core.paths import REPO_ROOT

CLUSTER_FILE = REPO_ROOT / "docker-compose.cluster.yml"
REMOTE_SERVERS = "./deploy/clickhouse/cluster/remote-servers.xml"


def server_nodes() -> dict[str, dict[str, Any]]:
    services = yaml.safe_load(CLUSTER_FILE.read_text())["services"]
    return {
        name: service for name, service in services.items() if "clickhouse-server" in service.get("image", "")
    }


def mounted(service: dict[str, Any], target_suffix: str) -> str:
    return next(v.split(":")[0] for v in service["volumes"] if v.split(":")[1].endswith(target_suffix))


def test_every_node_shares_one_cluster_definition_and_has_a_replica_name_of_its_own() -> None:
    nodes = server_nodes()
    assert len(nodes) == 4
    assert {mounted(service, "config.d/remote-servers.xml") for service in nodes.values()} == {REMOTE_SERVERS}
    replicas = []
    for service in nodes.values():
        macros = ET.parse(REPO_ROOT / mounted(service, "config.d/macros.xml")).getroot().find("macros")
        assert macros is not None
        replicas.append(macros.findtext("replica"))
    # Replica names identify a node within a replication group; revops' own tables have one group over
    # every node, so the names must differ across shards too, not only within one.
    assert len(set(replicas)) == len(replicas) == 4


def test_replica_paths_are_by_table_uuid() -> None:
    config = ET.parse(REPO_ROOT / REMOTE_SERVERS).getroot()
    # dbt-clickhouse rebuilds a model as a new table and EXCHANGEs it with the old: a path by table name
    # would still be held by the live table when the next run creates the new one.
    assert config.findtext("default_replica_path") == "/clickhouse/tables/{uuid}/{shard}"
    assert config.findtext("default_replica_name") == "{replica}" == REPLICA_NAME
    assert "{uuid}" in EVERY_NODE_REPLICA_PATH and "{shard}" not in EVERY_NODE_REPLICA_PATH


def test_the_configured_cluster_is_the_one_the_nodes_define() -> None:
    config = ET.parse(REPO_ROOT / REMOTE_SERVERS).getroot()
    remote_servers = config.find("remote_servers")
    assert remote_servers is not None
    defined = {cluster.tag for cluster in remote_servers}
    services = yaml.safe_load(CLUSTER_FILE.read_text())["services"]
    assert services["dagster-code"]["environment"]["REVOPS_WAREHOUSE_CLUSTER"] in defined
    dbt_project = yaml.safe_load((REPO_ROOT / "dbt_project/dbt_project.yml").read_text())
    # dbt's models name no replica path: they get the servers' default, a group per shard.
    assert "'ReplicatedMergeTree' if target.name == 'cluster'" in dbt_project["models"]["revops"]["+engine"]
