"""`raw.quarantined_records`, the one sink for bad records, declared here so both writers share it:
a source rejecting what it cannot load at all (stage `extract`: the Stripe source's malformed objects,
kept with their payload) and quality/ quarantining loaded records that fail a blocking expectation
(stage `validate`, which staging leaves out). Keyed by (workspace_id, table_name, record_id,
expectation): the same bad record seen again is the same entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dlt

from revops.pipelines.loading import VERSION_COLUMN, declare_table

QUARANTINE_TABLE = "quarantined_records"
QUARANTINE_KEY = ("workspace_id", "table_name", "record_id", "expectation")
QUARANTINE_COLUMNS: dict[str, str] = {
    "workspace_id": "text",
    "table_name": "text",
    "record_id": "text",
    "expectation": "text",
    "reason": "text",
    "stage": "text",
    "quarantined_at": "timestamp",
    "payload": "text",
}
REQUIRED_COLUMNS = tuple(name for name in QUARANTINE_COLUMNS if name != "payload")
"""Every column but the payload, which only extraction-stage entries carry (the record as received)."""

EXTRACTION_STAGE = "extract"
"""A source rejected the record as it arrived: it never reached its raw table."""
VALIDATION_STAGE = "validate"
"""The record is in its raw table but fails a blocking expectation: staging leaves it out."""


def declare_quarantine(schema: dlt.Schema, resource: str = QUARANTINE_TABLE) -> None:
    """Declare the quarantine table in a dlt schema (a source's, or quality/'s own to create it)."""
    declare_table(
        schema,
        QUARANTINE_TABLE,
        QUARANTINE_COLUMNS,
        QUARANTINE_KEY,
        resource=resource,
        required=REQUIRED_COLUMNS,
    )


def rejected_entry(
    workspace_id: str, table: str, record_id: str, check: str, reason: str, payload: str, at: datetime
) -> dict[str, Any]:
    """A source's rejection of a record as a quarantine row (stage `extract`)."""
    return {
        "workspace_id": workspace_id,
        "table_name": table,
        "record_id": record_id,
        "expectation": check,
        "reason": reason,
        "stage": EXTRACTION_STAGE,
        "quarantined_at": at,
        "payload": payload,
        VERSION_COLUMN: at,
    }
