"""Failure injection for the simulated providers: what a flaky, rate-limited, drifting API does.

`Faults` is the plan (immutable, replaceable on a running server); `FaultInjector` is its runtime
side: the seeded random draws and per-key token buckets, shared by the server's threads.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from revops_simulator.business.seeding import stable_hash

SERVER_ERROR_STATUSES = (500, 502, 503)
RATE_LIMIT_BURST_S = 0.1
"""A key's bucket holds this many seconds' worth of requests: short bursts pass, sustained excess does not."""

# The money field whose value a malformed object garbles, per resource.
MONEY_FIELDS: Mapping[str, str] = {
    "charges": "amount",
    "refunds": "amount",
    "payment_intents": "amount",
    "disputes": "amount",
    "payouts": "amount",
    "balance_transactions": "amount",
    "invoices": "amount_due",
    "invoice_payments": "amount_requested",
    "prices": "unit_amount",
    "invoice_line_items": "amount",
}


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0
    """Share of requests answered 500/502/503."""
    rate_limit_per_s: float | None = None
    """Requests per second per API key before 429 (token bucket); None or 0: off."""
    latency_ms: float = 0.0
    truncate_rate: float = 0.0
    """Share of 200 responses whose body is cut short (with a Content-Length to match)."""
    malformed: Mapping[str, int] = field(default_factory=dict)
    """Per resource, how many of its objects are always served corrupted."""
    extra_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per resource, top-level fields added to every served object (schema evolution)."""
    seed: int = 0
    oauth_access_token_ttl_s: float = 3600.0
    """Lifetime of OAuth2 access tokens issued by the accounting APIs (QuickBooks, Xero)."""
    oauth_revoked: frozenset[str] = frozenset()
    """Workspaces whose OAuth2 grant was revoked: their refresh tokens get `invalid_grant`."""
    stripe_keys_rolled: frozenset[str] = frozenset()
    """Workspaces whose Stripe secret key was rolled in the Dashboard: the key revops holds gets 401
    "Invalid API Key provided", as an expired key does."""
    plaid_login_required: frozenset[str] = frozenset()
    """Workspaces whose bank login changed (password, MFA): their Item's data endpoints answer
    ITEM_LOGIN_REQUIRED until the user goes through Link's update mode; `/item/get` still answers, with
    the error on the Item."""
    plaid_mutation_during_pagination: int = 0
    """How many of the next paginated `/transactions/sync` calls (cursor mid-pagination) fail with
    TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION, as when the Item updates between two pages."""

    def __post_init__(self) -> None:
        for name in ("error_rate", "truncate_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")
        if (self.rate_limit_per_s or 0) < 0 or self.latency_ms < 0:
            raise ValueError("rate_limit_per_s and latency_ms cannot be negative")
        if self.oauth_access_token_ttl_s <= 0:
            raise ValueError("oauth_access_token_ttl_s must be positive")
        if any(count < 0 for count in self.malformed.values()):
            raise ValueError("malformed counts cannot be negative")


def corrupt(resource: str, obj: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A copy of `obj` broken as a buggy upstream would: a garbled amount or currency, or no `created`."""
    money_field = MONEY_FIELDS.get(resource)
    kinds = [
        kind
        for kind, applies in (
            ("amount", money_field is not None and isinstance(obj.get(money_field or ""), int)),
            ("currency", "currency" in obj),
            ("created", "created" in obj),
        )
        if applies
    ]
    broken = dict(obj)
    if not kinds:
        return broken
    kind = kinds[stable_hash("corruption", seed, obj["id"]) % len(kinds)]
    if kind == "amount":
        assert money_field is not None
        amount = broken[money_field]
        # "12.50" with its last digit typed as a letter: a string where an integer is due.
        broken[money_field] = f"{amount // 100}.{amount % 100:02d}"[:-1] + "O"
    elif kind == "currency":
        broken["currency"] = "US$"
    else:
        del broken["created"]
    return broken


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        """API key → (tokens, when last refilled)."""

    def _draw(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self._lock:
            return self._random.random() < probability

    def delay(self) -> None:
        if self.faults.latency_ms > 0:
            time.sleep(self.faults.latency_ms / 1000)

    def throttle(self, api_key: str) -> float | None:
        """Seconds until `api_key` may call again, or None if this call is within its rate."""
        rate = self.faults.rate_limit_per_s
        if not rate:
            return None
        capacity = max(1.0, rate * RATE_LIMIT_BURST_S)
        with self._lock:
            now = time.monotonic()
            tokens, refilled = self._buckets.get(api_key, (capacity, now))
            tokens = min(capacity, tokens + (now - refilled) * rate)
            if tokens >= 1:
                self._buckets[api_key] = (tokens - 1, now)
                return None
            self._buckets[api_key] = (tokens, now)
            return (1 - tokens) / rate

    def server_error(self) -> int | None:
        if not self._draw(self.faults.error_rate):
            return None
        with self._lock:
            return self._random.choice(SERVER_ERROR_STATUSES)

    def truncation(self, size: int) -> int | None:
        """Where to cut a `size`-byte body, or None to send it whole."""
        if size < 2 or not self._draw(self.faults.truncate_rate):
            return None
        with self._lock:
            return self._random.randrange(1, size)
