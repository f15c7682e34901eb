"""Resolving the bearer key of a request to its `ApiKey`, with a short cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from api.errors import ApiError
from api.keys import ApiKey, Scope, find_by_secret, hash_secret
from api.warehouse import WarehousePool

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

    def resolve(self, secret: str) -> ApiKey:
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached and now - cached[1] < self.cache_s:
            key = cached[0]
        else:
            found = self.lookup(secret)
            if found is None:
                raise unauthenticated("api_key_invalid", "invalid API key")
            key = found
            with self._lock:
                self._cache[digest] = (key, now)
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
