"""Which days of usage need recomputing: the days whose events changed since they were last processed.

A day is stale when the deduplicated-events model has no row for it, or when events were loaded for
it after the rows it holds (a late or duplicate delivery, a re-read file). Comparing load times in
the warehouse, rather than remembering what a load touched, keeps this right across crashes: a day
loaded but never processed stays stale until it is.
"""

from __future__ import annotations

from datetime import date, timedelta

from revops.core.warehouse import connect
from revops.pipelines.loading import RAW_DATABASE
from revops.pipelines.usage.settings import EVENTS_TABLE

PROCESSED = ("staging", "int_usage__events_deduplicated")
QUARANTINE = (RAW_DATABASE, "quarantined_records")


def stale_days() -> list[date]:
    """Days (UTC, ascending) whose usage aggregates are missing or older than their events."""
    with connect() as client:
        existing = set(
            client.query(
                "SELECT database, name FROM system.tables "
                "WHERE (database, name) IN {tables:Array(Tuple(String, String))}",
                parameters={"tables": [(RAW_DATABASE, EVENTS_TABLE), PROCESSED, QUARANTINE]},
            ).result_rows
        )
        if (RAW_DATABASE, EVENTS_TABLE) not in existing:
            return []
        # Quarantined events never reach the models, so they must not make their day look stale.
        quarantined = (
            f"WHERE (workspace_id, id) NOT IN (SELECT workspace_id, record_id FROM {'.'.join(QUARANTINE)} "
            f"WHERE table_name = '{EVENTS_TABLE}')"
            if QUARANTINE in existing
            else ""
        )
        loaded = (
            "SELECT toDate(time) AS day, max(_revops_synced_at) AS loaded_at "
            f"FROM {RAW_DATABASE}.{EVENTS_TABLE} {quarantined} GROUP BY day"
        )
        if PROCESSED not in existing:
            rows = client.query(f"SELECT day FROM ({loaded}) ORDER BY day").result_rows
        else:
            rows = client.query(
                f"SELECT loaded.day FROM ({loaded}) AS loaded "
                f"LEFT JOIN (SELECT event_date AS day, max(_revops_synced_at) AS processed_at, 1 AS present "
                f"FROM {'.'.join(PROCESSED)} GROUP BY day) AS processed ON processed.day = loaded.day "
                # Unmatched LEFT JOIN columns are defaults, not NULL: `present` tells.
                "WHERE processed.present = 0 OR loaded.loaded_at > processed.processed_at "
                "ORDER BY loaded.day"
            ).result_rows
    return [row[0] for row in rows]


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as inclusive (first, last) ranges: one run per range reprocesses only them."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges
