"""revops: Stripe, bank and books in one ClickHouse warehouse, modeled with dbt, orchestrated by Dagster."""

import os

# Nothing leaves the machine but calls to the providers revops loads. dlt and Great Expectations report
# usage to their vendors unless told otherwise *before* they initialize (dlt starts its tracker from the
# first configuration it resolves, so `dlt.config[...] = False` is already too late); this package is
# imported before any of its modules imports either library. dbt's and Dagster's are off in their own
# config (dbt_project.yml, dagster.yaml).
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
