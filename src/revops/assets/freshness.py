"""Freshness checks: on each mart, whether every workspace's data in it is current (issue 18).

A workspace whose source failed keeps the rows of its last good sync while the others' are rebuilt to
the new day; `marts.dim_data_freshness` (built with the marts, from their dbt lineage) says which,
per workspace and mart. Each mart's `every_workspace_fresh` check reads it after the build and fails
naming only the stale workspaces, with each workspace's as-of, so Dagster shows which tenant's
numbers are old and since when.

Severity WARN: the build itself succeeded and the other workspaces' rows are right; the failure that
caused the staleness is already an ERROR where it happened (the raw tables' `every_workspace_synced`
check), and `revops run` exits non-zero for it. A stale mart is the consequence to see, not a second
failure to page for.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Definitions,
    MetadataValue,
    multi_asset_check,
)

from revops.assets.transformation import RevopsDbtTranslator, revops_dbt_models, revops_dbt_project
from revops.core.warehouse import connect

FRESHNESS_CHECK = "every_workspace_fresh"
FRESHNESS_MART = AssetKey(["marts", "dim_data_freshness"])


def checked_marts() -> list[AssetKey]:
    """The mart models the main dbt step builds (not its seeds, which read no provider; the
    day-partitioned usage marts have their own job): the models dim_data_freshness covers."""
    manifest = json.loads(revops_dbt_project.manifest_path.read_text())
    translator = RevopsDbtTranslator()
    marts = {
        translator.get_asset_key(node)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    return sorted(
        (key for key in revops_dbt_models.keys if key in marts and key != FRESHNESS_MART),
        key=lambda key: key.to_user_string(),
    )


def _relation(key: AssetKey) -> str:
    """How the warehouse and marts.dim_data_freshness name the mart: `schema.table`."""
    return ".".join(key.path)


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def freshness_results(
    marts: Sequence[AssetKey], rows: Sequence[Mapping[str, Any]]
) -> Iterator[AssetCheckResult]:
    """Each mart's check from the freshness rows: fails naming the workspaces it is stale for."""
    by_mart: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_mart.setdefault(row["mart"], []).append(row)
    for key in marts:
        workspaces = sorted(by_mart.get(_relation(key), []), key=lambda row: row["workspace_id"])
        stale = [row for row in workspaces if row["is_stale"]]
        yield AssetCheckResult(
            asset_key=key,
            check_name=FRESHNESS_CHECK,
            passed=not stale,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "stale_workspaces": MetadataValue.json([row["workspace_id"] for row in stale]),
                "stale_providers": MetadataValue.json(
                    {row["workspace_id"]: list(row["stale_providers"]) for row in stale}
                ),
                "data_as_of": MetadataValue.json(
                    {row["workspace_id"]: _instant(row["data_as_of"]) for row in workspaces}
                ),
            },
        )


def freshness_check_specs(marts: Sequence[AssetKey]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=key,
            # Read after the build wrote it.
            additional_deps=[FRESHNESS_MART],
            description=(
                "Every workspace's data in this mart is current: fails naming the workspaces for which a "
                "provider the mart reads failed its latest sync, never synced, or last synced a day "
                "before the build (their rows are older than the others'), with each one's as-of "
                "(marts.dim_data_freshness)."
            ),
        )
        for key in marts
    ]


def freshness_checks(marts: Sequence[AssetKey]) -> AssetChecksDefinition:
    @multi_asset_check(
        name="marts_freshness", specs=freshness_check_specs(marts), can_subset=True, compute_kind="clickhouse"
    )
    def every_workspace_fresh(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        selected = {check.asset_key for check in context.selected_asset_check_keys}
        with connect() as client:
            rows = list(
                client.query(
                    "SELECT workspace_id, mart, data_as_of, is_stale, stale_providers "
                    "FROM marts.dim_data_freshness"
                ).named_results()
            )
        yield from freshness_results([key for key in marts if key in selected], rows)

    return every_workspace_fresh


defs = Definitions(asset_checks=[freshness_checks(checked_marts())])
