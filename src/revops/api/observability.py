"""Request ids, structured access logs and Prometheus metrics, for every request in one middleware.

Access log lines are JSON on the `revops.api.access` logger. They name the key by its display
prefix and list the query parameters by name only: no secret or filter value is ever logged. The
server's own access log (uvicorn's `uvicorn.access`, on by default in its command line) gets the
same treatment: its request lines keep the parameters' names and lose their values.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revops.api.errors import ApiError, error_response

access_log = logging.getLogger("revops.api.access")
logger = logging.getLogger("revops.api")

REQUEST_ID_HEADER = "X-Request-Id"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def configure_logging() -> None:
    """Under a server that configures no logging (uvicorn configures only its own loggers), write the
    API's logs to stderr: access lines as they are (one JSON object each). A host application that
    configures logging itself (root handlers) keeps control."""
    api_logger = logging.getLogger("revops.api")
    if logging.getLogger().handlers or api_logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    api_logger.addHandler(handler)
    api_logger.setLevel(logging.INFO)


REDACTED = "…"
SERVER_ACCESS_LOGGER = "uvicorn.access"


def redact_query(query: str) -> str:
    """A query string with every value replaced (`api_key=…&currency=…`): names tell what a request
    asked for; values may be secrets (a key sent as `?api_key=`) or customer data (ids, filters)."""
    return "&".join(f"{part.split('=', 1)[0]}={REDACTED}" if part else part for part in query.split("&"))


class RedactedRequestLine(logging.Filter):
    """Removes query-string values from uvicorn's access records (`client - "GET /path?q HTTP/1.1" 200`,
    the path being the third argument), whichever formatter or handler writes them later."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            record.args = (args[0], args[1], f"{path}?{redact_query(query)}", args[3], args[4])
        return True


def redact_server_access_log() -> None:
    """Install `RedactedRequestLine` on uvicorn's access logger (once), so the documented
    `uvicorn --factory revops.api.main:create_app …` never writes a query value."""
    server_log = logging.getLogger(SERVER_ACCESS_LOGGER)
    if not any(isinstance(f, RedactedRequestLine) for f in server_log.filters):
        server_log.addFilter(RedactedRequestLine())


class ApiMetrics:
    """The API's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "revops_api_requests",
            "API requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "revops_api_request_duration_seconds",
            "API request latency by route template.",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.rows = Counter(
            "revops_api_rows_returned", "Rows returned by route template.", ["route"], registry=self.registry
        )


def request_state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = next((v.decode() for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _CLIENT_REQUEST_ID.match(incoming) else "req_" + secrets.token_hex(12)
        state = request_state(scope)
        state["request_id"] = request_id
        response: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in state.get("rate_limit_headers", {}).items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if isinstance(exc, DatabaseError):
                # Its text may quote the query's values; the ClickHouse error name tells the cause.
                name = next(iter(re.findall(r"\(([A-Z_]+)\)", str(exc))), "unknown")
                logger.error("unhandled %s %s (request %s)", type(exc).__name__, name, request_id)
            else:
                logger.exception("unhandled error (request %s)", request_id)
            if response["started"]:
                raise
            failure = error_response(ApiError(500, "api_error", "internal_error", "internal error"))
            await failure(scope, receive, send_with_headers)
        finally:
            self._record(scope, state, request_id, response["status"], time.perf_counter() - started)

    def _record(
        self, scope: Scope, state: dict[str, Any], request_id: str, status: int, seconds: float
    ) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        self.metrics.requests.labels(route, scope["method"], str(status)).inc()
        self.metrics.latency.labels(route).observe(seconds)
        if "rows" in state:
            self.metrics.rows.labels(route).inc(state["rows"])
        query = scope.get("query_string", b"").decode(errors="replace")
        access_log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "params": sorted({part.split("=", 1)[0] for part in query.split("&") if part}),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "key": state.get("key_prefix"),
                    "workspace_id": state.get("workspace_id"),
                    "rows": state.get("rows"),
                },
                separators=(",", ":"),
            )
        )
