"""Usage metering assets: the day-partitioned dbt models of usage, the billing-period models over
them, the job that recomputes days, and the sensor that finds which days need it.

Usage aggregates are partitioned by event day. Loading (`raw/usage_events`, in the ingestion
multi-asset) lands deliveries whenever they come, late ones included, and the main job builds usage
staging (a view over the raw events, the meters); a day is then recomputed from its deduplicated
events only if events were loaded for it since it was last computed
(`pipelines.usage.partitions.stale_days`). Each run covers one range of consecutive stale days in a
single dbt invocation (`BackfillPolicy.single_run`), and recomputing a day replaces its partitions,
so a day processed twice holds the same rows.

The usage job's models carry the dbt tag `usage_daily`. Those that hold days (incremental,
`insert_overwrite` by day: the states and the hour, day and month marts) are day-partitioned assets;
the billing-period models (a table rebuilt whole from the day states and Stripe's staging models, and
views over it) are unpartitioned assets of the same job, built once per run after the days. Only
what holds days is partitioned, so the UI shows days where there are days, and a first run over a
year records a materialization per day for 8 models instead of 14 (Dagster writes them one by one).
The main job (which loads usage and builds Stripe's models) never depends on this job and runs first.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)
from dagster_dbt import DbtCliResource, dbt_assets

from revops.assets.transformation import (
    RevopsDbtTranslator,
    dbt_build_settings,
    revops_dbt_project,
    with_warehouse_metadata,
)
from revops.pipelines.runner import ensure_raw_tables
from revops.pipelines.usage.partitions import day_ranges, stale_days

USAGE_DAILY_TAG = "usage_daily"
"""dbt tag of the day-partitioned usage models; the main dbt assets exclude them."""
USAGE_JOB_NAME = "usage_daily"
USAGE_START_DATE = "2025-11-01"
"""First day a usage partition exists for (the simulated businesses' founding)."""

usage_partitions = DailyPartitionsDefinition(start_date=USAGE_START_DATE, end_offset=1)


DAY_PARTITIONED = "config.materialized:incremental"
"""dbt selector of the usage models that hold days (incremental, replaced day by day)."""
DAY_CHECKS = "tag:usage_day_check"
"""dbt selector of the tests of day models that also read a source (the recount of raw events): their
asset checks belong to the day assets, but cautious indirect selection leaves a test with a parent
outside the selection out of the day step, and the period step, which selects it by tag, cannot
report a check of another step's asset. So the day step selects them and the period step never does."""


@dbt_assets(
    manifest=revops_dbt_project.manifest_path,
    project=revops_dbt_project,
    dagster_dbt_translator=RevopsDbtTranslator(),
    select=f"tag:{USAGE_DAILY_TAG},{DAY_PARTITIONED} {DAY_CHECKS}",
    partitions_def=usage_partitions,
    backfill_policy=BackfillPolicy.single_run(),
    name="usage_daily_models",
)
def usage_daily_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    ensure_raw_tables()
    window = context.partition_time_window
    first, last = window.start.date().isoformat(), (window.end - timedelta(days=1)).date().isoformat()
    context.log.info(f"recomputing usage days {first} to {last}")
    with dbt_build_settings({"REVOPS_USAGE_START_DATE": first, "REVOPS_USAGE_END_DATE": last}):
        build = dbt.cli(["build"], context=context)
    yield from with_warehouse_metadata(context, build.stream())


@dbt_assets(
    manifest=revops_dbt_project.manifest_path,
    project=revops_dbt_project,
    dagster_dbt_translator=RevopsDbtTranslator(),
    select=f"tag:{USAGE_DAILY_TAG}",
    exclude=f"{DAY_PARTITIONED} {DAY_CHECKS}",
    name="usage_period_models",
)
def usage_period_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    yield from with_warehouse_metadata(context, dbt.cli(["build"], context=context).stream())


usage_job_selection = AssetSelection.assets(usage_daily_models, usage_period_models)

usage_daily_job = define_asset_job(
    USAGE_JOB_NAME,
    selection=usage_job_selection,
    partitions_def=usage_partitions,
    description="Recompute the usage aggregates (deduplicated events; minute, hour, day states) of days, "
    "then the billing periods over them.",
)


def stale_usage_run_requests() -> list[RunRequest]:
    """One run per range of consecutive days whose events changed since they were aggregated."""
    return [
        RunRequest(
            run_key=None,
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
        )
        for first, last in day_ranges(stale_days())
    ]


@sensor(job=usage_daily_job, minimum_interval_seconds=300, default_status=DefaultSensorStatus.STOPPED)
def stale_usage_days(context: SensorEvaluationContext) -> Iterator[RunRequest | SkipReason]:
    """Late events, duplicates and new loads reprocess exactly the days they touched."""
    requests = stale_usage_run_requests()
    if not requests:
        yield SkipReason("every usage day is up to date")
    yield from requests


defs = Definitions(
    assets=[usage_daily_models, usage_period_models], jobs=[usage_daily_job], sensors=[stale_usage_days]
)
