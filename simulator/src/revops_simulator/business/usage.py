"""What customers do with the product: usage events, generated vectorized per customer and block of days.

Each customer's usage is a pure function of (seed, tenant, customer) and the block of days asked
for: every block draws from its own random streams (one per kind of event), so the events of a day
never depend on how far the history was generated, and billing can count a period's API calls
without generating anyone else's usage.

Events are CloudEvents (`id`, `source`, `type`, `subject` = the Stripe customer, `time`, `data`).
Delivery is imperfect on purpose, as with any real event pipeline: most events arrive within two
minutes, some hours later, a few days later, and some are delivered twice (same id).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import polars as pl

from revops_simulator.business.clock import DAY, day_start
from revops_simulator.business.seeding import stable_hash
from revops_simulator.business.tenants import FOUNDED

BLOCK_DAYS = 32
"""Usage is generated in blocks of days aligned on the epoch, each with its own random streams."""

FOUNDED_DAY = day_start(FOUNDED) // DAY

API_CALLS_PER_DAY = 4.0
"""Mean API requests per weekday of a median-size customer (at demo volume; see `UsageVolume`)."""
COMPLETIONS_PER_DAY = 1.0
STORAGE_SNAPSHOTS_PER_DAY = 1
WEEKEND_FACTOR = 0.35
BURST_DAY_SHARE = 0.04
BURST_FACTOR = 8.0
"""On a burst day one hour carries this many times the day's ordinary hourly volume."""
USER_ACTIVE_SHARE = (0.6, 0.15)
"""Chance that a seat's user is active on a weekday, on a weekend day."""
# Requests follow office hours (UTC): quiet at night, peaking mid-afternoon.
HOURLY_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 12, 12, 12, 13, 13, 12, 10, 8, 6, 5, 4, 3, 2], dtype=float
)
HOURLY_WEIGHTS /= HOURLY_WEIGHTS.sum()

ON_TIME_SHARE = 0.90
"""Events delivered within two minutes; of the rest, 80% within 6 hours, 20% up to 3 days late."""
HOURS_LATE_SHARE = 0.08
DUPLICATE_SHARE = 0.03
"""Events delivered a second time (same id), up to a day after the first delivery."""

ENDPOINTS = ("/v1/query", "/v1/dashboards", "/v1/exports", "/v1/alerts")
ENDPOINT_WEIGHTS = np.array([0.55, 0.25, 0.12, 0.08])
METHODS = ("GET", "POST")
MODELS = ("small", "large")
MODEL_WEIGHTS = np.array([0.8, 0.2])

API_REQUEST = "api.request"
LLM_COMPLETION = "llm.completion"
USER_ACTIVE = "user.active"
STORAGE_SNAPSHOT = "storage.snapshot"
EVENT_SOURCES = MappingProxyType(
    {API_REQUEST: "gateway", LLM_COMPLETION: "assistant", USER_ACTIVE: "auth", STORAGE_SNAPSHOT: "storage"}
)

KINDS = (API_REQUEST, LLM_COMPLETION, USER_ACTIVE, STORAGE_SNAPSHOT)
"""Event types by the code `block_arrays` gives them."""
ARRAY_COLUMNS = ("kind", "seq", "id_hi", "id_lo", "time_ms", "arrival_ms", "duplicate_arrival_ms", "a", "b")
"""What `block_arrays` returns: the kind's code, its index within the block and kind, the event id's
128 bits, when it happened, arrived and (if duplicated, else -1) arrived again, and two kind-specific
integer attributes."""
EVENT_COLUMNS = ("id", "source", "type", "subject", "time_ms", "data", "arrival_ms", "duplicate_arrival_ms")


@dataclass(frozen=True)
class UsageVolume:
    """How much usage a median customer generates; `multiplier` scales every rate (the benchmark)."""

    multiplier: float = 1.0


@dataclass(frozen=True)
class Tier:
    """A graduated price tier: `unit_amount` minor units per unit up to `up_to` (None: no limit)."""

    up_to: int | None
    unit_amount: int
    flat_amount: int = 0


