"""Ingestion assets: the raw tables dlt loads, one Dagster asset per table, one step per registered source.

One tenant's bad day stays its own: a workspace whose load fails (a revoked grant, a rejected key, a
provider down) fails that source's `every_workspace_synced` checks, naming it, and the step still
succeeds, so the models downstream are built for everyone — the failed workspace's rows stay those of
its last good sync (its staleness is in `raw.sync_attempts`), the others' move on. `revops run` reports
the failed check and exits non-zero.
"""

import re
from collections import Counter
from collections.abc import Iterator, Sequence

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Definitions,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
)

from revops.assets.quality import expectation_check_results, expectation_check_specs
from revops.assets.resources import ProviderAccountsResource
from revops.core.warehouse import connect
from revops.pipelines.loading import RAW_DATABASE
from revops.pipelines.quarantine import QUARANTINE_TABLE
from revops.pipelines.runner import WorkspaceLoad, load
from revops.pipelines.sources import SourceSpec
from revops.quality.quarantine import ensure_quarantine_table, quarantined
from revops.quality.rules import declared_rules

SYNC_CHECK = "every_workspace_synced"


class IngestionConfig(Config):
    """Run configuration of a source's ingestion step (`revops run --workspace`)."""

    workspaces: list[str] = []
    """Load only these workspaces (none: every workspace with the provider); the others' raw rows stay
    as they are."""


def ingestion_op_name(source: SourceSpec) -> str:
    """The step that loads `source` (its multi-asset), which `IngestionConfig` configures."""
    return f"{source.name}_raw"


def raw_asset_key(table: str) -> AssetKey:
    """Raw tables and dbt models share one naming rule: [database, table]."""
    return AssetKey([RAW_DATABASE, table])


def connection_metadata(loads: Sequence[WorkspaceLoad]) -> dict[str, MetadataValue]:
    """What this load did to each workspace's connection to the source: the workspaces whose account
    must be reconnected, and per workspace whether it loaded, its rows and its error (also kept in
    raw.sync_attempts and marts.dim_connections)."""
    return {
        "needs_reauth": MetadataValue.json(sorted(load.workspace_id for load in loads if load.needs_reauth)),
        "connection_status": MetadataValue.json(
            {
                load.workspace_id: {
                    "succeeded": load.ok,
                    "needs_reauth": load.needs_reauth,
                    "rows_loaded": sum(load.rows_by_table.values()),
                    "error": load.error,
                }
                for load in sorted(loads, key=lambda load: load.workspace_id)
            }
        ),
    }


WORKSPACE_PROGRESS = re.compile(r"^(?P<source>\w+) (?P<workspace>\S+) \((?P<done>\d+)/(?P<total>\d+)\): ")
"""A per-workspace line of an ingestion step's log, as `workspace_progress_line` writes it (the CLI's
progress bars advance on it)."""


def workspace_progress_line(source: str, loaded: WorkspaceLoad, done: int, total: int) -> str:
    """One line per workspace extracted and loaded, in the step's Dagster log."""
    outcome = "failed" if loaded.error else f"{sum(loaded.rows_by_table.values())} rows"
    return f"{source} {loaded.workspace_id} ({done}/{total}): {outcome} in {loaded.elapsed_s:.1f}s"


def sync_check_specs(source: SourceSpec) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            SYNC_CHECK,
            asset=raw_asset_key(table),
            description=(
                f"Every workspace with a {source.name} account loaded in this run; fails naming the "
                "workspaces whose load failed (their rows are those of their last good sync) and whether "
                "only reconnecting the account can fix it (needs_reauth)."
            ),
        )
        for table in source.tables
    ]


def sync_check_results(
    source: SourceSpec, loads: Sequence[WorkspaceLoad], connections: dict[str, MetadataValue]
) -> Iterator[AssetCheckResult]:
    """The sync check on each of the source's tables: the failed workspaces and their errors, beside
    the connection metadata the materializations carry (`connection_metadata`)."""
    failed = sorted((loaded for loaded in loads if not loaded.ok), key=lambda loaded: loaded.workspace_id)
    metadata = {
        "failed_workspaces": MetadataValue.json([loaded.workspace_id for loaded in failed]),
        "errors": MetadataValue.json({loaded.workspace_id: loaded.error for loaded in failed}),
        **connections,
    }
    for table in source.tables:
        yield AssetCheckResult(
            asset_key=raw_asset_key(table),
            check_name=SYNC_CHECK,
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            metadata=metadata,
        )


