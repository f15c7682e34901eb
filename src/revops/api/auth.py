"""Resolving the bearer key of a request to its `ApiKey`, with a short cache, and what the key may read.

Test keys (`rk_test_…`) read test-mode workspaces only, as Stripe's test keys see test-mode data only:
a test key is the one pasted into CI, examples and laptops, so it must not open real accounts. A
workspace is test mode when the provider says so: every Stripe object it holds has `livemode` false
(`marts.dim_workspace_modes`); a workspace with live Stripe data, or none known, is read with live keys.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from revops.api.errors import ApiError
from revops.api.keys import ApiKey, Scope, find_by_secret, hash_secret, looks_like_key
from revops.api.warehouse import WarehousePool

KeyLookup = Callable[[str], ApiKey | None]
"""Finds the key a secret belongs to (revoked or not)."""
TestModeLookup = Callable[[str], bool]
"""Whether a workspace's data is known to be test mode only (so test keys may read it)."""

WORKSPACE_MODES_TABLE = "marts.dim_workspace_modes"
MAX_UNKNOWN_SECRETS = 10_000
"""Unknown secrets remembered (least recently seen dropped first), so a flood costs no lookups."""


def warehouse_key_lookup(pool: WarehousePool) -> KeyLookup:
    """Keys from `api.api_keys` in the warehouse the API reads; a malformed secret costs no query."""

    def lookup(secret: str) -> ApiKey | None:
        if not looks_like_key(secret):
            return None
        with pool.lease() as client:
            return find_by_secret(client, secret)

    return lookup


def warehouse_test_mode_lookup(pool: WarehousePool) -> TestModeLookup:
    def is_test_mode(workspace_id: str) -> bool:
        with pool.lease() as client:
            if not client.command(f"EXISTS TABLE {WORKSPACE_MODES_TABLE}"):
                return False
            rows = client.query(
                f"SELECT is_livemode FROM {WORKSPACE_MODES_TABLE} WHERE workspace_id = {{ws:String}}",
                parameters={"ws": workspace_id},
            ).result_rows
        return bool(rows) and rows[0][0] is False

    return is_test_mode


def unauthenticated(code: str, message: str) -> ApiError:
    return ApiError(401, "authentication_error", code, message, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class ResolvedKey:
    key: ApiKey
    reads_workspace: bool
    """False for a test key whose workspace is not known to be test mode."""


class KeyResolver:
    """Resolves secrets through `lookup`; found keys (revoked ones too) are cached for `cache_s`, so a
    revocation applies within that time. Unknown secrets are remembered for `cache_s` as well, so
    presenting one again costs no lookup; a new key still works at once, since its secret is random and
    was never presented before it existed."""

    def __init__(self, lookup: KeyLookup, cache_s: float, test_mode: TestModeLookup) -> None:
        self.lookup = lookup
        self.test_mode = test_mode
        self.cache_s = cache_s
        self._cache: dict[str, tuple[ResolvedKey, float]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, secret: str) -> ResolvedKey | None:
        """The secret's key if it was looked up within `cache_s`, without touching the warehouse; 401 if
        it was unknown then."""
        digest = hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
            unknown_since = self._unknown.get(digest)
        if unknown_since is not None and now - unknown_since < self.cache_s:
            raise unauthenticated("api_key_invalid", "invalid API key")
        if cached is None or now - cached[1] >= self.cache_s:
            return None
        return _usable(cached[0])

    def known(self, secret: str) -> bool:
        """Whether the secret was a key when last looked up (however long ago): re-checking it is one
        lookup per `cache_s` per real key, which no client can multiply."""
        with self._lock:
            return hash_secret(secret) in self._cache

    def resolve(self, secret: str) -> ResolvedKey:
        """The secret's key, looked up in the warehouse unless cached (so it may block)."""
        if (resolved := self.cached(secret)) is not None:
            return resolved
        now = time.monotonic()
        digest = hash_secret(secret)
        found = self.lookup(secret)
        if found is None:
            with self._lock:
                self._unknown[digest] = now
                self._unknown.move_to_end(digest)
                while len(self._unknown) > MAX_UNKNOWN_SECRETS:
                    self._unknown.popitem(last=False)
            raise unauthenticated("api_key_invalid", "invalid API key")
        resolved = ResolvedKey(found, found.mode == "live" or self.test_mode(found.workspace_id))
        with self._lock:
            self._cache[digest] = (resolved, now)
        return _usable(resolved)


def _usable(resolved: ResolvedKey) -> ResolvedKey:
    if resolved.key.is_revoked:
        raise unauthenticated(
            "api_key_revoked", f"the API key {resolved.key.display_prefix}… has been revoked"
        )
    return resolved


def require_access(resolved: ResolvedKey, scope: Scope) -> None:
    key = resolved.key
    if scope not in key.scopes:
        raise ApiError(
            403,
            "permission_error",
            "scope_missing",
            f"this key lacks the scope {scope.value!r} (it has: "
            + (", ".join(sorted(s.value for s in key.scopes)) or "none")
            + ")",
        )
    if not resolved.reads_workspace:
        raise ApiError(
            403,
            "permission_error",
            "test_key_for_live_workspace",
            f"test keys (rk_test_…) read test-mode workspaces only, and {key.workspace_id!r} holds live "
            "data (or none known to be test mode): use an rk_live_ key",
        )
