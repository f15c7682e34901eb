"""The one Definitions object, merged from the per-domain modules."""

from dagster import Definitions, in_process_executor

from revops.assets import dunning, ingestion, kpis, reporting, transformation, usage
from revops.assets.jobs import daily_schedule, revops_main_job, source_jobs, source_schedules
from revops.assets.resources import default_resources

defs = Definitions.merge(
    ingestion.defs,
    transformation.defs,
    dunning.defs,
    usage.defs,
    kpis.defs,
    reporting.defs,
    Definitions(
        jobs=[revops_main_job, *source_jobs],
        schedules=[daily_schedule, *source_schedules],
        resources=default_resources(),
        # Steps run one after another in the run's process: the embedded warehouse is opened by one
        # process at a time, and the dbt step hands it to its own subprocess only when loading is done.
        executor=in_process_executor,
    ),
)
