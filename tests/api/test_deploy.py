"""The deployment files: compose files parse and have the shape docs/deploy.md promises (no Docker engine
is needed), the ClickHouse configs are well-formed, and dbt picks its `cluster` target for a cluster."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from revops.core.dbt import profile_env
from revops.core.paths import DBT_PROJECT_DIR, REPO_ROOT
from revops.core.warehouse import parse_warehouse_url

COMPOSE = REPO_ROOT / "docker-compose.yml"
CLUSTER = REPO_ROOT / "docker-compose.cluster.yml"
# Tags confirmed to exist on Docker Hub (branch tags of the 25.8 LTS line; Postgres' major tag).
PUBLISHED_IMAGES = {"clickhouse/clickhouse-server:25.8", "clickhouse/clickhouse-keeper:25.8", "postgres:17"}
SECRETS = {"CLICKHOUSE_PASSWORD", "CLICKHOUSE_API_PASSWORD", "CLICKHOUSE_BI_PASSWORD", "POSTGRES_PASSWORD"}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def merged_services() -> dict[str, dict[str, Any]]:
    """The services of `-f docker-compose.yml -f docker-compose.cluster.yml`, merged as compose does for
    the keys this test reads (mappings merge, the override's scalars and lists win)."""
    services = {name: dict(service) for name, service in load(COMPOSE)["services"].items()}
    for name, override in load(CLUSTER)["services"].items():
        base = services.setdefault(name, {})
        for key, value in override.items():
            base[key] = (
                {**base.get(key, {}), **value} if isinstance(value, dict) and key == "environment" else value
            )
    return services


def test_the_stack_has_every_service_with_a_healthcheck() -> None:
    services = load(COMPOSE)["services"]
    assert set(services) == {
        "clickhouse",
        "postgres",
        "dagster-code",
        "dagster-webserver",
        "dagster-daemon",
        "api",
    }
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in ("dagster-code", "dagster-webserver", "dagster-daemon", "api"):
        assert services[name]["build"] == ".", f"{name} must run the one image built from the repo"
    assert services["api"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"


@pytest.mark.parametrize("path", [COMPOSE, CLUSTER], ids=lambda p: p.name)
def test_images_are_pinned_to_published_tags(path: Path) -> None:
    for name, service in load(path)["services"].items():
        image = service.get("image")
        if image is None or "build" in service:
            continue
        assert image in PUBLISHED_IMAGES, f"{name}: {image} is not a pinned, published tag"


@pytest.mark.parametrize("path", [COMPOSE, CLUSTER], ids=lambda p: p.name)
def test_secrets_are_required_and_every_variable_is_in_env_example(path: Path) -> None:
    # Compose interpolates everything but comments.
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    used = {match.group(1): match.group(2) or "" for match in VARIABLE.finditer(text)}
    for secret in SECRETS & set(used):
        assert all(
            m.group(2) and m.group(2).startswith(":?")
            for m in VARIABLE.finditer(text)
            if m.group(1) == secret
        ), f"{secret} must be written ${{{secret}:?…}} everywhere in {path.name}"
    example = (REPO_ROOT / ".env.example").read_text()
    for variable in used:
        assert re.search(rf"^#? ?{variable}=", example, re.MULTILINE), f"{variable} missing from .env.example"
    assert "change-me" not in text, "no default passwords in compose files"


def test_the_api_reads_as_the_read_only_user() -> None:
    api = load(COMPOSE)["services"]["api"]
    url = api["environment"]["REVOPS_WAREHOUSE_URL"]
    assert url.startswith("http://revops_api:") and "CLICKHOUSE_PASSWORD" not in url.replace(
        "CLICKHOUSE_API_PASSWORD", ""
    )
    users = ET.parse(REPO_ROOT / "deploy/clickhouse/users.d/revops-readers.xml").getroot().find("users")
    assert users is not None
    grants = {user.tag: [q.text for q in user.iter("query")] for user in users}
    assert grants == {
        "revops_api": ["GRANT SELECT ON marts.*", "GRANT SELECT ON api.*"],
        "revops_bi": ["GRANT SELECT ON marts.*"],
    }


def test_mounted_files_exist_and_configs_are_well_formed() -> None:
    for service in merged_services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).is_file(), source
                if source.endswith(".xml"):
                    ET.parse(REPO_ROOT / source)
    for config in ("deploy/dagster/dagster.yaml", "deploy/dagster/workspace.yaml"):
        assert isinstance(load(REPO_ROOT / config), dict)
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile and "revops.api.main:create_app" in dockerfile
    assert "deploy/dagster/dagster.yaml" in dockerfile


def test_the_cluster_is_two_shards_of_two_replicas_with_a_keeper_quorum() -> None:
    services = merged_services()
    remote = ET.parse(REPO_ROOT / "deploy/clickhouse/cluster/remote-servers.xml").getroot()
    shards = [[r.findtext("host") for r in shard.iter("replica")] for shard in remote.iter("shard")]
    assert len(shards) == 2 and all(len(replicas) == 2 for replicas in shards)
    keepers = [node.findtext("host") for node in remote.iter("node")]
    assert len(keepers) == 3
    identities = set()
    for host in [h for shard in shards for h in shard]:
        assert services[host]["image"] == "clickhouse/clickhouse-server:25.8"
        macros_file = next(v.split(":")[0] for v in services[host]["volumes"] if "macros" in v)
        macros = ET.parse(REPO_ROOT / macros_file).getroot().find("macros")
        assert macros is not None and macros.findtext("replica") == host
        shard = next(i + 1 for i, replicas in enumerate(shards) if host in replicas)
        assert macros.findtext("shard") == str(shard)
        identities.add((macros.findtext("shard"), macros.findtext("replica")))
    assert len(identities) == 4
    for i, host in enumerate(keepers, start=1):
        assert services[host]["image"] == "clickhouse/clickhouse-keeper:25.8"
        keeper_file = next(v.split(":")[0] for v in services[host]["volumes"] if v.startswith("./"))
        assert ET.parse(REPO_ROOT / keeper_file).getroot().findtext("keeper_server/server_id") == str(i)
    assert services["dagster-code"]["environment"]["REVOPS_WAREHOUSE_CLUSTER"] == "revops"


def test_dbt_builds_with_the_cluster_target_on_a_cluster() -> None:
    server = parse_warehouse_url("http://etl:pw@clickhouse:8123/default")
    assert profile_env(server)["REVOPS_DBT_TARGET"] == "server"
    clustered = profile_env(server, cluster="revops")
    assert (clustered["REVOPS_DBT_TARGET"], clustered["REVOPS_CH_CLUSTER"]) == ("cluster", "revops")
    assert (
        profile_env(parse_warehouse_url("chdb:///tmp/wh"), cluster="revops")["REVOPS_DBT_TARGET"]
        == "embedded"
    )
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["revops"]["outputs"]
    assert profiles["cluster"]["cluster"] == "{{ env_var('REVOPS_CH_CLUSTER', '') }}"
    assert (
        profiles["cluster"]["host"] == profiles["server"]["host"]
    )  # the server's connection, plus the cluster
