"""Per-key rate limiting: a token bucket per API key, refilled continuously.

The buckets live in the API process, so with several API replicas each allows the limit on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    """Seconds until the bucket is full again."""
    retry_after_s: int
    """Seconds until the next request is allowed (0 when this one was)."""

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = per_minute
        self.refill_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, as of)
        self._lock = threading.Lock()

    def take(self, key: str) -> RateDecision:
        now = self._clock()
        with self._lock:
            tokens, as_of = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - as_of) * self.refill_per_s)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
        return RateDecision(
            allowed=allowed,
            limit=self.capacity,
            remaining=int(tokens),
            reset_s=math.ceil((self.capacity - tokens) / self.refill_per_s),
            retry_after_s=0 if allowed else max(1, math.ceil((1.0 - tokens) / self.refill_per_s)),
        )
