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


LATER = datetime(2026, 10, 10, 8, 15, 2, tzinfo=UTC)
EARLIER = datetime(2026, 8, 1, tzinfo=UTC)


def test_each_source_moves_its_own_cursors_back_to_the_date_and_never_forward() -> None:
    """The per-source rewinds on dlt resource states shaped as each source writes them."""
    from revops.pipelines import plaid, quickbooks, usage, xero
    from revops.pipelines.xero.helpers import if_modified_since

    # QuickBooks: the LastUpdatedTime cursor (an ISO instant) goes back; the ids known for deletions stay.
    qbo = {
        "qbo_invoices": {"cursor": LATER.isoformat(), "at_cursor": ["7"], "known": ["7", "8"]},
        "qbo_customers": {"cursor": EARLIER.isoformat(), "at_cursor": ["3"], "known": ["3"]},
    }
    quickbooks.rewind(qbo, SINCE)
    assert qbo["qbo_invoices"] == {
        "cursor": "2026-09-01T00:00:00+00:00",
        "at_cursor": [],
        "known": ["7", "8"],
    }
    assert qbo["qbo_customers"]["cursor"] == EARLIER.isoformat()  # already before: stays

    # Xero: If-Modified-Since is sent from the UpdatedDateUTC cursor; after the rewind, from the date.
    later_ms = f"/Date({int(LATER.timestamp() * 1000)}+0000)/"
    earlier_ms = f"/Date({int(EARLIER.timestamp() * 1000)}+0000)/"
    incremental = {"UpdatedDateUTC": {"last_value": later_ms, "unique_hashes": ["h"]}}
    xero_state = {"xero_invoices": {"incremental": incremental}}
    xero_state["xero_contacts"] = {
        "incremental": {"UpdatedDateUTC": {"last_value": earlier_ms, "unique_hashes": ["h"]}}
    }
    xero.rewind(xero_state, SINCE)
    invoices = xero_state["xero_invoices"]["incremental"]["UpdatedDateUTC"]
    assert (
        if_modified_since(invoices["last_value"]) == "2026-09-01T00:00:00Z"
        and invoices["unique_hashes"] == []
    )
    assert xero_state["xero_contacts"]["incremental"]["UpdatedDateUTC"]["last_value"] == earlier_ms

    # Plaid: /transactions/sync cursors only start from the beginning: every Item's is dropped.
    plaid_state = {"plaid_transactions": {"cursors": {"item_1": "CAESJ..."}}}
    plaid.rewind(plaid_state, SINCE)
    assert plaid_state == {"plaid_transactions": {}}

    # Usage: drop files by modification time from the date; the opaque feed cursor from its start.
    usage_state = {
        "usage_events": {"cursor": "opaque-42"},
        "usage_drop_files": {
            "incremental": {"modified": {"last_value": LATER.timestamp(), "unique_hashes": ["h"]}}
        },
    }
    usage.rewind(usage_state, SINCE)
    assert usage_state["usage_events"] == {}
    assert usage_state["usage_drop_files"]["incremental"]["modified"] == {
        "last_value": SINCE.timestamp(),
        "unique_hashes": [],
    }
