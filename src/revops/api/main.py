"""The app factory: `uvicorn --factory revops.api.main:create_app`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from revops.api.auth import KeyLookup, KeyResolver, warehouse_key_lookup, warehouse_test_mode_lookup
from revops.api.cache import PageCache
from revops.api.deps import Services
from revops.api.errors import http_error_response, install_error_handlers
from revops.api.observability import (
    ApiMetrics,
    ObservabilityMiddleware,
    configure_logging,
    redact_server_access_log,
)
from revops.api.queries import IntervalEndpoint, MartEndpoint
from revops.api.ratelimit import ConcurrencyLimiter, RateLimiter
from revops.api.routes import INTERVAL_ENDPOINTS, MART_ENDPOINTS, health
from revops.api.routes.intervals import interval_router
from revops.api.routes.marts import mart_router
from revops.api.warehouse import WarehousePool
from revops.core.settings import Settings, get_settings

DESCRIPTION = """
Read-only access to one workspace's revops marts: the ledger, reconciliation, MRR, payment recovery,
usage, and the sync status of its provider connections.

**Authentication**: `Authorization: Bearer rk_live_…`. A key belongs to one workspace and reads only
its rows; each endpoint needs a scope (`ledger:read`, `recovery:read`, `usage:read`, `metrics:read`,
`connections:read`).
Test keys (`rk_test_…`) read test-mode workspaces only. Create keys with `revops api-keys create`.

**Pagination**: lists are ordered by a stable key. Pass a page's `next_cursor` as `cursor` (with the
same filters) for the next one; `limit` is at most 500.

**Errors** are `{"error": {"type", "code", "message", "param"}}` with status 400, 401, 403, 404, 429
or 503 (with `Retry-After`). Every response carries `X-Request-Id`; keyed responses carry
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`, and a 429 `Retry-After`.

**Staleness**: every data response carries `X-Data-As-Of` (the oldest last successful sync of the
providers the mart reads, RFC 3339 UTC) and `X-Data-Stale` (`true` when one of them failed its latest
sync or last synced before the build's day; `X-Data-Stale-Providers` names them): one workspace's
failing source leaves its rows older than the others'.
"""

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI (Apache-2.0) and ReDoc (MIT) bundles, shipped by the fastapi-offline package (MIT)."""
DOCS_ASSETS_URL = "/docs/assets"


def create_app(
    settings: Settings | None = None,
    endpoints: Sequence[MartEndpoint] = MART_ENDPOINTS,
    key_lookup: KeyLookup | None = None,
    interval_endpoints: Sequence[IntervalEndpoint] = INTERVAL_ENDPOINTS,
) -> FastAPI:
    """The API over `endpoints` (lists) and `interval_endpoints` (totals per interval); keys come from
    the warehouse unless `key_lookup` finds them."""
    settings = settings or get_settings()
    configure_logging()
    redact_server_access_log()
    pool = WarehousePool.from_settings(settings)
    metrics = ApiMetrics()
    services = Services(
        pool=pool,
        pages=PageCache(settings.api_page_cache_bytes),
        keys=KeyResolver(
            key_lookup or warehouse_key_lookup(pool),
            settings.api_key_cache_s,
            warehouse_test_mode_lookup(pool),
        ),
        limiter=RateLimiter(settings.api_rate_limit_per_minute),
        auth_failures=RateLimiter(settings.api_auth_failures_per_minute),
        concurrency=ConcurrencyLimiter(min(settings.api_key_max_concurrent, settings.api_pool_size)),
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
        docs_url=None,
        redoc_url=None,
        # Starlette's redirect would build its Location from the request's Host header.
        redirect_slashes=False,
    )
    app.state.services = services
    install_error_handlers(app)
    install_trailing_slash_redirects(app, settings.api_public_url)
    app.include_router(health.router)
    app.include_router(mart_router(endpoints))
    app.include_router(interval_router(tuple(interval_endpoints)))
    install_offline_docs(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document without the 422 responses it adds to every operation with parameters: this
    API answers a bad parameter with a 400 (`errors.py`), never a 422."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema


def install_offline_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` from assets the API serves itself: no CDN, so they work offline
    and behind a firewall (FastAPI's self-hosting recipe)."""
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            # Swagger UI would otherwise load a badge from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )


def install_trailing_slash_redirects(app: FastAPI, public_url: str | None) -> None:
    """A path that exists with (or without) a trailing slash redirects there. The Location is built
    from `api_public_url`, or is relative without one: never from the request's Host header, which a
    client (or a cache in front of the API) could set to anything."""

    @app.exception_handler(404)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.scope["path"]
        if path != "/":
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            scope = {**request.scope, "path": other}
            if any(route.matches(scope)[0] is not Match.NONE for route in app.router.routes):
                query = request.scope.get("query_string", b"").decode("latin-1")
                base = (public_url or "").rstrip("/") + request.scope.get("root_path", "")
                return RedirectResponse(base + other + (f"?{query}" if query else ""), status_code=307)
        return http_error_response(exc)
