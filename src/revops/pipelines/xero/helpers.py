"""Xero specifics the declarative rest_api config cannot express on its own."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_MS_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")


def parse_xero_date(value: str) -> datetime:
    """A Microsoft JSON date (`/Date(1700000000000+0000)/`, epoch milliseconds) as a UTC datetime."""
    match = _MS_DATE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a Xero date: {value!r}")
    return datetime.fromtimestamp(int(match[1]) / 1000, UTC)


def if_modified_since(cursor: str) -> str:
    """The `If-Modified-Since` header for an `UpdatedDateUTC` cursor, as Xero's OpenAPI specification
    declares it (`format: date-time`, RFC 3339), in UTC and whole seconds rounded down, so the boundary
    record is listed again and dlt drops what it has seen: `2026-10-19T08:15:02Z`."""
    return parse_xero_date(cursor).strftime("%Y-%m-%dT%H:%M:%SZ")
