"""Deterministic daily exchange rates and exact conversion of minor-unit amounts."""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from revops_simulator.business.seeding import stable_hash

# Rough mid-market values in USD; each day drifts around them on a slow cycle plus daily noise.
_USD_VALUE = {"usd": 1.0, "eur": 1.085, "gbp": 1.27}
_RATE_QUANTUM = Decimal("0.000001")


def _usd_value(currency: str, day: date) -> float:
    if currency == "usd":
        return 1.0
    ordinal = day.toordinal()
    phase = stable_hash("fx-phase", currency) % 360
    cycle = 0.025 * math.sin(2 * math.pi * (ordinal + phase) / 97)
    noise = (stable_hash("fx-noise", currency, ordinal) % 2001 - 1000) / 1000 * 0.003
    return _USD_VALUE[currency] * (1 + cycle + noise)


def rate(source: str, target: str, day: date) -> Decimal:
    """Units of `target` per unit of `source` on `day`, to six decimals like Stripe's `exchange_rate`."""
    if source == target:
        return Decimal(1)
    return (Decimal(_usd_value(source, day)) / Decimal(_usd_value(target, day))).quantize(_RATE_QUANTUM)


def convert(amount: int, source: str, target: str, day: date) -> tuple[int, Decimal | None]:
    """`amount` (minor units of `source`) in `target` minor units, and the rate used (None if same)."""
    if source == target:
        return amount, None
    used = rate(source, target, day)
    return int((amount * used).to_integral_value(ROUND_HALF_UP)), used


def basis_points(amount: int, bps: int) -> int:
    """`amount` times `bps`/10 000, rounded half up like card fees."""
    return int((Decimal(amount) * bps / 10_000).to_integral_value(ROUND_HALF_UP))
