"""Pacing and retrying provider requests: shared by every source that calls an HTTP API."""

import random
import threading
import time

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 20.0


class RateLimiter:
    """Token bucket shared by every thread calling one provider account.

    A burst of one paces requests evenly, so the limit holds over any window the provider measures.
    """

    def __init__(self, per_second: float, burst: float = 1.0) -> None:
        self.per_second = per_second
        self.capacity = burst
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._guard = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._guard:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.per_second)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                wait = (1 - self._tokens) / self.per_second
            time.sleep(wait)


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter for the `attempt`-th retry (1-based)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
