"""`raw.quarantined_records`: records failing a blocking expectation, which staging leaves out.

Keyed by (workspace_id, table_name, record_id, expectation) in a ReplacingMergeTree, and written
only for keys not already there, so validating the same data again never adds a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

from clickhouse_connect.driver.client import Client

from revops.core.ddl import warehouse_dialect
from revops.pipelines.loading import RAW_DATABASE, contract_columns, ensure_table

QUARANTINE_TABLE = "quarantined_records"
QUARANTINE_KEY = ("workspace_id", "table_name", "record_id", "expectation")
QUARANTINE_COLUMNS: dict[str, str] = {
    "workspace_id": "text",
    "table_name": "text",
    "record_id": "text",
    "expectation": "text",
    "reason": "text",
    "quarantined_at": "timestamp",
}


class QuarantinedRecord(NamedTuple):
    workspace_id: str
    table_name: str
    record_id: str
    expectation: str
    reason: str


def ensure_quarantine_table(client: Client) -> None:
    """Create the quarantine table (empty) if it does not exist; staging anti-joins it."""
    columns = contract_columns(QUARANTINE_COLUMNS, QUARANTINE_KEY, required=QUARANTINE_COLUMNS)
    ensure_table(client, RAW_DATABASE, QUARANTINE_TABLE, columns)


def quarantine(client: Client, table: str, records: Iterable[QuarantinedRecord]) -> int:
    """Insert the records of `table` not yet quarantined; returns how many were new."""
    ensure_quarantine_table(client)
    known = {
        tuple(row)
        for row in client.query(
            f"SELECT workspace_id, record_id, expectation FROM {RAW_DATABASE}.{QUARANTINE_TABLE} "
            "WHERE table_name = {table:String}",
            parameters={"table": table},
        ).result_rows
    }
    now = datetime.now(UTC)
    new = {
        (r.workspace_id, r.table_name, r.record_id, r.expectation): r
        for r in records
        if (r.workspace_id, r.record_id, r.expectation) not in known
    }
    if new:
        client.insert(
            f"{RAW_DATABASE}.{QUARANTINE_TABLE}",
            [[*record, now] for record in new.values()],
            column_names=list(QUARANTINE_COLUMNS),
            settings=warehouse_dialect().insert_settings,
        )
    return len(new)
