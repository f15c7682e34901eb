"""The usage source's parts: the meters config, the event feed client, and turning deliveries (feed
pages or drop files) into raw rows column-wise with polars, invalid records set apart with a reason."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
import polars as pl
import pyarrow as pa
import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from revops.pipelines.errors import SourceError
from revops.pipelines.retry import RateLimiter, parse_retry_after, retry_delay
from revops.pipelines.usage.settings import MAX_ATTEMPTS, REQUEST_TIMEOUT_S, REQUESTS_PER_SECOND

logger = logging.getLogger(__name__)

JSON_PATH = r"^\$(\.[A-Za-z_][A-Za-z0-9_]*){1,3}$"
"""`$.key`, up to three keys deep: what the models can extract (staging splits it into keys)."""
CLOUDEVENT_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time")
RFC3339 = "%Y-%m-%dT%H:%M:%S%.f%#z"
"""CloudEvents `time`: fractional seconds optional, `Z` or an offset."""


class UsageSourceError(SourceError):
    """A usage failure that retrying cannot fix (a rejected key, an unreadable meters config)."""


# --- meters ---


class Meter(BaseModel):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    description: str = ""
    event_type: str = Field(min_length=1)
    aggregation: Literal["SUM", "COUNT", "UNIQUE_COUNT", "MAX", "LATEST"]
    value_property: str | None = Field(default=None, pattern=JSON_PATH)
    group_by: dict[str, str] = Field(default_factory=dict)
    window_size: Literal["MINUTE", "HOUR", "DAY"] = "MINUTE"

    @model_validator(mode="after")
    def _value_when_needed(self) -> Meter:
        if (self.aggregation == "COUNT") != (self.value_property is None):
            raise ValueError(
                "value_property is required for every aggregation but COUNT, and not allowed with it"
            )
        for name, path in self.group_by.items():
            if re.fullmatch(JSON_PATH, path) is None:
                raise ValueError(f"group_by {name!r}: {path!r} is not a JSON path like $.key")
        return self


class MetersConfig(BaseModel):
    version: int = Field(ge=1)
    meters: list[Meter] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_slugs(self) -> MetersConfig:
        slugs = [meter.slug for meter in self.meters]
        duplicated = sorted({slug for slug in slugs if slugs.count(slug) > 1})
        if duplicated:
            raise ValueError(f"meter slugs must be unique: {', '.join(duplicated)}")
        return self


def load_meters(path: Path) -> MetersConfig:
    try:
        return MetersConfig.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise UsageSourceError(f"meters config {path}: {exc}") from exc


def meter_rows(config: MetersConfig) -> list[dict[str, Any]]:
    return [
        {
            **meter.model_dump(exclude={"group_by"}),
            "group_by": json.dumps(meter.group_by, sort_keys=True),
            "config_version": config.version,
        }
        for meter in config.meters
    ]


# --- the feed ---


class EventFeed:
    """`GET {feed_url}/v1/events` page by page, with pacing and backoff on 429, 5xx and broken bodies."""

    def __init__(self, workspace_id: str, feed_url: str, api_key: str, client: httpx.Client | None = None):
        self.workspace_id = workspace_id
        self._url = feed_url.rstrip("/") + "/v1/events"
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._client = client or httpx.Client(timeout=REQUEST_TIMEOUT_S)
        self._limiter = RateLimiter(REQUESTS_PER_SECOND)

    def page(self, after: str | None, limit: int) -> dict[str, Any]:
        """One page: `data` (events, numbers with a fraction as Decimal), `has_more`, `next_cursor`."""
        params = {"limit": str(limit), **({"after": after} if after else {})}
        where = f"workspace {self.workspace_id!r}: usage feed"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._limiter.acquire()
            try:
                response = self._client.get(self._url, params=params, headers=self._headers)
                if response.status_code == 200:
                    return json.loads(response.content, parse_float=Decimal)
                if response.status_code != 429 and response.status_code < 500:
                    raise UsageSourceError(
                        f"{where} refused the request: {response.status_code} {response.text}"
                    )
                reason = f"HTTP {response.status_code}"
                # Retry-After is honoured when it asks for longer than the backoff, never shorter.
                delay = retry_delay(attempt, parse_retry_after(response.headers.get("Retry-After")))
            except (httpx.TransportError, ValueError) as exc:
                # Connection failures and truncated or unreadable bodies are transient.
                reason, delay = f"{type(exc).__name__}: {exc}", retry_delay(attempt)
            if attempt == MAX_ATTEMPTS:
                raise UsageSourceError(f"{where} still failing after {MAX_ATTEMPTS} attempts ({reason})")
            logger.info("%s: %s; retry %d in %.2fs", where, reason, attempt, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def json_text(value: Any) -> str:
    """JSON text of a parsed value, Decimal numbers written with exactly the digits they arrived with."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value)


