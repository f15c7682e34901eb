"""What BI users and lineage see: every mart column described and persisted as a ClickHouse comment,
the dbt exposures equal to what their consumers read, and docs/bi.md showing each chart's SQL."""

from __future__ import annotations

import json
from typing import Any

from revops.api.auth import WORKSPACE_MODES_TABLE
from revops.api.routes import INTERVAL_ENDPOINTS, MART_ENDPOINTS
from revops.assets.dunning import QUEUE_KEY
from revops.core.paths import REPO_ROOT
from revops.core.warehouse import connect
from revops.reporting import REPORT_CHARTS, report_tables
from tests.conftest import SimulatedWarehouse

# Every mart the REST API reads: its endpoints' tables (and their variants) and the key-mode table.
API_SERVED = (
    {endpoint.table.split(".")[1] for endpoint in MART_ENDPOINTS}
    | {
        option.table.split(".")[1]
        for endpoint in MART_ENDPOINTS
        if endpoint.variants
        for option in endpoint.variants.options
    }
    | {
        table.split(".")[1]
        for endpoint in INTERVAL_ENDPOINTS
        for table in (endpoint.day_table, endpoint.month_table)
    }
    | {WORKSPACE_MODES_TABLE.split(".")[1]}
)


def _manifest(warehouse: SimulatedWarehouse) -> dict[str, Any]:
    return json.loads((warehouse.home / "dbt_target" / "manifest.json").read_text())


def _mart_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["alias"] or node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["schema"] == "marts"
    }


def test_every_mart_column_is_described_and_persisted_as_a_comment(
    simulated_warehouse: SimulatedWarehouse,
) -> None:
    nodes = _mart_nodes(_manifest(simulated_warehouse))
    with simulated_warehouse.open(), connect() as client:
        columns = client.query(
            "SELECT table, name, comment FROM system.columns WHERE database = 'marts' "
            "ORDER BY table, position"
        ).result_rows
        tables = dict(
            client.query("SELECT name, comment FROM system.tables WHERE database = 'marts'").result_rows
        )
    undocumented, unpersisted = [], []
    for table, column, comment in columns:
        description = nodes[table]["columns"].get(column, {}).get("description", "").strip()
        if not description:
            undocumented.append(f"{table}.{column}")
        elif comment.strip() != description:
            unpersisted.append(f"{table}.{column}")
    assert undocumented == []
    assert unpersisted == []  # chDB keeps what dbt-clickhouse's persist_docs wrote
    assert {t for t, comment in tables.items() if not comment.strip()} == set()


def _exposure(manifest: dict[str, Any], name: str) -> set[str]:
    exposure = manifest["exposures"][f"exposure.revops.{name}"]
    return {manifest["nodes"][node]["name"] for node in exposure["depends_on"]["nodes"]}


def test_exposures_list_what_their_consumers_read(simulated_warehouse: SimulatedWarehouse) -> None:
    manifest = _manifest(simulated_warehouse)
    assert _exposure(manifest, "rest_api") == API_SERVED
    assert _exposure(manifest, "dunning_sensor") == {QUEUE_KEY.path[-1]}
    assert _exposure(manifest, "html_report") == report_tables()


def test_docs_show_the_sql_of_every_chart() -> None:
    bi = (REPO_ROOT / "docs" / "bi.md").read_text()
    for chart in REPORT_CHARTS:
        assert chart.sql in bi, chart.id
    assert "docs/bi.md" in (REPO_ROOT / "README.md").read_text()
