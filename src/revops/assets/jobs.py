"""Jobs and schedules: the main job over everything, and one job per source at its own cadence."""

from collections.abc import Sequence

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from revops.assets.ingestion import quarantine_asset
from revops.assets.transformation import cautious_dbt_selection
from revops.assets.usage import usage_job_selection
from revops.pipelines.sources import SourceSpec

MAIN_JOB_NAME = "revops_main"
# The quarantine is written by every ingestion step, not materialized by one: its check joins each job
# that loads (AssetSelection.all() leaves out the checks of an asset no step materializes).
quarantine_check_selection = AssetSelection.checks_for_assets(quarantine_asset.key)

revops_main_job = define_asset_job(
    MAIN_JOB_NAME,
    # The usage models (some day-partitioned) run in their own job, after this one.
    selection=AssetSelection.all() - usage_job_selection | quarantine_check_selection,
    description="Load every source for every workspace, then build and test the dbt models.",
)

# Schedules start stopped: turning one on is a decision about a real account, not a default.
daily_schedule = ScheduleDefinition(
    name="revops_main_daily",
    job=revops_main_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)


def sources_selection(sources: Sequence[SourceSpec]) -> AssetSelection:
    """Load `sources` and rebuild only the models downstream of them, and the freshness of the marts
    (which the marts' freshness checks read; it depends on the load log, not on the sources)."""
    raw = AssetSelection.groups(*(f"{source.name}_raw" for source in sources))
    return (
        (raw.downstream() - usage_job_selection)
        | cautious_dbt_selection("+dim_data_freshness")
        | quarantine_check_selection
    )


def source_job(source: SourceSpec) -> UnresolvedAssetJobDefinition:
    """Load one source and rebuild what depends on it (`sources_selection`)."""
    return define_asset_job(
        f"load_{source.name}",
        selection=sources_selection([source]),
        description=f"Load {source.name} for every workspace, then build and test what depends on it.",
    )


def job_definitions(sources: Sequence[SourceSpec]) -> Definitions:
    """The main job and its daily schedule; per source, its job and a schedule at its cadence."""
    jobs = [source_job(source) for source in sources]
    schedules = [
        ScheduleDefinition(
            name=f"{job.name}_schedule",
            job=job,
            cron_schedule=source.cron_schedule,
            execution_timezone="UTC",
            default_status=DefaultScheduleStatus.STOPPED,
        )
        for source, job in zip(sources, jobs, strict=True)
    ]
    return Definitions(jobs=[revops_main_job, *jobs], schedules=[daily_schedule, *schedules])