def feed_frame(events: list[dict[str, Any]]) -> pl.DataFrame:
    """A feed page's events as columns of text (`record` keeps each whole, for rejections)."""
    columns: dict[str, list[Any]] = {name: [] for name in (*CLOUDEVENT_ATTRIBUTES, "data", "record")}
    for event in events:
        for name in CLOUDEVENT_ATTRIBUTES:
            value = event.get(name) if isinstance(event, dict) else None
            columns[name].append(value if isinstance(value, str) else None)
        data = event.get("data") if isinstance(event, dict) else None
        columns["data"].append(None if data is None else json_text(data))
        columns["record"].append(json_text(event))
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


# --- drop files ---


def read_drop_file(path: Path) -> pl.DataFrame:
    """A drop file's events as columns of text, read whole by polars (JSON Lines or Parquet)."""
    schema = dict.fromkeys((*CLOUDEVENT_ATTRIBUTES, "data"), pl.String)
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        frame = frame.select(
            [
                (pl.col(name).cast(pl.String) if name in frame.columns else pl.lit(None, pl.String)).alias(
                    name
                )
                for name in schema
            ]
        )
        record = pl.struct(*schema).struct.json_encode()
    else:
        # `data` read as text keeps its numbers' digits exactly; the whole line is kept for rejections.
        frame = pl.read_ndjson(path, schema=schema, ignore_errors=True)
        lines = pl.read_csv(
            path,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            new_columns=["record"],
            schema={"record": pl.String},
        )
        return frame.with_columns(lines["record"])
    return frame.with_columns(record.alias("record"))


# --- rows ---


def split_valid(
    frame: pl.DataFrame, workspace_id: str, received_from: str, synced_at: datetime
) -> tuple[pa.Table, pa.Table]:
    """(events, rejected) as Arrow tables ready to load: events typed, rejected with their reason."""
    time_parsed = pl.col("time").str.to_datetime(RFC3339, strict=False, time_unit="ms", time_zone="UTC")
    reason = (
        pl.when(pl.col("id").is_null() | (pl.col("id") == ""))
        .then(pl.lit("missing id"))
        .when(pl.col("specversion").is_null() | ~pl.col("specversion").str.starts_with("1."))
        .then(pl.lit("specversion is not 1.x"))
        .when(pl.col("source").is_null() | (pl.col("source") == ""))
        .then(pl.lit("missing source"))
        .when(pl.col("type").is_null() | (pl.col("type") == ""))
        .then(pl.lit("missing type"))
        .when(pl.col("subject").is_null() | (pl.col("subject") == ""))
        .then(pl.lit("missing subject (the customer)"))
        .when(time_parsed.is_null())
        .then(pl.lit("time is not an RFC 3339 timestamp"))
    )
    checked = frame.with_columns(reason.alias("reason"), time_parsed.alias("parsed_time"))
    lineage = [
        pl.lit(workspace_id).alias("workspace_id"),
        pl.lit(received_from).alias("received_from"),
        pl.lit(synced_at).dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias("_revops_synced_at"),
    ]
    events = checked.filter(pl.col("reason").is_null()).select(
        "id",
        "source",
        "type",
        "subject",
        pl.col("parsed_time").alias("time"),
        "specversion",
        "data",
        *lineage,
    )
    rejected = checked.filter(pl.col("reason").is_not_null()).select(
        pl.col("record").map_batches(_hashes, return_dtype=pl.String).alias("record_hash"),
        "reason",
        "record",
        *lineage,
    )
    return (
        _not_null(events.to_arrow(), NOT_NULL_EVENT_COLUMNS),
        _not_null(rejected.to_arrow(), NOT_NULL_REJECTED),
    )


NOT_NULL_EVENT_COLUMNS = ("id", "source", "type", "subject", "time", "workspace_id", "_revops_synced_at")
NOT_NULL_REJECTED = ("record_hash", "reason", "workspace_id", "_revops_synced_at")


def _not_null(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    """Mark validated columns not-null in the Arrow schema, as the raw-table contract declares them
    (dlt takes nullability from the Arrow schema, and sorting-key columns cannot be nullable)."""
    fields = [field.with_nullable(field.name not in columns) for field in table.schema]
    return table.cast(pa.schema(fields))


def _hashes(records: pl.Series) -> pl.Series:
    return pl.Series(
        [hashlib.sha256((record or "").encode()).hexdigest() for record in records], dtype=pl.String
    )
