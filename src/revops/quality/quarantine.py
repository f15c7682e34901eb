"""`raw.quarantined_records`: records failing a blocking expectation, which staging leaves out.

Keyed by (workspace_id, table_name, record_id, expectation) in a ReplacingMergeTree, and written
only for keys not already there, so validating the same data again never adds a row. A record stays
quarantined until an operator releases it (`revops quarantine release`) after its fix: release takes
it out and validates its table again, so a record that still fails is quarantined again at once and
one that passes reaches staging on the next dbt build; each released record gets an audit row in
`raw.quarantine_releases` (who, when, what, why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import dlt
from clickhouse_connect.driver.client import Client

from revops.core.ddl import warehouse_dialect
from revops.pipelines.loading import (
    RAW_DATABASE,
    VERSION_COLUMN,
    contract_columns,
    ensure_declared_tables,
    ensure_table,
)
from revops.pipelines.quarantine import (
    QUARANTINE_TABLE,
    VALIDATION_STAGE,
    declare_quarantine,
)

RELEASES_TABLE = "quarantine_releases"
RELEASE_KEY = ("workspace_id", "table_name", "record_id", "expectation", "released_at")
RELEASE_COLUMNS: dict[str, str] = {
    "workspace_id": "text",
    "table_name": "text",
    "record_id": "text",
    "expectation": "text",
    "stage": "text",
    "reason": "text",
    "quarantined_at": "timestamp",
    "released_at": "timestamp",
    "released_by": "text",
    "why": "text",
}


class QuarantinedRecord(NamedTuple):
    workspace_id: str
    table_name: str
    record_id: str
    expectation: str
    reason: str
    stage: str = VALIDATION_STAGE


def ensure_quarantine_table(client: Client) -> None:
    """Create the quarantine table (empty) if it does not exist; staging anti-joins it."""
    schema = dlt.Schema("quality")
    declare_quarantine(schema)
    ensure_declared_tables(client, schema)
    releases = contract_columns(RELEASE_COLUMNS, RELEASE_KEY, required=RELEASE_COLUMNS)
    ensure_table(client, RAW_DATABASE, RELEASES_TABLE, releases)


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
            [[*record, now, now] for record in new.values()],
            column_names=[*QuarantinedRecord._fields, "quarantined_at", VERSION_COLUMN],
            settings=warehouse_dialect().insert_settings,
        )
    return len(new)


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined record as `revops quarantine list` shows it."""

    workspace_id: str
    table_name: str
    record_id: str
    expectation: str
    reason: str
    stage: str
    quarantined_at: datetime
    payload: str | None = None
    """The record as the source received it (extraction-stage entries only)."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.workspace_id, self.table_name, self.record_id, self.expectation)

    @property
    def entry_id(self) -> str:
        """A short stable handle for `revops quarantine release <id>` (a record may fail several
        expectations: one entry each)."""
        return hashlib.sha256("\x1f".join(self.key).encode()).hexdigest()[:12]


def quarantined(client: Client) -> list[QuarantineEntry]:
    """Every quarantined record, by workspace, table, record and expectation."""
    ensure_quarantine_table(client)
    rows = client.query(
        "SELECT workspace_id, table_name, record_id, expectation, reason, stage, quarantined_at, payload "
        f"FROM {RAW_DATABASE}.{QUARANTINE_TABLE} FINAL "
        "ORDER BY workspace_id, table_name, record_id, expectation"
    ).result_rows
    return [QuarantineEntry(*row) for row in rows]


def unquarantine(client: Client, entries: Sequence[QuarantineEntry]) -> None:
    """Take the entries out of the quarantine (staging reads their records again)."""
    # The same on a cluster: a replicated table replicates its own mutations (see core/ddl.py).
    client.command(
        f"ALTER TABLE {RAW_DATABASE}.{QUARANTINE_TABLE} DELETE "
        "WHERE (workspace_id, table_name, record_id, expectation) "
        "IN {keys:Array(Tuple(String, String, String, String))}",
        parameters={"keys": [entry.key for entry in entries]},
        settings={"mutations_sync": 2},
    )


def record_releases(client: Client, entries: Sequence[QuarantineEntry], why: str, released_by: str) -> None:
    """The audit rows of released entries: what was released, when, by whom and why."""
    now = datetime.now(UTC)
    client.insert(
        f"{RAW_DATABASE}.{RELEASES_TABLE}",
        [
            [*entry.key, entry.stage, entry.reason, entry.quarantined_at, now, released_by, why]
            for entry in entries
        ],
        column_names=list(RELEASE_COLUMNS),
        settings=warehouse_dialect().insert_settings,
    )
