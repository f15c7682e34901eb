"""Request dependencies: the app's services, and the authenticated, rate-limited, scoped API key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from revops.api.auth import KeyResolver, require_access, unauthenticated
from revops.api.cache import PageCache
from revops.api.errors import ApiError
from revops.api.keys import ApiKey, Scope
from revops.api.observability import ApiMetrics
from revops.api.ratelimit import ConcurrencyLimiter, RateDecision, RateLimiter
from revops.api.warehouse import WarehousePool


@dataclass
class Services:
    """What the app holds for its lifetime, on `app.state.services`."""

    pool: WarehousePool
    pages: PageCache
    keys: KeyResolver
    limiter: RateLimiter
    """Requests per key."""
    auth_failures: RateLimiter
    """Unknown, malformed or revoked keys per client address."""
    concurrency: ConcurrencyLimiter
    """Warehouse queries in flight per key."""
    metrics: ApiMetrics


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_live_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def rate_limited(message: str, decision: RateDecision) -> ApiError:
    return ApiError(
        429,
        "rate_limit_error",
        "rate_limited",
        f"{message}; retry in {decision.retry_after_s}s",
        headers=decision.headers(),
    )


def authorized(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency returning the request's key, once it is known, within its rate limit and in `scope`.

    A key not cached is looked up in the warehouse, unless its client address has presented too many
    unknown keys lately: those get 429 without a lookup, so a flood of guesses costs no warehouse time
    (a key that was valid when last seen is still looked up: clients behind the same address keep
    working)."""

    async def dependency(request: Request, services: ServicesDep, credentials: Credentials) -> ApiKey:
        if credentials is None:
            raise unauthenticated("api_key_missing", "no API key: send `Authorization: Bearer rk_live_…`")
        secret = credentials.credentials
        address = request.client.host if request.client else "unknown"
        try:
            resolved = services.keys.cached(secret)
            if resolved is None:
                failures = services.auth_failures.peek(address)
                if not failures.allowed and not services.keys.known(secret):
                    raise rate_limited("too many unknown API keys from this address", failures)
                resolved = await run_in_threadpool(services.keys.resolve, secret)
        except ApiError as error:
            if error.status == 401:
                services.auth_failures.take(address)
            raise
        key = resolved.key
        request.state.key_prefix = key.display_prefix
        request.state.workspace_id = key.workspace_id
        decision = services.limiter.take(key.key_id)
        request.state.rate_limit_headers = decision.headers()
        if not decision.allowed:
            raise rate_limited("too many requests for this key", decision)
        require_access(resolved, scope)
        return key

    return dependency
