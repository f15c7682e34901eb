"""`raw.sync_attempts`: every load of one source for one workspace, as it ended (append-only).

One row per attempt — when it started and ended, whether it succeeded, the rows it loaded, the error
(never a secret: source errors never carry one) and whether only reconnecting the account can fix it
(`needs_reauth`: a rejected Stripe key, a revoked OAuth grant, Plaid's ITEM_LOGIN_REQUIRED). The
per-connection sync status (last success, last attempt, last error) is read from it. Declared beside
the sources' contracts, so `ensure_raw_tables()` creates it before dbt runs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import dlt
from dlt.common.schema.utils import new_table

from revops.core.ddl import warehouse_dialect
from revops.core.warehouse import connect
from revops.pipelines.loading import RAW_DATABASE, contract_columns, ensure_declared_tables

SYNC_ATTEMPTS_TABLE = "sync_attempts"
SYNC_ATTEMPT_COLUMNS: dict[str, str] = {
    "attempt_id": "text",
    "workspace_id": "text",
    "source": "text",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "succeeded": "bool",
    "rows_loaded": "bigint",
    "error": "text",
    "needs_reauth": "bool",
}
_REQUIRED = ("attempt_id", "workspace_id", "source", "started_at", "finished_at", "succeeded")

logger = logging.getLogger(__name__)


def declare_tables(schema: dlt.Schema) -> None:
    # No key: an append-only MergeTree, every attempt kept.
    columns = contract_columns(SYNC_ATTEMPT_COLUMNS, (), _REQUIRED)
    schema.update_table(new_table(SYNC_ATTEMPTS_TABLE, columns=list(columns.values())))


def record_attempt(
    *,
    workspace_id: str,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    rows_loaded: int,
    error: str | None,
    needs_reauth: bool,
) -> None:
    """Append one attempt; a warehouse that cannot take it is logged, never raised (the load stands)."""
    row = {
        "attempt_id": str(uuid.uuid4()),
        "workspace_id": workspace_id,
        "source": source,
        "started_at": started_at,
        "finished_at": finished_at,
        "succeeded": error is None,
        "rows_loaded": rows_loaded,
        "error": error,
        "needs_reauth": needs_reauth,
    }
    try:
        with connect() as client:
            schema = dlt.Schema("syncs")
            declare_tables(schema)
            ensure_declared_tables(client, schema)
            client.insert(
                f"{RAW_DATABASE}.{SYNC_ATTEMPTS_TABLE}",
                [list(row.values())],
                column_names=list(row),
                settings=warehouse_dialect().insert_settings,
            )
    except Exception:
        logger.exception("could not record the %s sync attempt of workspace %s", source, workspace_id)
