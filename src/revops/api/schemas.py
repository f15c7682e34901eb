"""Field types shared by the endpoints' row models."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field


def as_utc(value: datetime) -> datetime:
    """An instant in UTC (a naive one is read as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A ClickHouse DateTime64(…, 'UTC'), always rendered with its offset."""

MinorUnits = Annotated[int, Field(description="Integer amount in the currency's minor unit (cents).")]
