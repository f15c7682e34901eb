"""Runs source pipelines per workspace into the warehouse's `raw` database.

Each workspace has its own dlt pipeline (own state and cursors) loading into shared raw tables keyed
by `workspace_id`. Extraction runs without the warehouse; only the load step holds it. One
workspace failing never stops the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.core.workspaces import Workspace
from revops.pipelines import dunning, syncs
from revops.pipelines.errors import SourceError
from revops.pipelines.loading import (
    PIPELINE_STATE_TABLE,
    RAW_DATABASE,
    clickhouse_destination,
    ensure_declared_tables,
)
from revops.pipelines.quarantine import declare_quarantine
from revops.pipelines.sources import SOURCES, SourceSpec

# Stripe objects have many fields that are null in every row so far; dlt warns about each of them.
logging.getLogger("dlt").setLevel(logging.ERROR)


@dataclass
class WorkspaceLoad:
    workspace_id: str
    source: str
    rows_by_table: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str | None = None
    needs_reauth: bool = False
    """The error is one only reconnecting the account fixes (SourceError.needs_reauth)."""

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
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {table:String}",
            parameters={"db": RAW_DATABASE, "table": PIPELINE_STATE_TABLE},
        )
        if not exists:
            return False
        return bool(
            client.command(
                f"SELECT count() FROM {RAW_DATABASE}.{PIPELINE_STATE_TABLE} "
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


def run_pipeline(pipeline: dlt.Pipeline, source: DltSource) -> dict[str, int]:
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
        ensure_declared_tables(client, pipeline.default_schema)
    return {table: count for table, count in rows.items() if not table.startswith("_dlt")}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    cause: BaseException | None = exc
    while cause is not None:
        yield cause
        cause = cause.__cause__ or (cause.exception if isinstance(cause, PipelineStepFailed) else None)


def _explain(source: str, workspace_id: str, exc: BaseException) -> str:
    for cause in _causes(exc):
        if isinstance(cause, SourceError):
            return str(cause)
        if isinstance(cause, ConfigFieldMissingException):
            pipeline = f"{source}_{workspace_id}"
            fields = ", ".join(cause.fields)
            return (
                f"workspace {workspace_id!r}: {source} needs {fields}; set it in the environment "
                f"({pipeline.upper()}__SOURCES__{source.upper()}__<FIELD>) or in .dlt/secrets.toml "
                f"under [{pipeline}.sources.{source}]"
            )
    return f"workspace {workspace_id!r}: {type(exc).__name__}: {exc}"


def load(source: SourceSpec, workspace: Workspace) -> WorkspaceLoad:
    """Run `source`'s pipeline for one workspace; failures are reported (and recorded in
    `raw.sync_attempts`), never raised."""
    started, started_at = time.monotonic(), datetime.now(UTC)
    result = WorkspaceLoad(workspace.id, source.name)
    try:
        account = workspace.account(source.name)
        if account is None:
            raise SourceError(f"workspace {workspace.id!r} has no {source.name} account")
        # The pipeline is created first so that dlt resolves the source's secrets in its section.
        pipeline = _pipeline_matching_warehouse(source.name, workspace.id)
        result.rows_by_table = run_pipeline(pipeline, source.source_for(workspace.id, account))
        followup = source.followup(workspace.id, account) if source.followup else None
        if followup is not None:
            for table, count in run_pipeline(pipeline, followup).items():
                result.rows_by_table[table] = result.rows_by_table.get(table, 0) + count
    except Exception as exc:
        result.error = _explain(source.name, workspace.id, exc)
        result.needs_reauth = any(getattr(cause, "needs_reauth", False) for cause in _causes(exc))
    result.elapsed_s = time.monotonic() - started
    syncs.record_attempt(
        workspace_id=workspace.id,
        source=source.name,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        rows_loaded=sum(result.rows_by_table.values()),
        error=result.error,
        needs_reauth=result.needs_reauth,
    )
    return result


# Raw tables revops writes itself (not provider data, so quality/ does not validate them).
OWN_TABLE_DECLARATIONS: dict[str, Callable[[dlt.Schema], None]] = {
    "dunning": dunning.declare_tables,
    "syncs": syncs.declare_tables,
    "quarantine": declare_quarantine,  # staging anti-joins it, so it exists before any dbt build
}


def ensure_raw_tables(sources: Sequence[SourceSpec] = SOURCES) -> None:
    """Create every declared raw table that does not exist yet (run before dbt), so models over a source
    nobody has configured still build, empty."""
    with connect() as client:
        for source in sources:
            ensure_declared_tables(client, source.schema())
        for name, declare in OWN_TABLE_DECLARATIONS.items():
            schema = dlt.Schema(name)
            declare(schema)
            ensure_declared_tables(client, schema)


def rewind(source: SourceSpec, workspace_id: str, since: datetime) -> bool:
    """Move the cursors of one workspace's `source` pipeline back to `since` (its next load re-syncs
    from there, merging on primary keys), in the pipeline's local state — no other workspace's or
    source's. False when the pipeline has never run: its first load reads everything anyway."""
    pipeline = _pipeline_matching_warehouse(source.name, workspace_id)
    if pipeline.first_run:
        return False
    with pipeline.managed_state() as state:
        resources = state.setdefault("sources", {}).setdefault(source.name, {}).setdefault("resources", {})
        source.rewind(resources, since.astimezone(UTC))
    return True
