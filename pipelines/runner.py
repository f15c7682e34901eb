"""Runs source pipelines per workspace into the warehouse's `raw` database.

Each workspace has its own dlt pipeline (own state and cursors) loading into shared raw tables keyed
by `workspace_id`. Extraction runs without the warehouse; only the load step holds it. One
workspace failing never stops the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from core.settings import get_settings
from core.warehouse import connect
from core.workspaces import Workspace
from pipelines.loading import RAW_DATABASE, clickhouse_destination, ensure_table
from pipelines.stripe import stripe_source
from pipelines.stripe.helpers import StripeSourceError

# dlt would otherwise report usage to its vendor; revops talks only to the providers it loads.
dlt.config["runtime.dlthub_telemetry"] = False
# Stripe objects have many fields that are null in every row so far; dlt warns about each of them.
logging.getLogger("dlt").setLevel(logging.ERROR)


@dataclass
class WorkspaceLoad:
    workspace_id: str
    source: str
    rows_by_table: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def pipeline_for(source: str, workspace_id: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"{source}_{workspace_id}",
        destination=clickhouse_destination(RAW_DATABASE),
        pipelines_dir=str(get_settings().dlt_pipelines_dir),
    )


def _warehouse_has_state(pipeline: dlt.Pipeline) -> bool:
    with connect() as client:
        exists = client.command(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = '_dlt_pipeline_state'",
            parameters={"db": RAW_DATABASE},
        )
        if not exists:
            return False
        return bool(
            client.command(
                f"SELECT count() FROM {RAW_DATABASE}._dlt_pipeline_state "
                "WHERE pipeline_name = {name:String}",
                parameters={"name": pipeline.pipeline_name},
            )
        )


def _pipeline_matching_warehouse(source: str, workspace_id: str) -> dlt.Pipeline:
    """Cursors describe what the warehouse holds; if it was wiped, start over instead of skipping data."""
    pipeline = pipeline_for(source, workspace_id)
    if pipeline.first_run or _warehouse_has_state(pipeline):
        return pipeline
    pipeline.drop()
    return pipeline_for(source, workspace_id)


def run_pipeline(pipeline: dlt.Pipeline, source: dlt.sources.DltSource) -> dict[str, int]:
    """Extract and normalize, then load holding the warehouse; returns rows per table."""
    if pipeline.has_pending_data:
        # A previous run died after extracting: finish loading exactly what it extracted first.
        pipeline.normalize()
        with connect():
            pipeline.load()
    pipeline.extract(source)
    pipeline.normalize()
    rows = dict(pipeline.last_trace.last_normalize_info.row_counts)
    with connect() as client:
        pipeline.load()
        # dlt only calls a destination for tables that got rows; staging reads every declared table.
        for table in pipeline.default_schema.data_tables():
            ensure_table(client, RAW_DATABASE, table["name"], table["columns"])
    return {table: count for table, count in rows.items() if not table.startswith("_dlt")}


def _explain(workspace_id: str, exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, StripeSourceError):
            return str(cause)
        if isinstance(cause, ConfigFieldMissingException):
            return (
                f"workspace {workspace_id!r}: no Stripe API key configured; set "
                f"STRIPE_{workspace_id.upper()}__SOURCES__STRIPE__API_KEY or "
                f"[stripe_{workspace_id}.sources.stripe] api_key in .dlt/secrets.toml"
            )
        cause = cause.__cause__ or (cause.exception if isinstance(cause, PipelineStepFailed) else None)
    return f"workspace {workspace_id!r}: {type(exc).__name__}: {exc}"


def load_stripe(workspace: Workspace) -> WorkspaceLoad:
    assert workspace.stripe is not None
    started = time.monotonic()
    result = WorkspaceLoad(workspace.id, "stripe")
    try:
        pipeline = _pipeline_matching_warehouse("stripe", workspace.id)
        explicit_key = workspace.stripe.api_key
        source = stripe_source(
            workspace_id=workspace.id,
            api_base=workspace.stripe.api_base,
            resync_days=get_settings().stripe_resync_days,
            **({"api_key": explicit_key.get_secret_value()} if explicit_key else {}),
        )
        result.rows_by_table = run_pipeline(pipeline, source)
    except Exception as exc:
        result.error = _explain(workspace.id, exc)
    result.elapsed_s = time.monotonic() - started
    return result
