"""`revops backfill` for one workspace and source (issue 16): its cursors move back to the date, the
ingestion step loads only that workspace (the run configuration `revops run --workspace` gives it),
what it had lost since the date is back, the other workspace's raw rows are byte-for-byte what they
were, and a second backfill leaves the warehouse's content as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from revops.assets.definitions import build_definitions
from revops.assets.ingestion import ingestion_op_name, raw_asset_key
from revops.core.settings import Settings
from revops.core.warehouse import connect
from revops.pipelines.loading import LINEAGE_COLUMNS
from revops.pipelines.runner import rewind
from revops.pipelines.sources import STRIPE
from revops_simulator import Faults, SimulatorServer, World
from tests.pipelines.conftest import AS_OF, SCALE
from tests.support import load_simulated

SINCE = datetime(2026, 9, 1, tzinfo=UTC)


def _registry(world: World, server: SimulatorServer) -> str:
    return "".join(
        f'[workspaces.{ws.id}]\nname = "{ws.id}"\n[workspaces.{ws.id}.stripe]\n'
        f'api_base = "{server.stripe_base_url}"\napi_key = "{ws.stripe_api_key}"\n\n'
        for ws in world.workspaces
    )


def _physical_rows(workspace_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row (every version, every column, lineage included) of the workspace's Stripe tables."""
    with connect() as client:
        return {
            table: sorted(
                client.query(
                    f"SELECT * FROM raw.{table} WHERE workspace_id = {{ws:String}}",
                    parameters={"ws": workspace_id},
                ).result_rows,
                key=repr,
            )
            for table in STRIPE.tables
        }


def _content(workspace_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What staging reads of the workspace: each key's latest version, without when and by which load."""
    with connect() as client:
        content = {}
        for table in STRIPE.tables:
            columns = [
                row[0]
                for row in client.query(
                    "SELECT name FROM system.columns WHERE database = 'raw' AND table = {t:String} "
                    "ORDER BY name",
                    parameters={"t": table},
                ).result_rows
                if row[0] not in LINEAGE_COLUMNS
            ]
            listed = ", ".join(f"`{column}`" for column in columns)
            content[table] = sorted(
                client.query(
                    f"SELECT {listed} FROM raw.{table} FINAL WHERE workspace_id = {{ws:String}}",
                    parameters={"ws": workspace_id},
                ).result_rows,
                key=repr,
            )
        return content


def _charge_ids(workspace_id: str) -> set[str]:
    with connect() as client:
        return {
            row[0]
            for row in client.query(
                "SELECT id FROM raw.stripe_charges FINAL WHERE workspace_id = {ws:String}",
                parameters={"ws": workspace_id},
            ).result_rows
        }


def test_a_backfill_reloads_one_workspace_and_source_only_and_twice_changes_nothing(
    revops_home: Path, tmp_path: Path
) -> None:
    world = World(seed=7, as_of=AS_OF, scale=SCALE)
    acme, globex = (ws.id for ws in world.workspaces)
    since = int(SINCE.timestamp())
    with SimulatorServer(world, faults=Faults()) as server:
        load_simulated(world, server, sources=["stripe"])
        registry = tmp_path / "workspaces.toml"
        registry.write_text(_registry(world, server))
        job = build_definitions(Settings(providers="registry", workspaces_file=registry))
        job = job.resolve_implicit_global_asset_job_def()
        truth = {obj["id"] for obj in world.ground_truth(acme).objects["charges"]}
        recent = {obj["id"] for obj in world.ground_truth(acme).objects["charges"] if obj["created"] >= since}
        assert recent and recent != truth  # the date splits acme's charges

        # acme's charges since the date are lost from the warehouse; its cursors are past them.
        with connect() as client:
            client.command(
                "DELETE FROM raw.stripe_charges "
                "WHERE workspace_id = {ws:String} AND created >= {since:Int64}",
                parameters={"ws": acme, "since": since},
            )
        assert _charge_ids(acme) == truth - recent
        others_before = _physical_rows(globex)

        def backfill() -> None:
            assert rewind(STRIPE, acme, SINCE)
            result = job.execute_in_process(
                instance=DagsterInstance.ephemeral(),
                asset_selection=[raw_asset_key(table) for table in STRIPE.tables],
                run_config={"ops": {ingestion_op_name(STRIPE): {"config": {"workspaces": [acme]}}}},
            )
            assert result.success

        backfill()
        assert _charge_ids(acme) == truth
        assert _physical_rows(globex) == others_before
        acme_after_one = _content(acme)

        backfill()
        assert _content(acme) == acme_after_one
        assert _physical_rows(globex) == others_before
