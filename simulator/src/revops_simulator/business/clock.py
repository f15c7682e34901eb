"""Simulation time: UTC epoch seconds, calendar days, billing periods and business days."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

MINUTE = 60
HOUR = 3_600
DAY = 86_400


def day_start(day: date) -> int:
    return calendar.timegm(day.timetuple())


def day_end(day: date) -> int:
    """The last second of `day`: the simulation clock of a world seen "as of" that day."""
    return day_start(day) + DAY - 1


def to_date(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def midnight_after(ts: int, days: int) -> int:
    """Midnight UTC `days` calendar days after the day of `ts` (Stripe's availability dates)."""
    return day_start(to_date(ts) + timedelta(days=days))


def add_months(anchor: int, months: int) -> int:
    """`anchor` moved by whole months, keeping its day of month (clamped to the month's end) and time.

    Billing periods follow the anchor, not the previous period end, so a subscription anchored on
    the 31st bills on the 30th in April and on the 31st again in May, as Stripe does.
    """
    moment = to_datetime(anchor)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return calendar.timegm(moment.replace(year=year, month=month, day=day).timetuple())


def add_business_days(day: date, days: int) -> date:
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def short_date(ts: int) -> str:
    """Stripe's date style in line descriptions: "12 Mar 2026"."""
    moment = to_datetime(ts)
    return f"{moment.day} {moment:%b %Y}"
