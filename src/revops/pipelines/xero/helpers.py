"""Xero specifics the declarative rest_api config cannot express on its own."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime

_MS_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")


def parse_xero_date(value: str) -> datetime:
    """A Microsoft JSON date (`/Date(1700000000000+0000)/`, epoch milliseconds) as a UTC datetime."""
    match = _MS_DATE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a Xero date: {value!r}")
    return datetime.fromtimestamp(int(match[1]) / 1000, UTC)


def if_modified_since(cursor: str) -> str:
    """The `If-Modified-Since` header for an `UpdatedDateUTC` cursor: an HTTP date (whole seconds,
    rounded down, so the boundary record is listed again and dlt drops what it has seen)."""
    return format_datetime(parse_xero_date(cursor).replace(microsecond=0), usegmt=True)
