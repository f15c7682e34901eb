"""Talking to Stripe through its SDK: rate limiting, retries, pagination and record checks."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe

from revops.pipelines.errors import SourceError
from revops.pipelines.quarantine import rejected_entry
from revops.pipelines.retry import RateLimiter, backoff_delay, retry_delay
from revops.pipelines.stripe.settings import (
    LIVE_MODE_REQUESTS_PER_SECOND,
    PAGE_SIZE,
    PER_ENDPOINT_REQUESTS_PER_SECOND,
    TEST_MODE_REQUESTS_PER_SECOND,
    Endpoint,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CURRENCY_PATTERN = re.compile(r"^[a-z]{3}$")


class StripeSourceError(SourceError):
    """A Stripe failure that retrying cannot fix (bad credentials, a request Stripe rejects)."""


def account_rate_limit(api_key: str) -> float:
    return (
        LIVE_MODE_REQUESTS_PER_SECOND
        if api_key.startswith(("sk_live", "rk_live"))
        else TEST_MODE_REQUESTS_PER_SECOND
    )


class StripeApi:
    """Read access to one Stripe account with Stripe's rate limits, backoff and Retry-After honored."""

    def __init__(self, workspace_id: str, api_key: str, api_base: str) -> None:
        self.workspace_id = workspace_id
        # The SDK's own retries are off: this class retries every transient failure in one place.
        self._client = stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=0)
        self._account_limiter = RateLimiter(account_rate_limit(api_key))
        self._endpoint_limiters: dict[str, RateLimiter] = {}
        self._guard = threading.Lock()

    def _limiter_for(self, path: str) -> RateLimiter:
        endpoint = "/".join(path.split("/")[:3])
        with self._guard:
            return self._endpoint_limiters.setdefault(endpoint, RateLimiter(PER_ENDPOINT_REQUESTS_PER_SECOND))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        limiter = self._limiter_for(path)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._account_limiter.acquire()
            limiter.acquire()
            try:
                response = self._client.raw_request("get", path, **dict(params or {}))
                # Decimal keeps fractional numbers (exchange rates) exact.
                return json.loads(response.body, parse_float=Decimal)
            except (stripe.AuthenticationError, stripe.PermissionError) as exc:
                raise StripeSourceError(
                    f"workspace {self.workspace_id!r}: Stripe rejected the API key ({exc.user_message})",
                    needs_reauth=True,
                ) from exc
            except stripe.RateLimitError as exc:
                # The backoff is a floor under Retry-After, as for every source (`retry_delay`).
                delay = retry_delay(attempt, _retry_after(exc))
                reason = "rate limited (429)"
            except (stripe.APIConnectionError, stripe.APIError) as exc:
                delay, reason = backoff_delay(attempt), f"transient error: {exc.user_message or exc}"
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    raise
                raise StripeSourceError(
                    f"workspace {self.workspace_id!r}: Stripe refused GET {path} ({exc.user_message})"
                ) from exc
            if attempt == MAX_ATTEMPTS:
                raise StripeSourceError(
                    f"workspace {self.workspace_id!r}: GET {path} still failing after "
                    f"{MAX_ATTEMPTS} attempts ({reason})"
                )
            logger.info(
                "workspace %s: GET %s %s; retry %d in %.2fs", self.workspace_id, path, reason, attempt, delay
            )
            time.sleep(delay)
        raise AssertionError("unreachable")

    def retrieve(
        self, path: str, object_id: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when Stripe no longer has it."""
        try:
            return self.get(f"{path}/{object_id}", params)
        except stripe.InvalidRequestError:
            return None

    def list_pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a Stripe list, newest first, following `starting_after` while `has_more`."""
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        while True:
            page = self.get(path, query)
            data = page.get("data", [])
            if data:
                yield data
            if not page.get("has_more") or not data:
                return
            query["starting_after"] = data[-1]["id"]

    def latest_event_created(self) -> int | None:
        """Stripe's clock as seen through its newest event (events are the only time-ordered feed)."""
        page = self.get("/v1/events", {"limit": 1})
        data = page.get("data", [])
        return int(data[0]["created"]) if data else None


def _retry_after(exc: stripe.StripeError) -> float | None:
    headers = exc.headers or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def invalid_reason(endpoint: Endpoint, record: Any) -> str | None:
    """Why a record cannot be loaded as a Stripe object of this endpoint, or None if it can."""
    if not isinstance(record, dict):
        return f"not a JSON object: {type(record).__name__}"
    object_id = record.get("id")
    if not isinstance(object_id, str) or not object_id or not object_id.startswith(endpoint.id_prefixes):
        return f"id {object_id!r} is not a {'/'.join(endpoint.id_prefixes)} id"
    if record.get("deleted") is True and set(record) <= {"id", "object", "deleted"}:
        # Stripe's deleted stub is a valid answer: all it says is that the object is gone.
        return None
    created = record.get("created")
    if "created" in endpoint.columns and (not isinstance(created, int) or isinstance(created, bool)):
        return f"created {created!r} is not a Unix timestamp"
    for field in endpoint.money_fields:
        value = record.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"{field} {value!r} is not an integer amount in minor units"
    currency = record.get("currency")
    if currency is not None and (not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency)):
        return f"currency {currency!r} is not a lowercase ISO 4217 code"
    return None


STRIPE_OBJECT_CHECK = "stripe_object"
"""The quarantine's `expectation` for objects the source rejects (`invalid_reason`)."""


def rejected_record(workspace_id: str, endpoint: Endpoint, record: Any, reason: str) -> dict[str, Any]:
    """The quarantine entry (stage `extract`) of an object the source cannot load, with its payload."""
    payload = json.dumps(record, sort_keys=True, default=str)
    object_id = record.get("id") if isinstance(record, dict) else None
    if not isinstance(object_id, str) or not object_id:
        # Without an id, the payload is the record's identity: the same bad record is the same entry.
        digest = hashlib.sha256(f"{workspace_id}|{endpoint.resource}|{payload}".encode()).hexdigest()[:32]
        object_id = f"sha256:{digest}"
    return rejected_entry(
        workspace_id, endpoint.table, object_id, STRIPE_OBJECT_CHECK, reason, payload, datetime.now(UTC)
    )
