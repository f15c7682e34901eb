"""The main job and its schedule."""

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

MAIN_JOB_NAME = "revops_main"

revops_main_job = define_asset_job(
    MAIN_JOB_NAME,
    selection=AssetSelection.all(),
    description="Load every source for every workspace, then build and test the dbt models.",
)

daily_schedule = ScheduleDefinition(
    name="revops_main_daily",
    job=revops_main_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)
