"""Transformation assets: the dbt project, its models as assets and its tests as asset checks."""

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    Config,
    Definitions,
    Output,
)
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

from revops.assets.kpis import kpi_metadata
from revops.assets.table_metadata import table_metadata
from revops.core.paths import DBT_PROJECT_DIR
from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables

revops_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
revops_dbt_project.prepare_if_dev()
if not revops_dbt_project.manifest_path.exists():
    # A fresh checkout has no manifest yet; parsing needs no warehouse.
    revops_dbt_project.preparer.prepare(revops_dbt_project)

# The launcher next to this interpreter runs dbt on any warehouse, chDB included (see core/dbt.py).
REVOPS_DBT_EXECUTABLE = str(Path(sys.executable).with_name("revops-dbt"))

# Who answers for each domain's models (Dagster owners: a team or an email).
DOMAIN_OWNERS = {
    "ledger": "team:finance",
    "reconciliation": "team:finance",
    "accounting": "team:finance",
    "metrics": "team:revops",
    "recovery": "team:revops",
    "usage": "team:data-platform",
    "workspaces": "team:data-platform",
}
STAGING_OWNER = "team:data-platform"

# What each generic test proves, for its asset check's description.
GENERIC_TEST_DESCRIPTIONS = {
    "not_null": "Fails for each row where {column} is NULL.",
    "unique": "Fails for each value of {column} that occurs more than once.",
    "unique_combination": "Fails for each combination of ({columns}) that occurs more than once (the grain).",
    "accepted_values": "Fails for each row where {column} is not one of: {values}.",
    "relationships": "Fails for each {column} with no matching {field} in {to}.",
    "relationships_in_workspace": (
        "Fails for each {column} with no matching {field} in {to} in the same workspace."
    ),
    "is_currency_code": "Fails for each {column} that is not an upper-case three-letter currency code.",
}


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """The dbt test's own description, or what its generic test proves, with its arguments."""
    if test.get("description"):
        return test["description"].strip()
    metadata = test.get("test_metadata") or {}
    kwargs = {**metadata.get("kwargs", {}), **metadata.get("kwargs", {}).get("arguments", {})}
    template = GENERIC_TEST_DESCRIPTIONS.get(metadata.get("name", ""))
    if template is None:
        return f"dbt test {test['name']}: fails for each row it returns."
    values = kwargs.get("values") or []
    return template.format(
        column=test.get("column_name") or kwargs.get("column_name") or "the column",
        columns=", ".join(kwargs.get("columns") or []),
        values=", ".join(str(value) for value in values),
        field=kwargs.get("field", "key"),
        to=str(kwargs.get("to", "its parent")).removeprefix("ref(").removesuffix(")").strip("'\""),
    )


class RevopsDbtTranslator(DagsterDbtTranslator):
    """Asset keys are [database, table], for dbt sources and models alike, matching the raw assets;
    models are grouped by domain (staging per source) and owned per domain; every test's check says
    what it proves."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return AssetKey(
            [dbt_resource_props["schema"], dbt_resource_props["alias"] or dbt_resource_props["name"]]
        )

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        configured = super().get_group_name(dbt_resource_props)  # meta.dagster.group, if set
        if configured:
            return configured
        # fqn: [project, layer, domain, …, name] for models; [project, domain, name] for seeds.
        fqn = dbt_resource_props.get("fqn") or []
        if dbt_resource_props["resource_type"] == "seed":
            return fqn[1] if len(fqn) > 2 else None
        if len(fqn) < 4:
            return None
        layer, domain = fqn[1], fqn[2]
        return f"staging_{domain}" if layer == "staging" else domain

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        group = self.get_group_name(dbt_resource_props) or ""
        owner = STAGING_OWNER if group.startswith("staging_") else DOMAIN_OWNERS.get(group)
        return [owner] if owner else None

    def get_asset_check_spec(
        self, asset_spec: Any, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=dbt_test_description(manifest["nodes"][unique_id]))


def with_warehouse_metadata(context: AssetExecutionContext, events: Iterator[Any]) -> Iterator[Any]:
    """dbt's events, each materialization with its row count, column schema and KPIs attached once dbt
    has exited (table_metadata.py says why not while it runs). Events are yielded even if dbt fails."""
    collected, failure = [], None
    try:
        collected.extend(events)
    except Exception as error:  # dbt failed: report what it built, then its error
        failure = error
    keys = {
        context.asset_key_for_output(event.output_name) if isinstance(event, Output) else event.asset_key
        for event in collected
        if isinstance(event, Output | AssetMaterialization)
    }
    extra: dict[AssetKey, dict[str, Any]] = {}
    # After a failure the dbt process may still hold the embedded warehouse: report dbt's own error.
    if keys and failure is None:
        with connect() as client:
            tables = table_metadata(client, keys)
            kpis = kpi_metadata(client, keys)
        extra = {key: {**tables.get(key, {}), **kpis.get(key, {})} for key in keys}
    for event in collected:
        if isinstance(event, Output | AssetMaterialization):
            key = (
                context.asset_key_for_output(event.output_name)
                if isinstance(event, Output)
                else event.asset_key
            )
            yield event.with_metadata({**event.metadata, **extra.get(key, {})})
        else:
            yield event
    if failure is not None:
        raise failure


@contextmanager
def dbt_build_settings(settings: Mapping[str, str]) -> Iterator[None]:
    """`settings` in the environment of the dbt process started inside the block (dagster-dbt
    copies os.environ when it starts dbt). The project's macros read them only while dbt executes
    (macros/build_as_of.sql, `execution_setting`): passed as `--vars`, each new value would cost a
    full re-parse of the project on every build. Steps run one at a time in a process, so the
    change is seen by this step's dbt process only, and the previous environment is restored."""
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DbtBuildConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="The instant every model of this build measures against, UTC 'YYYY-MM-DD HH:MM:SS' "
        "(REVOPS_AS_OF for dbt); default: the moment the build starts.",
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
    with dbt_build_settings({"REVOPS_AS_OF": config.as_of} if config.as_of else {}):
        build = dbt.cli(["build"], context=context)
    yield from with_warehouse_metadata(context, build.stream())


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
