"""What the usage source extracts: its raw tables, their contracts, and how hard it retries.

Events land in `raw.usage_events`, one row per delivery loaded (keyed by workspace and event id, so
duplicate deliveries and re-loads collapse to one event downstream), CloudEvents attributes as
columns and `data` as JSON text with its numbers exactly as sent. Meter definitions land in
`raw.usage_meters`; records that are not valid CloudEvents in `raw.usage_rejected_events`.
"""

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from revops.core.workspaces import Account

EVENTS_TABLE = "usage_events"
METERS_TABLE = "usage_meters"
REJECTED_TABLE = "usage_rejected_events"
USAGE_TABLES = (EVENTS_TABLE, METERS_TABLE, REJECTED_TABLE)

DEFAULT_METERS_FILE = Path(__file__).with_name("meters.yaml")
FEED_PAGE_SIZE = 1000
"""The feed's maximum page: fewest round trips."""
MAX_ATTEMPTS = 8
"""Attempts per request on 429 / 5xx / connection errors / unreadable bodies before the workspace fails."""
REQUESTS_PER_SECOND = 50.0
REQUEST_TIMEOUT_S = 60.0
DROP_FILE_SUFFIXES = (".jsonl", ".parquet")

TEXT, JSON, BIGINT, TIMESTAMP = "text", "json", "bigint", "timestamp"

EVENT_KEY = ("workspace_id", "id")
EVENT_COLUMNS: dict[str, str] = {
    "id": TEXT,
    "source": TEXT,
    "type": TEXT,
    "subject": TEXT,
    "time": TIMESTAMP,
    "specversion": TEXT,
    "data": JSON,
    "received_from": TEXT,
}
"""`received_from`: `feed` or the drop file's name, for tracing a row back to its delivery."""
REQUIRED_EVENT_COLUMNS = ("source", "type", "subject", "time")

METER_KEY = ("workspace_id", "slug")
METER_COLUMNS: dict[str, str] = {
    "slug": TEXT,
    "description": TEXT,
    "event_type": TEXT,
    "aggregation": TEXT,
    "value_property": TEXT,
    "group_by": JSON,
    "window_size": TEXT,
    "config_version": BIGINT,
}

REJECTED_KEY = ("workspace_id", "record_hash")
REJECTED_COLUMNS: dict[str, str] = {
    "record_hash": TEXT,
    "reason": TEXT,
    "record": JSON,
    "received_from": TEXT,
}


class UsageAccount(Account):
    """`[workspaces.<id>.usage]`: where product-usage events (CloudEvents) come from: a feed or file drops."""

    feed_url: str | None = Field(
        default=None, description="Base URL of a cursor-paginated event feed (`GET {feed_url}/v1/events`)."
    )
    api_key: SecretStr | None = Field(
        default=None, description="The feed's Bearer token; normally resolved by dlt (env or secrets.toml)."
    )
    drop_dir: Path | None = Field(
        default=None, description="Directory of JSON Lines (.jsonl) and Parquet (.parquet) event files."
    )
    meters_file: Path | None = Field(
        default=None, description="Meters config (YAML); default: the one shipped in pipelines/usage."
    )

    @model_validator(mode="after")
    def _one_delivery_style(self) -> "UsageAccount":
        if (self.feed_url is None) == (self.drop_dir is None):
            raise ValueError("a usage account needs exactly one of feed_url and drop_dir")
        return self