METERED_METER = "api_calls"
"""The meter Stripe bills (API requests, counted); metered prices name it in their metadata."""
METERED_TIERS: MappingProxyType[str, tuple[Tier, ...]] = MappingProxyType(
    {
        currency: (Tier(100, 0), Tier(1_000, first), Tier(None, rest))
        for currency, (first, rest) in {"usd": (5, 3), "eur": (5, 3), "gbp": (4, 2)}.items()
    }
)
"""Graduated tiers per currency: the first 100 calls of a period free, then cheaper per call by volume."""


def graduated_amount(quantity: int, tiers: tuple[Tier, ...]) -> int:
    """Stripe's graduated pricing: each tier's units at its price, plus its flat fee once entered."""
    amount, floor = 0, 0
    for tier in tiers:
        if quantity <= floor:
            break
        ceiling = quantity if tier.up_to is None else min(quantity, tier.up_to)
        amount += (ceiling - floor) * tier.unit_amount + tier.flat_amount
        if tier.up_to is None:
            break
        floor = tier.up_to
    return amount


@dataclass(frozen=True)
class UsageProfile:
    """A customer as its usage sees it."""

    seed: int
    tenant_id: str
    customer_id: str
    size: float
    """Relative volume (log-normal around 1): big customers call the API more."""
    storage_base_mgb: int
    storage_growth_mgb: int
    """Storage in megabytes at the tenant's founding, and its mean growth per day."""

    @staticmethod
    def of(seed: int, tenant_id: str, customer_id: str) -> UsageProfile:
        rng = np.random.default_rng(stable_hash(seed, tenant_id, customer_id, "usage-profile"))
        return UsageProfile(
            seed,
            tenant_id,
            customer_id,
            size=float(rng.lognormal(0.0, 0.8)),
            storage_base_mgb=int(rng.integers(500, 50_000)),
            storage_growth_mgb=int(rng.integers(0, 400)),
        )

    def _rng(self, block: int, kind: str) -> np.random.Generator:
        return np.random.default_rng(stable_hash(self.seed, self.tenant_id, self.customer_id, block, kind))

    def block_arrays(
        self, block: int, volume: UsageVolume, seats: np.ndarray | None = None, kinds: tuple[str, ...] = KINDS
    ) -> dict[str, np.ndarray]:
        """The block's events of `kinds` as columns (`ARRAY_COLUMNS`), for all its days.

        `seats` is the number of users on each day of the block (the subscription's quantity); needed
        for `user.active`. Every kind draws from its own streams, so asking for fewer kinds changes
        nothing in the ones asked for.
        """
        days = np.arange(block * BLOCK_DAYS, (block + 1) * BLOCK_DAYS, dtype=np.int64)
        day_starts = days * DAY
        weekday = (days + 3) % 7 < 5  # 1970-01-01 was a Thursday
        factor = np.where(weekday, 1.0, WEEKEND_FACTOR)
        parts = []
        for kind in kinds:
            rng = self._rng(block, kind)
            if kind == API_REQUEST:
                times = self._times(
                    rng, API_CALLS_PER_DAY * volume.multiplier * self.size * factor, day_starts
                )
                a = rng.choice(len(ENDPOINTS), size=len(times), p=ENDPOINT_WEIGHTS)
                b = (rng.random(len(times)) < 0.3) * 1000 + np.where(rng.random(len(times)) < 0.97, 200, 429)
            elif kind == LLM_COMPLETION:
                rate = COMPLETIONS_PER_DAY * volume.multiplier * self.size * factor
                times = self._times(rng, rate, day_starts)
                a = rng.choice(len(MODELS), size=len(times), p=MODEL_WEIGHTS)
                b = np.maximum(1, rng.lognormal(6.5, 1.0, len(times))).astype(np.int64)
            elif kind == USER_ACTIVE:
                assert seats is not None, "active users need the seats of each day"
                share = np.where(weekday, USER_ACTIVE_SHARE[0], USER_ACTIVE_SHARE[1])
                # users x days: user u exists on a day when u < that day's seats.
                most = int(seats.max(initial=0))
                active = (rng.random((most, BLOCK_DAYS)) < share) & (
                    np.arange(most)[:, None] < seats[None, :]
                )
                users, active_days = np.nonzero(active)
                times = day_starts[active_days] * 1000 + rng.integers(
                    7 * 3_600_000, 20 * 3_600_000, len(users)
                )
                order = np.argsort(times, kind="stable")
                times, a, b = times[order], users[order] + 1, np.zeros(len(users), dtype=np.int64)
            else:
                times = day_starts * 1000 + rng.integers(0, 86_400_000, BLOCK_DAYS)
                # A trend plus day-to-day noise (deletions too): the latest value is not always the largest.
                spread = 3 * self.storage_growth_mgb + 200
                noise = rng.integers(-spread, spread, BLOCK_DAYS)
                growth = self.storage_growth_mgb * (days - FOUNDED_DAY)
                a = np.maximum(1, self.storage_base_mgb + growth + noise)
                b = np.zeros(BLOCK_DAYS, dtype=np.int64)
            parts.append(self._delivered(block, kind, times, a, b))
        return {name: np.concatenate([part[name] for part in parts]) for name in ARRAY_COLUMNS}

    @staticmethod
    def _times(rng: np.random.Generator, rates: np.ndarray, day_starts: np.ndarray) -> np.ndarray:
        """Event times (epoch ms) for Poisson counts at `rates` per day, office-hour shaped, with bursts."""
        counts = rng.poisson(rates)
        burst_hours = np.where(rng.random(len(rates)) < BURST_DAY_SHARE, rng.integers(0, 24, len(rates)), -1)
        extra = rng.poisson(np.where(burst_hours >= 0, rates * BURST_FACTOR / 24, 0.0))
        hours = np.concatenate(
            [rng.choice(24, size=int(counts.sum()), p=HOURLY_WEIGHTS), np.repeat(burst_hours, extra)]
        )
        starts = np.concatenate([np.repeat(day_starts, counts), np.repeat(day_starts, extra)])
        return np.sort(starts * 1000 + hours * 3_600_000 + rng.integers(0, 3_600_000, len(hours)))

    def _delivered(
        self, block: int, kind: str, times: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> dict[str, np.ndarray]:
        """When each event arrives, and arrives again if it is delivered twice."""
        rng = self._rng(block, kind + ".delivery")
        count = len(times)
        draw = rng.random(count)
        delay_ms = np.where(
            draw < ON_TIME_SHARE,
            rng.integers(0, 120_000, count),
            np.where(
                draw < ON_TIME_SHARE + HOURS_LATE_SHARE,
                rng.integers(120_000, 6 * 3_600_000, count),
                rng.integers(6 * 3_600_000, 3 * 86_400_000, count),
            ),
        )
        arrival = times + delay_ms
        second = rng.integers(1_000, 86_400_000, count)
        return {
            "kind": np.full(count, KINDS.index(kind), dtype=np.int8),
            "seq": np.arange(count, dtype=np.int64),
            # Opaque ids, as producers send (UUID-like), never ordered by customer or time.
            "id_hi": _mix(
                np.uint64(stable_hash(self.seed, self.tenant_id, self.customer_id, block, kind, "id"))
                + np.arange(count, dtype=np.uint64)
            ).view(np.int64),
            "id_lo": _mix(
                np.uint64(stable_hash(self.seed, self.tenant_id, self.customer_id, block, kind, "id2"))
                + np.arange(count, dtype=np.uint64)
            ).view(np.int64),
            "time_ms": times.astype(np.int64),
            "arrival_ms": arrival.astype(np.int64),
            "duplicate_arrival_ms": np.where(rng.random(count) < DUPLICATE_SHARE, arrival + second, -1),
            "a": a.astype(np.int64),
            "b": b.astype(np.int64),
        }


def render_events(tenant_id: str, arrays: dict[str, np.ndarray], subjects: np.ndarray) -> pl.DataFrame:
    """CloudEvents rows (`EVENT_COLUMNS`, then `kind`, `a`, `b`) from `block_arrays` of many customers.

    `subjects` (customer ids) are per row. Ids are `evt_` and 128 hashed bits (of seed,
    tenant, customer, block, kind and index): unique per workspace for any practical purpose.
    """
    frame = pl.DataFrame({name: arrays[name] for name in ARRAY_COLUMNS}).with_columns(
        pl.Series("subject", subjects, dtype=pl.String)
    )
    kind, a, b = pl.col("kind"), pl.col("a"), pl.col("b")

    def name_of(codes: pl.Expr, names: tuple[str, ...]) -> pl.Expr:
        return codes.replace_strict(dict(enumerate(names)), return_dtype=pl.String)

    megabytes = a.cast(pl.String).str.zfill(4)
    data = (
        pl.when(kind == KINDS.index(API_REQUEST))
        .then(
            _json_object(
                endpoint=_quoted(name_of(a, ENDPOINTS)),
                method=_quoted(name_of(b // 1000, METHODS)),
                status=(b % 1000).cast(pl.String),
            )
        )
        .when(kind == KINDS.index(LLM_COMPLETION))
        .then(_json_object(model=_quoted(name_of(a, MODELS)), tokens=b.cast(pl.String)))
        .when(kind == KINDS.index(USER_ACTIVE))
        .then(
            _json_object(
                user_id=_quoted(
                    pl.concat_str(
                        pl.lit("usr_"), pl.col("subject").str.slice(4), pl.lit("_"), a.cast(pl.String)
                    )
                )
            )
        )
        # Storage in GB with three decimals, exact: megabytes written as a decimal, never a float.
        .otherwise(
            _json_object(
                gigabytes=pl.concat_str(
                    megabytes.str.slice(0, megabytes.str.len_chars() - 3),
                    pl.lit("."),
                    megabytes.str.slice(-3),
                )
            )
        )
    )
    return frame.select(
        pl.concat_str(
            pl.lit("evt_"),
            pl.col("id_hi").reinterpret(signed=False).cast(pl.String).str.zfill(20),
            pl.col("id_lo").reinterpret(signed=False).cast(pl.String).str.zfill(20),
        ).alias("id"),
        name_of(kind, tuple(f"/{tenant_id}/{EVENT_SOURCES[name]}" for name in KINDS)).alias("source"),
        name_of(kind, KINDS).alias("type"),
        pl.col("subject"),
        pl.col("time_ms"),
        data.alias("data"),
        pl.col("arrival_ms"),
        pl.when(pl.col("duplicate_arrival_ms") >= 0)
        .then(pl.col("duplicate_arrival_ms"))
        .alias("duplicate_arrival_ms"),
        kind,
        a,
        b,
    )


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 over uint64 arrays: distinct inputs give well-spread, practically distinct outputs."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _quoted(text: pl.Expr) -> pl.Expr:
    # Values here are identifiers, never text that needs escaping.
    return pl.concat_str(pl.lit('"'), text, pl.lit('"'))


def _json_object(**fields: pl.Expr) -> pl.Expr:
    """A JSON object per row from columns of JSON values (already quoted where strings)."""
    parts: list[pl.Expr] = []
    for index, (name, value) in enumerate(fields.items()):
        parts += [pl.lit(("{" if index == 0 else ",") + f'"{name}":'), value]
    return pl.concat_str([*parts, pl.lit("}")])


def block_of(ts: int) -> int:
    """The block holding epoch second `ts`."""
    return ts // DAY // BLOCK_DAYS


def billed_api_calls(
    seed: int, tenant_id: str, customer_id: str, start: int, end: int, billed_at: int, volume: UsageVolume
) -> int:
    """API requests of [start, end) (epoch seconds) that reached the provider by `billed_at`.

    What Stripe's meter has counted when it invoices the period: events arriving later are missed.
    """
    profile = UsageProfile.of(seed, tenant_id, customer_id)
    total = 0
    for block in range(block_of(start), block_of(end - 1) + 1):
        arrays = profile.block_arrays(block, volume, kinds=(API_REQUEST,))
        times = arrays["time_ms"]
        total += int(
            np.count_nonzero(
                (times >= start * 1000) & (times < end * 1000) & (arrays["arrival_ms"] <= billed_at * 1000)
            )
        )
    return total
