"""One tenant's bad day stays its own (issue 18): acme's Stripe key is rejected, and globex's Stripe data
still reaches its models in the same Dagster run; the failure is a failed sync check naming acme (needs
reauthentication), and `revops run`'s outcome fails."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from revops.assets.definitions import build_definitions
from revops.assets.ingestion import SYNC_CHECK, raw_asset_key
from revops.cli.running import run_outcome
from revops.core.settings import Settings
from revops.pipelines.sources import STRIPE
from revops_simulator import Faults, SimulatorServer, World
from tests.support import query

STAGING_CUSTOMERS = ("staging", "stg_stripe__customers")


def _registry(server: SimulatorServer, acme_key: str, globex_key: str) -> str:
    return f"""
[workspaces.acme]
name = "Acme"
[workspaces.acme.stripe]
api_base = "{server.stripe_base_url}"
api_key = "{acme_key}"

[workspaces.globex]
name = "Globex"
[workspaces.globex.stripe]
api_base = "{server.stripe_base_url}"
api_key = "{globex_key}"
"""


def test_a_rejected_key_fails_its_workspace_only_and_the_others_models_are_built(
    revops_home: Path, tmp_path: Path
) -> None:
    world = World(seed=7, as_of=date(2026, 10, 15), scale=0.1)
    globex = world.workspaces[1]
    with SimulatorServer(world, faults=Faults()) as server:
        registry = tmp_path / "workspaces.toml"
        registry.write_text(_registry(server, "sk_test_revoked", globex.stripe_api_key))
        defs = build_definitions(Settings(providers="registry", workspaces_file=registry))
        instance = DagsterInstance.ephemeral()
        selection = [raw_asset_key(table) for table in STRIPE.tables] + [AssetKey(list(STAGING_CUSTOMERS))]
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=False
        )

    # The run goes on past acme's failure: globex's customers reach staging; acme has none. (Live
    # ones: customers deleted before the load come in as deleted stubs, which lists omit.)
    assert result.success
    customers = {
        row["workspace_id"]: row["customers"]
        for row in query(
            "SELECT workspace_id, countIf(NOT is_deleted) AS customers FROM staging.stg_stripe__customers "
            "GROUP BY workspace_id"
        )
    }
    assert customers == {"globex": len(world.ground_truth(globex.id).objects["customers"])}

    # Each Stripe table's sync check fails, naming acme only, as needing a new key.
    sync_checks = [e for e in result.get_asset_check_evaluations() if e.check_name == SYNC_CHECK]
    assert {e.asset_key for e in sync_checks} == {raw_asset_key(table) for table in STRIPE.tables}
    assert not any(e.passed for e in sync_checks)
    assert all(e.metadata["failed_workspaces"].value == ["acme"] for e in sync_checks)
    assert all(e.metadata["needs_reauth"].value == ["acme"] for e in sync_checks)
    assert "acme" in sync_checks[0].metadata["errors"].value["acme"]

    # `revops run` reports acme's load and exits non-zero although Dagster's run succeeded.
    outcome = run_outcome(instance, [result.run_id], result.success, 0.0)
    assert not outcome.success
    assert len(outcome.errors) == 1 and "acme" in outcome.errors[0]
