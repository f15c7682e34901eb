"""One workspace's usage at the clock: every event its customers generated, how it was delivered, and
the ground truth a perfect pipeline computes from it.

Customers use the product while their subscription runs (from its creation, trial included, to its
end); seat-based plans have as many users as seats on each day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import polars as pl

from revops_simulator.business.clock import DAY, HOUR
from revops_simulator.business.entities import History, Subscription
from revops_simulator.business.usage import (
    API_REQUEST,
    ARRAY_COLUMNS,
    BLOCK_DAYS,
    KINDS,
    LLM_COMPLETION,
    STORAGE_SNAPSHOT,
    USER_ACTIVE,
    UsageProfile,
    UsageVolume,
    block_of,
    render_events,
)

TRUTH_METERS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "api_calls": (API_REQUEST, "count"),
        "tokens": (LLM_COMPLETION, "sum"),
        "active_users": (USER_ACTIVE, "unique_count"),
        "storage_gb": (STORAGE_SNAPSHOT, "latest"),
        "storage_gb_peak": (STORAGE_SNAPSHOT, "max"),
    }
)
"""What each meter of the shipped meters config measures, as the simulator knows it: (event type,
aggregation). The truth is computed here independently of the config and of SQL."""


@dataclass(frozen=True)
class BillingPeriod:
    subscription_id: str
    customer_id: str
    start: int
    end: int
    """[start, end) in epoch seconds: a service period of the subscription, as its invoices bill it."""


class UsageLog:
    """Every usage event of one workspace up to `now`, with its deliveries."""

    def __init__(self, tenant_id: str, seed: int, history: History, now: int, volume: UsageVolume) -> None:
        self.tenant_id = tenant_id
        self.now = now
        self.history = history
        self.events = _generate(tenant_id, seed, history.subscriptions, now, volume)
        """One row per event (`EVENT_COLUMNS` plus `kind`, `a`, `b`), time ≤ now, in no particular order."""

    @cached_property
    def deliveries(self) -> pl.DataFrame:
        """Every delivery that has arrived by the clock, in arrival order.

        A duplicated event appears twice, identical but for `arrival_ms`; `delivery` (0 or 1) tells them
        apart and orders them.
        """
        until = self.now * 1000 + 999
        first = self.events.with_columns(pl.lit(0, dtype=pl.Int8).alias("delivery"))
        second = self.events.filter(pl.col("duplicate_arrival_ms").is_not_null()).with_columns(
            pl.col("duplicate_arrival_ms").alias("arrival_ms"), pl.lit(1, dtype=pl.Int8).alias("delivery")
        )
        return (
            pl.concat([first, second])
            .filter(pl.col("arrival_ms") <= until)
            .sort("arrival_ms", "id", "delivery")
        )

    def delivered_events(self) -> pl.DataFrame:
        """The distinct events that have arrived by the clock: what a pipeline can know."""
        return self.events.filter(pl.col("arrival_ms") <= self.now * 1000 + 999)

    def billing_periods(self) -> list[BillingPeriod]:
        """Each subscription's service periods invoiced by the clock (the periods of their plan lines)."""
        periods = {
            (invoice.subscription.id, line.period_start, line.period_end): invoice.customer.id
            for invoice in self.history.invoices
            if invoice.created <= self.now
            for line in invoice.lines
            if not line.proration and line.item is invoice.subscription.items[0]
        }
        return [BillingPeriod(sub, customer, start, end) for (sub, start, end), customer in periods.items()]

    def truth_by_billing_period(self) -> dict[tuple[str, str, int, int], Decimal]:
        """(meter, subscription id, period start, period end) → the meter's value over the delivered
        events of the subscription's customer in that period (meters with no event are absent)."""
        periods = pl.DataFrame(
            [
                (p.subscription_id, p.customer_id, p.start * 1000, p.end * 1000)
                for p in self.billing_periods()
            ],
            schema={"subscription_id": pl.String, "subject": pl.String, "start": pl.Int64, "end": pl.Int64},
            orient="row",
        )
        events = (
            self.delivered_events()
            .join(periods, on="subject")
            .filter((pl.col("time_ms") >= pl.col("start")) & (pl.col("time_ms") < pl.col("end")))
        )
        return _aggregate(
            events, ["subscription_id", "start", "end"], lambda key: (key[0], key[1] // 1000, key[2] // 1000)
        )

    def truth_by_window(self, every: str) -> dict[tuple[str, str, datetime], Decimal]:
        """(meter, customer, window start) → the meter's value over the delivered events of each UTC
        window `every` long (a polars duration: `1h`, `1d`, `1mo`), windows starting at its boundaries."""
        events = self.delivered_events().with_columns(
            pl.from_epoch("time_ms", time_unit="ms")
            .dt.replace_time_zone("UTC")
            .dt.truncate(every)
            .alias("window_start")
        )
        return _aggregate(events, ["subject", "window_start"], tuple)


def _aggregate(
    events: pl.DataFrame, keys: list[str], key_of: Callable[[tuple[Any, ...]], tuple[Any, ...]]
) -> dict[tuple[Any, ...], Decimal]:
    """(meter, *key_of(group)) → the meter's value over each group of `events` by `keys`."""
    truth: dict[tuple[Any, ...], Decimal] = {}
    for meter, (event_type, aggregation) in TRUTH_METERS.items():
        rows = events.filter(pl.col("kind") == KINDS.index(event_type))
        if aggregation == "count":
            value = pl.len()
        elif aggregation == "sum":
            value = pl.col("b").sum()
        elif aggregation == "unique_count":
            value = pl.col("a").n_unique()
        elif aggregation == "max":
            value = pl.col("a").max()
        else:
            value = pl.col("a").sort_by("time_ms", "id").last()
        scale = 1000 if event_type == STORAGE_SNAPSHOT else 1  # storage `a` is in megabytes, meters in GB
        for row in rows.group_by(keys).agg(value.alias("value")).iter_rows():
            truth[(meter, *key_of(row[:-1]))] = Decimal(int(row[-1])) / scale
    return truth


def _team_size(profile: UsageProfile) -> int:
    """Users of a customer on a flat-priced plan (seat plans count their seats)."""
    return min(6, 1 + int(profile.size * 1.5))


def _generate(
    tenant_id: str, seed: int, subscriptions: list[Subscription], now: int, volume: UsageVolume
) -> pl.DataFrame:
    parts: list[dict[str, np.ndarray]] = []
    subjects: list[np.ndarray] = []
    for subscription in subscriptions:
        start = subscription.created
        end = min(subscription.ended_at if subscription.ended_at is not None else now + 1, now + 1)
        if end <= start:
            continue
        customer_id = subscription.customer.id
        profile = UsageProfile.of(seed, tenant_id, customer_id)
        item = subscription.items[0]
        for block in range(block_of(start), block_of(end - 1) + 1):
            noons = [(block * BLOCK_DAYS + day) * DAY + 12 * HOUR for day in range(BLOCK_DAYS)]
            seats = np.array(
                [
                    item.quantity.at(noon) if item.price.at(noon).plan.per_seat else _team_size(profile)
                    for noon in noons
                ],
                dtype=np.int64,
            )
            arrays = profile.block_arrays(block, volume, seats)
            keep = (arrays["time_ms"] >= start * 1000) & (arrays["time_ms"] < end * 1000)
            parts.append({name: arrays[name][keep] for name in ARRAY_COLUMNS})
            subjects.append(np.full(int(keep.sum()), customer_id, dtype=object))
    if not parts:
        empty = {name: np.zeros(0, dtype=np.int64) for name in ARRAY_COLUMNS}
        return render_events(tenant_id, empty, np.zeros(0, dtype=object))
    arrays = {name: np.concatenate([part[name] for part in parts]) for name in ARRAY_COLUMNS}
    return render_events(tenant_id, arrays, np.concatenate(subjects))
