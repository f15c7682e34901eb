"""dlt source for one workspace's product-usage events, from an HTTP feed or from file drops.

Both delivery styles land the same rows in `raw.usage_events`, every row carrying `workspace_id`:

- **Feed**: `GET {feed_url}/v1/events` in delivery order. The feed's cursor is kept in the resource
  state after every page, so the next run continues where this one stopped; a run that dies mid-way
  resumes from the last loaded page (a delivery read twice collapses with its twin downstream).
- **File drops**: JSON Lines and Parquet files in a directory, read whole by polars into Arrow (never
  row by row), incrementally by modification time: a file is read once, unless it is rewritten.

Duplicate deliveries and re-reads are expected: raw tables are keyed by (workspace_id, id) and every
model downstream deduplicates by that key. Records that are not valid CloudEvents go to
`raw.usage_rejected_events` with the reason. The meters config is loaded along, into `raw.usage_meters`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from revops.pipelines.loading import declare_table
from revops.pipelines.usage.helpers import (
    EventFeed,
    feed_frame,
    load_meters,
    meter_rows,
    read_drop_file,
    split_valid,
)
from revops.pipelines.usage.settings import (
    DEFAULT_METERS_FILE,
    DROP_FILE_SUFFIXES,
    EVENT_COLUMNS,
    EVENT_KEY,
    EVENTS_TABLE,
    FEED_PAGE_SIZE,
    METER_COLUMNS,
    METER_KEY,
    METERS_TABLE,
    REJECTED_COLUMNS,
    REJECTED_KEY,
    REJECTED_TABLE,
    REQUIRED_EVENT_COLUMNS,
    USAGE_TABLES,
    UsageAccount,
)

__all__ = ["USAGE_TABLES", "declare_tables", "usage_source", "usage_source_for"]

# One resource writes both events and rejected records (routed per item with dlt.mark.with_table_name).
_RESOURCE = "usage_events"


def declare_tables(schema: dlt.Schema) -> None:
    """Declare the raw-table contracts up front so staging's columns exist before data has them."""
    declare_table(
        schema, EVENTS_TABLE, EVENT_COLUMNS, EVENT_KEY, resource=_RESOURCE, required=REQUIRED_EVENT_COLUMNS
    )
    declare_table(schema, REJECTED_TABLE, REJECTED_COLUMNS, REJECTED_KEY, resource=_RESOURCE)
    declare_table(schema, METERS_TABLE, METER_COLUMNS, METER_KEY, resource=METERS_TABLE)


def _split(frame: Any, workspace_id: str, received_from: str) -> Iterator[Any]:
    events, rejected = split_valid(frame, workspace_id, received_from, datetime.now(UTC))
    if events.num_rows:
        yield dlt.mark.with_table_name(events, EVENTS_TABLE)
    if rejected.num_rows:
        yield dlt.mark.with_table_name(rejected, REJECTED_TABLE)


def _feed_events(workspace_id: str, feed: EventFeed, page_size: int) -> DltResource:
    @dlt.resource(name=_RESOURCE, write_disposition="append")
    def events() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        while True:
            page = feed.page(state.get("cursor"), page_size)
            yield from _split(feed_frame(page.get("data") or []), workspace_id, "feed")
            # Saved with the load package: a crash before the load re-reads this page next time.
            state["cursor"] = page.get("next_cursor") or state.get("cursor")
            if not page.get("has_more"):
                return

    return events


def _drop_events(workspace_id: str, drop_dir: Path) -> DltResource:
    @dlt.resource(name="usage_drop_files", primary_key="name", selected=False)
    def drop_files(
        modified: dlt.sources.incremental[float] = dlt.sources.incremental("modified", initial_value=0.0),
    ) -> Iterator[list[dict[str, Any]]]:
        # A file is listed again only when its modification time is at or after the cursor: a new
        # file, or one rewritten since (read again; its rows collapse with the earlier ones downstream).
        yield sorted(
            (
                {"name": path.name, "modified": path.stat().st_mtime}
                for path in drop_dir.iterdir()
                if path.is_file() and path.suffix in DROP_FILE_SUFFIXES
            ),
            key=lambda file: (file["modified"], file["name"]),
        )

    @dlt.transformer(name=_RESOURCE, data_from=drop_files)
    def events(files: list[dict[str, Any]]) -> Iterator[Any]:
        for file in files:
            yield from _split(read_drop_file(drop_dir / file["name"]), workspace_id, file["name"])

    return events


def _meters(workspace_id: str, meters_file: Path) -> DltResource:
    config = load_meters(meters_file)

    @dlt.resource(name=METERS_TABLE, write_disposition="append")
    def meters() -> Iterator[list[dict[str, Any]]]:
        synced_at = datetime.now(UTC)
        yield [
            {**row, "workspace_id": workspace_id, "_revops_synced_at": synced_at}
            for row in meter_rows(config)
        ]

    return meters


def rewind(resources: dict[str, Any], since: datetime) -> None:
    """A backfill from `since` (the resources' dlt state, changed in place): drop files modified at or
    after it are read again; the feed's cursor is opaque, so the feed is read again from its start.
    Events merge on their key, so reading more than `since` changes nothing twice."""
    resources.get(_RESOURCE, {}).pop("cursor", None)
    files = resources.get("usage_drop_files", {}).get("incremental", {}).get("modified")
    if files and (files.get("last_value") or 0.0) > since.timestamp():
        files["last_value"] = since.timestamp()
        files["unique_hashes"] = []


@dlt.source(name="usage", max_table_nesting=0)
def usage_source(
    workspace_id: str,
    feed_url: str | None = None,
    api_key: str | None = dlt.secrets.value,
    drop_dir: str | None = None,
    meters_file: str | None = None,
    page_size: int = FEED_PAGE_SIZE,
) -> list[DltResource]:
    """The workspace's usage events (from `feed_url` or `drop_dir`) and its meters."""
    declare_tables(dlt.current.source_schema())
    if drop_dir is not None:
        events = _drop_events(workspace_id, Path(drop_dir))
    else:
        assert feed_url is not None and api_key is not None
        events = _feed_events(workspace_id, EventFeed(workspace_id, feed_url, api_key), page_size)
    return [events, _meters(workspace_id, Path(meters_file) if meters_file else DEFAULT_METERS_FILE)]


def usage_source_for(workspace_id: str, account: UsageAccount) -> DltSource:
    """A workspace's usage source: its feed (token from the registry or dlt) or its file drops."""
    options: dict[str, Any] = {"meters_file": str(account.meters_file) if account.meters_file else None}
    if account.drop_dir is not None:
        return usage_source(
            workspace_id=workspace_id, drop_dir=str(account.drop_dir), api_key=None, **options
        )
    secrets = {"api_key": account.api_key.get_secret_value()} if account.api_key else {}
    return usage_source(workspace_id=workspace_id, feed_url=account.feed_url, **secrets, **options)
