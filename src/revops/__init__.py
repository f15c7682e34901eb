"""revops: Stripe, bank and books in one ClickHouse warehouse, modeled with dbt, orchestrated by Dagster."""

import os

# Nothing leaves the machine but calls to the providers revops loads. dlt and Great Expectations report
# usage to their vendors unless told otherwise *before* they initialize (dlt starts its tracker from the
# first configuration it resolves, so `dlt.config[...] = False` is already too late); this package is
# imported before any of its modules imports either library. dbt's and Dagster's are off in their own
# config (dbt_project.yml, dagster.yaml).
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# A run over a range of usage days (one dbt invocation, `BackfillPolicy.single_run`) plans each asset
# once with its range of partitions instead of once per asset and day: the first run's year of days
# is 14 planned events, not 5,530 sqlite writes (measured: 60 % of such a run's time). Dagster's
# documented trade-off — a failed run does not mark its partitions failed — costs revops nothing:
# which days need recomputing is read from the data (`pipelines.usage.partitions.stale_days`).
os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
