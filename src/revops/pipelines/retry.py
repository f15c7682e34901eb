"""Pacing and retrying provider requests: shared by every source that calls an HTTP API.

One policy everywhere: 429s, 5xx, connection failures and bodies that do not parse (a response cut
short) are transient and retried with exponential backoff and jitter. A `Retry-After` is honoured
when it asks for longer than the backoff, never shorter: providers under load answer `Retry-After: 0`
(or a fraction of a second) to every request of a storm, and taking that literally spends every
attempt within a second.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

from dlt.sources.helpers.requests.session import Session
from requests import ConnectionError, HTTPError, PreparedRequest, Response, Timeout
from requests.exceptions import ChunkedEncodingError

from revops.pipelines.errors import SourceError

logger = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 20.0
MAX_ATTEMPTS = 8
"""Attempts per request before the workspace's load fails (about 30 s of backoff in all)."""


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


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """How long to wait before the `attempt`-th retry: the provider's `Retry-After` when it asks for
    longer than the backoff, and never less than the backoff (the floor)."""
    floor = backoff_delay(attempt)
    return floor if retry_after is None else max(floor, retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def is_transient_status(status: int) -> bool:
    return status == 429 or status >= 500


def _unreadable(response: Response) -> str | None:
    """Why a successful response's JSON body cannot be read (cut short, not JSON), or None."""
    if "json" not in response.headers.get("Content-Type", "json"):
        return None
    try:
        json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"unreadable body ({type(exc).__name__}: {exc})"
    return None


class RetryingSession(Session):
    """A `requests` session (dlt's, with its timeout) that retries transient failures itself.

    For dlt `rest_api` / `RESTClient` sources: the client's raise-for-status hook turns a 5xx into an
    `HTTPError` inside `send`, which is caught here and retried like the rest. A request still failing
    after `max_attempts` raises `SourceError` naming `label` (the workspace and provider).
    """

    def __init__(self, label: str, max_attempts: int = MAX_ATTEMPTS) -> None:
        super().__init__(raise_for_status=False)
        self.label = label
        self.max_attempts = max_attempts

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        where = f"{self.label}: {request.method} {(request.path_url or '').split('?')[0]}"
        for attempt in range(1, self.max_attempts + 1):
            response: Response | None = None
            try:
                response = super().send(request, **kwargs)
                reason = (
                    f"HTTP {response.status_code}"
                    if is_transient_status(response.status_code)
                    else _unreadable(response)
                    if response.ok
                    else None
                )
                if reason is None:
                    return response
            except HTTPError as exc:
                response = exc.response
                if response is None or not is_transient_status(response.status_code):
                    raise
                reason = f"HTTP {response.status_code}"
            except (ConnectionError, Timeout, ChunkedEncodingError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt == self.max_attempts:
                raise SourceError(f"{where} still failing after {self.max_attempts} attempts ({reason})")
            retry_after = (
                parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
            )
            delay = retry_delay(attempt, retry_after)
            logger.info("%s: %s; retry %d in %.2fs", where, reason, attempt, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")
