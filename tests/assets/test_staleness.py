"""Issue 18's acceptance: on a new day acme's Stripe key is rejected; globex's marts are rebuilt to the
new day, and acme's keep its last good sync and are marked stale for acme only, in the warehouse
(marts.dim_data_freshness), the API (`X-Data-As-Of`, `X-Data-Stale` on every data response) and
Dagster (each mart's `every_workspace_fresh` check).

What the test expects comes from outside the code under test: the simulator's ground truth of each
day (the Stripe objects a mart counts) and the load log itself (raw.sync_attempts, when each
workspace's loads ended), not the freshness model's rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    ExecuteInProcessResult,
    define_asset_job,
)
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from revops.api.main import create_app
from revops.assets.definitions import build_definitions
from revops.assets.freshness import FRESHNESS_CHECK
from revops.assets.ingestion import raw_asset_key
from revops.assets.transformation import cautious_dbt_selection, dbt_build_run_config
from revops.cli.main import app
from revops.cli.running import run_outcome
from revops.core.settings import Settings
from revops.pipelines.sources import STRIPE
from revops_simulator import Faults, SimulatorServer, World
from tests.api.conftest import memory_keys
from tests.assets.test_tenant_isolation import _registry
from tests.support import query

DAY_1, DAY_2 = date(2026, 10, 15), date(2026, 10, 22)
MODES = AssetKey(["marts", "dim_workspace_modes"])
EPISODES = AssetKey(["marts", "fct_failed_payment_episodes"])
CONNECTIONS = AssetKey(["marts", "dim_connections"])
CHECKED = (MODES, EPISODES, CONNECTIONS)
MODE_OBJECTS = ("customers", "charges", "invoices", "payouts", "events")
"""The Stripe resources marts.dim_workspace_modes counts (`stripe_objects`)."""


def _stripe_ids(world: World, workspace_id: str) -> set[tuple[str, str]]:
    """The (resource, id) of every object Stripe lists for the workspace at the world's clock."""
    truth = world.ground_truth(workspace_id)
    return {(resource, item["id"]) for resource in MODE_OBJECTS for item in truth.objects[resource]}


def _run_day(
    instance: DagsterInstance,
    server: SimulatorServer,
    registry: Path,
    acme_key: str,
    globex_key: str,
    day: date,
) -> Any:
    """Load Stripe for both workspaces and build the marts under test, pinned to the day's end."""
    registry.write_text(_registry(server, acme_key, globex_key))
    defs = build_definitions(Settings(providers="registry", workspaces_file=registry))
    selection = (
        AssetSelection.assets(*(raw_asset_key(table) for table in STRIPE.tables))
        | cautious_dbt_selection("+dim_workspace_modes +fct_failed_payment_episodes +dim_data_freshness")
        | AssetSelection.checks(*(AssetCheckKey(key, FRESHNESS_CHECK) for key in CHECKED))
    )
    job = define_asset_job("stale_day", selection=selection)
    resolved = Definitions.merge(defs, Definitions(jobs=[job])).resolve_job_def("stale_day")
    return resolved.execute_in_process(
        instance=instance,
        run_config=dbt_build_run_config(f"{day:%Y-%m-%d} 23:59:59"),
        raise_on_error=False,
    )


def _freshness_checks(result: ExecuteInProcessResult) -> dict[AssetKey, Any]:
    return {e.asset_key: e for e in result.get_asset_check_evaluations() if e.check_name == FRESHNESS_CHECK}


def _last_success(workspace_id: str) -> datetime:
    """When the workspace's last successful Stripe load ended, from the load log itself."""
    rows = query(
        "SELECT max(finished_at) AS at FROM raw.sync_attempts "
        "WHERE workspace_id = {ws:String} AND source = 'stripe' AND succeeded",
        ws=workspace_id,
    )
    return rows[0]["at"].replace(tzinfo=UTC)


