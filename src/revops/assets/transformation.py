"""Transformation assets: the dbt project, its models as assets and its tests as asset checks."""

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSelection, Config, Definitions
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliResource,
    DbtProject,
    build_dbt_asset_selection,
    dbt_assets,
)
from dagster_dbt.asset_utils import get_asset_check_key_for_test
from dagster_dbt.utils import select_unique_ids
from pydantic import Field

from revops.core.paths import DBT_PROJECT_DIR
from revops.pipelines.runner import ensure_raw_tables

revops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
revops_dbt_project.prepare_if_dev()
if not revops_dbt_project.manifest_path.exists():
    # A fresh checkout has no manifest yet; parsing needs no warehouse.
    revops_dbt_project.preparer.prepare(revops_dbt_project)

# The launcher next to this interpreter runs dbt on any warehouse, chDB included (see core/dbt.py).
REVOPS_DBT_EXECUTABLE = str(Path(sys.executable).with_name("revops-dbt"))


class RevopsDbtTranslator(DagsterDbtTranslator):
    """Asset keys are [database, table], for dbt sources and models alike, matching the raw assets."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return AssetKey(
            [dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]]
        )


class DbtBuildConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="The instant every model of this build measures against, UTC 'YYYY-MM-DD HH:MM:SS' "
        "(the dbt var `as_of`); default: the moment the build starts.",
    )


def dbt_build_run_config(as_of: str) -> dict[str, Any]:
    """Run config pinning the dbt build of a run to `as_of`."""
    return {"ops": {"revops_dbt_models": {"config": {"as_of": as_of}}}}


@dbt_assets(
    manifest=revops_dbt_project.manifest_path,
    project=revops_dbt_project,
    dagster_dbt_translator=RevopsDbtTranslator(),
    # Day-partitioned usage models have their own assets and job (assets/usage.py).
    exclude="tag:usage_daily",
)
def revops_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    # Models over a source no workspace has configured build empty instead of failing.
    ensure_raw_tables()
    pinned = ["--vars", json.dumps({"as_of": config.as_of})] if config.as_of else []
    yield from dbt.cli(["build", *pinned], context=context).stream()


def cautious_dbt_selection(dbt_select: str) -> AssetSelection:
    """The models and seeds a dbt selection names, with only the dbt tests (asset checks) that read
    nothing outside it (or the raw sources): dbt's `--indirect-selection cautious`, which
    dagster-dbt's own selection (always eager) cannot express. A subset built on a fresh warehouse
    then never runs a relationship test against a model it did not build."""
    manifest = json.loads(revops_dbt_project.manifest_path.read_text())
    selected = select_unique_ids(dbt_select, "", "", revops_dbt_project, manifest)
    built = {unique_id for unique_id in selected if not unique_id.startswith("test.")}
    checks = [
        get_asset_check_key_for_test(manifest, RevopsDbtTranslator(), unique_id, revops_dbt_project)
        for unique_id in selected - built
        if all(
            parent in built or parent.startswith("source.")
            for parent in manifest["nodes"][unique_id]["depends_on"]["nodes"]
        )
    ]
    models = build_dbt_asset_selection([revops_dbt_models], dbt_select=dbt_select).without_checks()
    return models | AssetSelection.checks(*(check for check in checks if check is not None))


defs = Definitions(
    assets=[revops_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=revops_dbt_project, dbt_executable=REVOPS_DBT_EXECUTABLE)},
)
