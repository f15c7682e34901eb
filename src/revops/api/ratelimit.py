"""Rate and concurrency limits: token buckets (per API key, and per client address for keys that fail),
refilled continuously, and a cap on each key's queries in flight.

The limits live in the API process, so with several API replicas each allows them on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from revops.api.errors import ApiError


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
    MAX_BUCKETS = 100_000
    """Past this many buckets, full ones (which hold no state a new bucket would not) are dropped."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = per_minute
        self.refill_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, as of)
        self._lock = threading.Lock()

    def take(self, key: str) -> RateDecision:
        """Spend one request of `key`'s bucket, if it has one."""
        return self._decide(key, spend=True)

    def peek(self, key: str) -> RateDecision:
        """Whether `key`'s bucket has a request left, without spending it."""
        return self._decide(key, spend=False)

    def _decide(self, key: str, spend: bool) -> RateDecision:
        now = self._clock()
        with self._lock:
            tokens, as_of = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - as_of) * self.refill_per_s)
            allowed = tokens >= 1.0
            if allowed and spend:
                tokens -= 1.0
            if spend:
                self._buckets[key] = (tokens, now)
                if len(self._buckets) > self.MAX_BUCKETS:
                    self._drop_full_buckets(now)
        return RateDecision(
            allowed=allowed,
            limit=self.capacity,
            remaining=int(tokens),
            reset_s=math.ceil((self.capacity - tokens) / self.refill_per_s),
            retry_after_s=0 if allowed else max(1, math.ceil((1.0 - tokens) / self.refill_per_s)),
        )

    def _drop_full_buckets(self, now: float) -> None:
        for key, (tokens, as_of) in list(self._buckets.items()):
            if tokens + (now - as_of) * self.refill_per_s >= self.capacity:
                del self._buckets[key]


class ConcurrencyLimiter:
    """At most `per_key` warehouse queries in flight per API key, so one key cannot hold the whole pool
    while other keys' requests wait for it."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def try_acquire(self, key: str) -> bool:
        with self._lock:
            running = self._running.get(key, 0)
            if running >= self.per_key:
                return False
            self._running[key] = running + 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            running = self._running[key] - 1
            if running:
                self._running[key] = running
            else:
                del self._running[key]

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """One of `key`'s query slots while the block runs; all taken: a 429 with `Retry-After`."""
        if not self.try_acquire(key):
            raise ApiError(
                429,
                "rate_limit_error",
                "concurrency_limited",
                f"this key already has {self.per_key} queries running; retry when one has finished",
                headers={"Retry-After": "1"},
            )
        try:
            yield
        finally:
            self.release(key)