def source_assets(source: SourceSpec) -> AssetsDefinition:
    @multi_asset(
        name=ingestion_op_name(source),
        specs=[
            AssetSpec(
                raw_asset_key(table),
                group_name=f"{source.name}_raw",
                kinds={"dlt", source.name, "clickhouse"},
                description=f"{source.name} data landed by dlt in {RAW_DATABASE}.{table}, every workspace.",
                freshness_policy=FreshnessPolicy.time_window(
                    fail_window=source.fail_after, warn_window=source.warn_after
                ),
            )
            for table in source.tables
        ],
        check_specs=[*expectation_check_specs(source.tables), *sync_check_specs(source)],
    )
    def load_source(
        context: AssetExecutionContext, config: IngestionConfig, providers: ProviderAccountsResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        """Loads every workspace with this provider (or those the config names); a failing workspace
        fails the sync checks, not the step, so neither the other workspaces' loads nor the models
        downstream stop for it."""
        with providers.open_registry() as registry:
            workspaces = [
                workspace
                for workspace in registry.with_provider(source.name)
                if not config.workspaces or workspace.id in config.workspaces
            ]
            loads = []
            for done, workspace in enumerate(workspaces, start=1):
                loaded = load(source, workspace)
                loads.append(loaded)
                context.log.info(workspace_progress_line(source.name, loaded, done, len(workspaces)))
                if loaded.error:
                    context.log.error(f"{source.name} {loaded.workspace_id} failed: {loaded.error}")
        connections = connection_metadata(loads)
        for table in source.tables:
            by_workspace = {load.workspace_id: load.rows_by_table.get(table, 0) for load in loads if load.ok}
            yield MaterializeResult(
                asset_key=raw_asset_key(table),
                metadata={
                    "rows_loaded": MetadataValue.int(sum(by_workspace.values())),
                    "rows_loaded_by_workspace": MetadataValue.json(by_workspace),
                    **connections,
                },
            )
        # Validated in this step, before dbt: what fails a blocking expectation is quarantined and
        # so excluded from this run's models.
        yield from expectation_check_results(declared_rules([source]).values())
        yield from sync_check_results(source, loads, connections)

    return load_source


QUARANTINE_CHECK = "no_quarantined_records"

quarantine_asset = AssetSpec(
    raw_asset_key(QUARANTINE_TABLE),
    group_name="quality",
    kinds={"clickhouse"},
    description=(
        "The one sink for bad records, every source's (raw.quarantined_records): objects a source "
        "rejected as it received them (stage `extract`, with the payload; the Stripe source's malformed "
        "objects) and loaded records failing a blocking expectation (stage `validate`, left out of "
        "staging). Written by the ingestion steps; `revops quarantine list|release`."
    ),
)


def quarantine_check(sources: Sequence[SourceSpec]) -> AssetChecksDefinition:
    """The quarantine's check, after every ingestion step: warns while any record is quarantined, with
    the counts per stage, workspace, table and expectation."""

    @asset_check(
        asset=quarantine_asset.key,
        name=QUARANTINE_CHECK,
        description="No record is quarantined (rejected by a source, or failing a blocking expectation).",
        additional_deps=[raw_asset_key(table) for source in sources for table in source.tables],
    )
    def no_quarantined_records() -> AssetCheckResult:
        with connect() as client:
            ensure_quarantine_table(client)
            entries = quarantined(client)
        counts = Counter((e.stage, e.workspace_id, e.table_name, e.expectation) for e in entries)
        return AssetCheckResult(
            passed=not entries,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "quarantined_records": MetadataValue.int(len(entries)),
                "by_stage": MetadataValue.json(dict(Counter(e.stage for e in entries))),
                "by_reason": MetadataValue.json(
                    [
                        {
                            "stage": stage,
                            "workspace_id": ws,
                            "table_name": table,
                            "expectation": check,
                            "records": n,
                        }
                        for (stage, ws, table, check), n in sorted(counts.items())
                    ]
                ),
            },
        )

    return no_quarantined_records


def ingestion_definitions(sources: Sequence[SourceSpec]) -> Definitions:
    return Definitions(
        assets=[*(source_assets(source) for source in sources), quarantine_asset],
        asset_checks=[quarantine_check(sources)],
    )
