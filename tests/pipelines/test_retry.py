"""The retry policy every source shares: a backoff floor under any Retry-After, and bodies cut short
retried like 5xx (pipelines/retry.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import requests
import stripe
from requests.adapters import BaseAdapter

from revops.pipelines import retry
from revops.pipelines.errors import SourceError
from revops.pipelines.retry import BACKOFF_BASE_S, RetryingSession, parse_retry_after, retry_delay
from revops.pipelines.stripe.helpers import StripeApi
from revops.pipelines.usage.helpers import EventFeed, UsageSourceError


def _floor(attempt: int) -> float:
    """The least backoff_delay can draw for `attempt` (its jitter keeps at least half)."""
    return min(retry.BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) / 2


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    return slept


def test_retry_after_is_honoured_above_the_floor_and_never_below() -> None:
    for attempt in range(1, 9):
        assert retry_delay(attempt, 0) >= _floor(attempt)
        assert retry_delay(attempt, 0.01) >= _floor(attempt)
        assert retry_delay(attempt, 60) == 60
    assert parse_retry_after("0") == 0 and parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: now
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_a_429_storm_with_retry_after_0_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The usage feed used to spend its 8 attempts in half a second of `Retry-After: 0`."""
    slept: list[float] = []
    monkeypatch.setattr("revops.pipelines.usage.helpers.time.sleep", slept.append)
    storm = httpx.MockTransport(lambda request: httpx.Response(429, headers={"Retry-After": "0"}, json={}))
    feed = EventFeed("acme", "http://127.0.0.1:1", "key", client=httpx.Client(transport=storm))
    feed._limiter = retry.RateLimiter(1e9)  # pacing is not what is measured here
    with pytest.raises(UsageSourceError, match="after 8 attempts"):
        feed.page(None, 100)
    assert len(slept) == 7
    assert all(delay >= _floor(attempt) for attempt, delay in enumerate(slept, start=1))
    assert sum(slept) > 15


def test_stripe_backs_off_at_least_the_floor_under_a_short_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stripe's 429s keep the floor too, for a `Retry-After` shorter than the backoff (not only 0)."""
    slept: list[float] = []
    monkeypatch.setattr("revops.pipelines.stripe.helpers.time.sleep", slept.append)
    api = StripeApi("acme", "sk_test_x", "http://127.0.0.1:1")
    api._account_limiter = retry.RateLimiter(1e9)  # pacing is not what is measured here

    def storm(*args: Any, **kwargs: Any) -> Any:
        raise stripe.RateLimitError("rate limited", http_status=429, headers={"retry-after": "0.01"})

    monkeypatch.setattr(api, "_limiter_for", lambda path: retry.RateLimiter(1e9))
    monkeypatch.setattr(api._client, "raw_request", storm)
    with pytest.raises(SourceError, match="after 8 attempts"):
        api.get("/v1/customers")
    assert len(slept) == 7
    assert all(delay >= _floor(attempt) for attempt, delay in enumerate(slept, start=1))


class _Scripted(BaseAdapter):
    """A transport answering from a script of (status, headers, body)."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__()
        self.script = script
        self.sent = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        status, headers, body = self.script[min(self.sent, len(self.script) - 1)]
        self.sent += 1
        response = requests.Response()
        response.status_code, response.request, response._content = status, request, body
        response.headers.update({"Content-Type": "application/json", **headers})
        return response

    def close(self) -> None:
        pass


def _session(script: list[tuple[int, dict[str, str], bytes]]) -> tuple[RetryingSession, _Scripted]:
    session = RetryingSession("workspace 'acme': Books")
    adapter = _Scripted(script)
    session.mount("http://", adapter)
    return session, adapter


def test_a_body_cut_short_is_retried(sleeps: list[float]) -> None:
    whole = json.dumps({"Invoices": [{"InvoiceID": "1"}]}).encode()
    session, adapter = _session([(200, {}, whole[:-7]), (503, {}, b"{}"), (200, {}, whole)])
    response = session.get("http://books.test/Invoices")
    assert response.json() == {"Invoices": [{"InvoiceID": "1"}]} and adapter.sent == 3
    assert len(sleeps) == 2


def test_a_429_with_retry_after_waits_for_it(sleeps: list[float]) -> None:
    session, _ = _session(
        [(429, {"Retry-After": "3"}, b"{}"), (429, {"Retry-After": "0"}, b"{}"), (200, {}, b"{}")]
    )
    assert session.get("http://books.test/Invoices").status_code == 200
    assert sleeps[0] == 3 and sleeps[1] >= _floor(2)


def test_what_retrying_cannot_fix_is_returned_and_what_keeps_failing_is_an_error(sleeps: list[float]) -> None:
    session, adapter = _session([(400, {}, b'{"Fault": {}}')])
    assert session.get("http://books.test/query").status_code == 400 and adapter.sent == 1
    session, adapter = _session([(200, {}, b'{"cut')])
    with pytest.raises(
        SourceError, match=r"'acme': Books: GET /query still failing after 8 attempts \(unreadable"
    ):
        session.get("http://books.test/query?secret=x")
    assert adapter.sent == 8
