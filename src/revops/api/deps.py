"""Request dependencies: the app's services, and the authenticated, rate-limited, scoped API key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from revops.api.auth import KeyResolver, require_scope, unauthenticated
from revops.api.cache import PageCache
from revops.api.errors import ApiError
from revops.api.keys import ApiKey, Scope
from revops.api.observability import ApiMetrics
from revops.api.ratelimit import RateLimiter
from revops.api.warehouse import WarehousePool


@dataclass
class Services:
    """What the app holds for its lifetime, on `app.state.services`."""

    pool: WarehousePool
    pages: PageCache
    keys: KeyResolver
    limiter: RateLimiter
    metrics: ApiMetrics


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rk_live_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authorized(scope: Scope) -> Callable[..., ApiKey]:
    """A dependency returning the request's key, once it is known, within its rate limit and in `scope`."""

    async def dependency(request: Request, services: ServicesDep, credentials: Credentials) -> ApiKey:
        if credentials is None:
            raise unauthenticated("api_key_missing", "no API key: send `Authorization: Bearer rk_live_…`")
        secret = credentials.credentials
        key = services.keys.cached(secret) or await run_in_threadpool(services.keys.resolve, secret)
        request.state.key_prefix = key.display_prefix
        request.state.workspace_id = key.workspace_id
        decision = services.limiter.take(key.key_id)
        request.state.rate_limit_headers = decision.headers()
        if not decision.allowed:
            raise ApiError(
                429,
                "rate_limit_error",
                "rate_limited",
                f"too many requests for this key; retry in {decision.retry_after_s}s",
                headers=decision.headers(),
            )
        require_scope(key, scope)
        return key

    return dependency
