"""File drops of the usage feed: one file per UTC day of arrival, JSON Lines or Parquet.

What an event collector's export to a bucket looks like: a day's file holds every delivery that
arrived that day (duplicates included), appears once the day is over, and is never rewritten. Files
are written whole under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from revops_simulator.business.clock import DAY, day_start, to_date
from revops_simulator.business.tenants import FOUNDED
from revops_simulator.usage.api import cloudevent_json
from revops_simulator.usage.log import UsageLog

DropFormat = Literal["jsonl", "parquet"]
PARQUET_COLUMNS = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data")
"""Parquet drops: CloudEvents attributes as columns, `time` as an RFC 3339 string, `data` as JSON text."""


def drop_file_name(day: date, fmt: DropFormat) -> str:
    return f"events-{day.isoformat()}.{fmt}"


def write_drops(log: UsageLog, directory: Path, fmt: DropFormat) -> list[Path]:
    """Write the files of every arrival day complete by the clock that are not there yet; the new files."""
    directory.mkdir(parents=True, exist_ok=True)
    deliveries = log.deliveries
    last_complete = to_date(log.now + 1) - timedelta(days=1)
    written = []
    day = FOUNDED
    while day <= last_complete:
        path = directory / drop_file_name(day, fmt)
        if not path.exists():
            start_ms = day_start(day) * 1000
            rows = deliveries.filter(pl.col("arrival_ms").is_between(start_ms, start_ms + DAY * 1000, "left"))
            if rows.height:
                write_drop_file(rows, path, fmt)
                written.append(path)
        day += timedelta(days=1)
    return written


def write_drop_file(rows: pl.DataFrame, path: Path, fmt: DropFormat) -> None:
    """Write `rows` (deliveries) as one drop file, atomically (whole, under a temporary name, renamed)."""
    partial = path.with_name(path.name + ".partial")
    if fmt == "jsonl":
        lines = rows.select(cloudevent_json()).to_series().to_list()
        partial.write_text("".join(line + "\n" for line in lines))
    else:
        rows.select(
            pl.lit("1.0").alias("specversion"),
            "id",
            "source",
            "type",
            "subject",
            pl.from_epoch("time_ms", time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").alias("time"),
            pl.lit("application/json").alias("datacontenttype"),
            "data",
        ).write_parquet(partial)
    partial.rename(path)
