"""The Dagster code location loads, and its asset graph wires dlt tables into dbt models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, Definitions

from revops.assets.ingestion import QUARANTINE_CHECK, raw_asset_key
from revops.assets.jobs import MAIN_JOB_NAME
from revops.core.paths import REPO_ROOT
from revops.pipelines.quarantine import QUARANTINE_TABLE
from revops.pipelines.sources import STRIPE


def test_definitions_load_with_the_main_job_and_schedule(production_definitions: Definitions) -> None:
    assert production_definitions.resolve_job_def(MAIN_JOB_NAME) is not None
    assert production_definitions.resolve_schedule_def("revops_main_daily").job_name == MAIN_JOB_NAME


def test_each_source_has_its_own_job_reaching_its_models(production_definitions: Definitions) -> None:
    job = production_definitions.resolve_job_def("load_stripe")
    selected = job.asset_layer.selected_asset_keys
    assert raw_asset_key("stripe_customers") in selected
    assert AssetKey(["staging", "stg_stripe__customers"]) in selected
    assert production_definitions.resolve_schedule_def("load_stripe_schedule").job_name == "load_stripe"


def test_raw_tables_declare_freshness(production_definitions: Definitions) -> None:
    spec = next(iter(production_definitions.resolve_assets_def(raw_asset_key("stripe_charges")).specs))
    assert spec.freshness_policy is not None


def test_every_staging_model_depends_on_its_raw_table(production_definitions: Definitions) -> None:
    graph = production_definitions.resolve_asset_graph()
    staging = [key for key in graph.get_all_asset_keys() if key.path[0] == "staging"]
    assert len(staging) >= 15
    upstream_of_customers = graph.get(AssetKey(["staging", "stg_stripe__customers"])).parent_keys
    assert raw_asset_key("stripe_customers") in upstream_of_customers
    for key in staging:
        parents = graph.get(key).parent_keys
        assert parents, f"{key} has no upstream"
    raw_keys = {raw_asset_key(table) for table in STRIPE.tables}
    # dbt sources are the dlt assets themselves, not separate external assets.
    assert raw_keys <= set(graph.materializable_asset_keys)


def test_dbt_tests_are_asset_checks(production_definitions: Definitions) -> None:
    checks = production_definitions.resolve_asset_graph().asset_check_keys
    assert any(check.asset_key.path[0] == "staging" for check in checks)
    # One check over the one bad-record sink, run by every job that loads.
    quarantine = AssetCheckKey(raw_asset_key(QUARANTINE_TABLE), QUARANTINE_CHECK)
    assert quarantine in checks
    for job in ("revops_main", "load_stripe", "load_plaid"):
        assert (
            quarantine in production_definitions.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        )


def test_dagster_cli_validates_the_workspace() -> None:
    """`make dev`'s workspace: the demo (REVOPS_PROVIDERS=simulated), as the Makefile runs it."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"REVOPS_PROVIDERS": "simulated"}
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
