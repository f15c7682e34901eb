"""Resolving the bearer key of a request to its `ApiKey`, with a short cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from revops.api.errors import ApiError
from revops.api.keys import ApiKey, Scope, find_by_secret, hash_secret
from revops.api.warehouse import WarehousePool

KeyLookup = Callable[[str], ApiKey | None]
"""Finds the key a secret belongs to (revoked or not)."""


def warehouse_key_lookup(pool: WarehousePool) -> KeyLookup:
    """Keys from `api.api_keys` in the warehouse the API reads."""

    def lookup(secret: str) -> ApiKey | None:
        with pool.lease() as client:
            return find_by_secret(client, secret)

    return lookup


def unauthenticated(code: str, message: str) -> ApiError:
    return ApiError(401, "authentication_error", code, message, headers={"WWW-Authenticate": "Bearer"})


class KeyResolver:
    """Resolves secrets through `lookup`; found keys (revoked ones too) are cached for `cache_s`, so a
    revocation applies within that time. Unknown keys are not cached: a new key works at once."""

    def __init__(self, lookup: KeyLookup, cache_s: float) -> None:
        self.lookup = lookup
        self.cache_s = cache_s
        self._cache: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> ApiKey | None:
        """The secret's key if it was looked up within `cache_s`, without touching the warehouse."""
        with self._lock:
            cached = self._cache.get(hash_secret(secret))
        if cached is None or time.monotonic() - cached[1] >= self.cache_s:
            return None
        return _usable(cached[0])

    def resolve(self, secret: str) -> ApiKey:
        """The secret's key, looked up in the warehouse unless cached (so it may block)."""
        if (key := self.cached(secret)) is not None:
            return key
        now = time.monotonic()
        found = self.lookup(secret)
        if found is None:
            raise unauthenticated("api_key_invalid", "invalid API key")
        with self._lock:
            self._cache[hash_secret(secret)] = (found, now)
        return _usable(found)


def _usable(key: ApiKey) -> ApiKey:
    if key.is_revoked:
        raise unauthenticated("api_key_revoked", f"the API key {key.display_prefix}… has been revoked")
    return key


def require_scope(key: ApiKey, scope: Scope) -> None:
    if scope not in key.scopes:
        raise ApiError(
            403,
            "permission_error",
            "scope_missing",
            f"this key lacks the scope {scope.value!r} (it has: "
            + (", ".join(sorted(s.value for s in key.scopes)) or "none")
            + ")",
        )
