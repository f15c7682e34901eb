"""The app factory: `uvicorn --factory revops.api.main:create_app`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from revops.api.auth import KeyLookup, KeyResolver, warehouse_key_lookup
from revops.api.cache import PageCache
from revops.api.deps import Services
from revops.api.errors import install_error_handlers
from revops.api.observability import ApiMetrics, ObservabilityMiddleware, configure_logging
from revops.api.queries import MartEndpoint
from revops.api.ratelimit import RateLimiter
from revops.api.routes import MART_ENDPOINTS, health
from revops.api.routes.marts import mart_router
from revops.api.warehouse import WarehousePool
from revops.core.settings import Settings, get_settings

DESCRIPTION = """
Read-only access to one workspace's revops marts: the ledger, reconciliation, MRR, payment recovery
and usage.

**Authentication**: `Authorization: Bearer rk_live_…`. A key belongs to one workspace and reads only
its rows; each endpoint needs a scope (`ledger:read`, `recovery:read`, `usage:read`, `metrics:read`).
Create keys with `revops api-keys create`.

**Pagination**: lists are ordered by a stable key. Pass a page's `next_cursor` as `cursor` (with the
same filters) for the next one; `limit` is at most 500.

**Errors** are `{"error": {"type", "code", "message", "param"}}` with status 400, 401, 403, 404, 429
or 503. Every response carries `X-Request-Id`; keyed responses carry `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset`, and a 429 `Retry-After`.
"""


def create_app(
    settings: Settings | None = None,
    endpoints: Sequence[MartEndpoint] = MART_ENDPOINTS,
    key_lookup: KeyLookup | None = None,
) -> FastAPI:
    """The API over `endpoints`; keys come from the warehouse unless `key_lookup` finds them."""
    settings = settings or get_settings()
    configure_logging()
    pool = WarehousePool.from_settings(settings)
    metrics = ApiMetrics()
    services = Services(
        pool=pool,
        pages=PageCache(settings.api_page_cache_bytes),
        keys=KeyResolver(key_lookup or warehouse_key_lookup(pool), settings.api_key_cache_s),
        limiter=RateLimiter(settings.api_rate_limit_per_minute),
        metrics=metrics,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What exists at startup (modules, the app, its models) lives as long as the process: keep it
        # out of the garbage collector's full passes, which otherwise stall every request in flight.
        gc.freeze()
        yield
        pool.close()

    app = FastAPI(
        title="revops API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(mart_router(endpoints))
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app