def test_a_failed_source_leaves_its_workspace_stale_and_the_other_rebuilt_to_the_new_day(
    revops_home: Path, tmp_path: Path
) -> None:
    world = World(seed=7, as_of=DAY_1, scale=0.1)
    acme, globex = world.workspaces[0], world.workspaces[1]
    registry = tmp_path / "workspaces.toml"
    instance = DagsterInstance.ephemeral()
    with SimulatorServer(world, faults=Faults()) as server:
        first = _run_day(instance, server, registry, acme.stripe_api_key, globex.stripe_api_key, DAY_1)
        assert first.success
        day_1_ids = {ws.id: _stripe_ids(world, ws.id) for ws in (acme, globex)}
        acme_synced = _last_success("acme")
        # Day 1: everyone current.
        assert all(check.passed for check in _freshness_checks(first).values())
        assert query("SELECT count() AS n FROM marts.dim_data_freshness WHERE is_stale")[0]["n"] == 0

        world.advance_to(DAY_2)
        second = _run_day(instance, server, registry, "sk_test_revoked", globex.stripe_api_key, DAY_2)
        # The warehouse keeps what a later listing no longer shows (deleted customers, events past
        # Stripe's 30 days): globex's objects are those listed on either day.
        day_2_globex = len(day_1_ids["globex"] | _stripe_ids(world, globex.id))

    assert second.success
    assert day_2_globex > len(day_1_ids["globex"]), "the simulated week must bring new Stripe objects"

    # The warehouse: globex's mart moved to day 2, acme's kept day 1's data…
    objects = {
        row["workspace_id"]: row["stripe_objects"]
        for row in query("SELECT workspace_id, stripe_objects FROM marts.dim_workspace_modes")
    }
    assert objects == {"acme": len(day_1_ids["acme"]), "globex": day_2_globex}
    # …and dim_data_freshness says so: acme stale since its day-1 sync, for every mart it has.
    globex_synced = _last_success("globex")
    assert globex_synced > acme_synced
    freshness = {
        (row["workspace_id"], row["mart"]): row
        for row in query(
            "SELECT * FROM marts.dim_data_freshness WHERE mart IN {marts:Array(String)}",
            marts=[".".join(key.path) for key in CHECKED],
        )
    }
    for mart in ("marts.dim_workspace_modes", "marts.fct_failed_payment_episodes"):
        acme_row, globex_row = freshness[("acme", mart)], freshness[("globex", mart)]
        assert (acme_row["is_stale"], acme_row["stale_providers"]) == (True, ["stripe"])
        assert acme_row["data_as_of"].replace(tzinfo=UTC) == acme_synced
        assert (globex_row["is_stale"], globex_row["stale_providers"]) == (False, [])
        assert globex_row["data_as_of"].replace(tzinfo=UTC) == globex_synced
    # The load log's own view is current for both (it is read live), never stale.
    assert not freshness[("acme", "marts.dim_connections")]["is_stale"]

    # Dagster: each mart's freshness check fails naming acme alone; the log view's passes.
    checks = _freshness_checks(second)
    assert set(checks) == set(CHECKED)
    for key in (MODES, EPISODES):
        assert not checks[key].passed
        assert checks[key].metadata["stale_workspaces"].value == ["acme"]
        assert checks[key].metadata["stale_providers"].value == {"acme": ["stripe"]}
        as_of = checks[key].metadata["data_as_of"].value
        assert datetime.fromisoformat(as_of["acme"]) == acme_synced
        assert datetime.fromisoformat(as_of["globex"]) == globex_synced
    assert checks[CONNECTIONS].passed
    # `revops run` names the stale workspace once, with its marts, beside acme's load error.
    outcome = run_outcome(instance, [second.run_id], second.success, 0.0)
    assert set(outcome.stale_marts) == {"acme"}
    assert {"dim_workspace_modes", "fct_failed_payment_episodes"} == set(outcome.stale_marts["acme"])
    assert not outcome.success and not any(FRESHNESS_CHECK in check for check in outcome.failed_checks)

    # The API: every data response says how current it is, per key's workspace.
    secrets, lookup = memory_keys(("acme", None), ("globex", None))
    with TestClient(create_app(Settings(), key_lookup=lookup)) as api:

        def headers(workspace_id: str, path: str) -> dict[str, str]:
            response = api.get(path, headers={"Authorization": f"Bearer {secrets[workspace_id]}"})
            assert response.status_code == 200, response.text
            return dict(response.headers)

        # The second answer is the page cache's: the headers come with it; the third is a new page
        # whose freshness comes from the cache of this warehouse session.
        for path in ("/v1/recovery/episodes", "/v1/recovery/episodes", "/v1/recovery/episodes?limit=1"):
            acme_page = headers("acme", path)
            assert acme_page["x-data-stale"] == "true"
            assert acme_page["x-data-stale-providers"] == "stripe"
            assert datetime.fromisoformat(acme_page["x-data-as-of"]) == acme_synced
            globex_page = headers("globex", path)
            assert globex_page["x-data-stale"] == "false"
            assert "x-data-stale-providers" not in globex_page
            assert datetime.fromisoformat(globex_page["x-data-as-of"]) == globex_synced
        assert headers("acme", "/v1/connections")["x-data-stale"] == "false"

    # `revops status`: per workspace, the as-of of its marts and the stale ones.
    status = CliRunner().invoke(app, ["status"], terminal_width=250)
    assert status.exit_code == 0, status.output
    section = status.output.split("Data freshness")[1].splitlines()[2:]
    listed = {line.split()[0]: line.split()[1:] for line in section if line.strip()}
    assert set(listed) == {"acme", "globex"}
    assert listed["acme"][:4] == [f"{acme_synced:%Y-%m-%d}", f"{acme_synced:%H:%M:%S}", "stale", "stripe"]
    stale_marts = set(" ".join(listed["acme"][4:]).split(", "))
    assert {"dim_workspace_modes", "fct_failed_payment_episodes"} <= stale_marts
    assert "dim_connections" not in stale_marts
    assert listed["globex"] == [f"{globex_synced:%Y-%m-%d}", f"{globex_synced:%H:%M:%S}", "current"]
