"""Every error the API returns has one shape: `{"error": {"type", "code", "message", "param"}}`."""

from __future__ import annotations

import logging
from typing import Any, Literal

from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from revops.core.warehouse import WarehouseBusyError, WarehouseError

logger = logging.getLogger("revops.api")

ErrorType = Literal[
    "invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "api_error"
]


class ErrorBody(BaseModel):
    type: ErrorType = Field(description="The kind of error; `api_error` is the API's side, the others yours.")
    code: str = Field(description="A stable code for the error (`parameter_invalid`, `rate_limited`, …).")
    message: str = Field(description="What went wrong, for people.")
    param: str | None = Field(None, description="The query parameter at fault, if one is.")


class ErrorResponse(BaseModel):
    error: ErrorBody = Field(description="The error.")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        type_: ErrorType,
        code: str,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(type=type_, code=code, message=message, param=param)
        self.headers = headers or {}


def invalid_parameter(param: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", "parameter_invalid", message, param)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        ErrorResponse(error=error.body).model_dump(mode="json"),
        status_code=error.status,
        headers=error.headers,
    )


# Documented on every /v1 route, so clients (and the fuzzer) know the shape of each status.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (
            400,
            "A parameter is missing, unknown, repeated or invalid (`param` names it; a closed set's "
            "message lists its values).",
        ),
        (401, "No API key, or an unknown or revoked one."),
        (403, "The key lacks the scope this endpoint needs, or is a test key for a live workspace."),
        (
            429,
            "Too many requests for this key, too many of its queries at once, or too many unknown "
            "keys from this address; retry after `Retry-After` seconds.",
        ),
        (
            503,
            "The warehouse is busy (a pipeline run holds it), too loaded to answer in time, "
            "unreachable, or the data is not built yet; retry after `Retry-After` seconds.",
        ),
    )
}

_HTTP_CODES = {404: "resource_missing", 405: "method_not_allowed"}

# ClickHouse errors that say "not now" rather than "wrong": (error names, code, message, Retry-After s).
_RETRYABLE: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (
        ("UNKNOWN_TABLE", "UNKNOWN_DATABASE"),
        "mart_not_built",
        "this data has not been built yet: run the pipeline first",
        "60",
    ),
    (
        ("TIMEOUT_EXCEEDED", "TOO_SLOW"),
        "query_timeout",
        "the warehouse did not answer in time; retry shortly",
        "2",
    ),
    (
        ("TOO_MANY_SIMULTANEOUS_QUERIES", "MEMORY_LIMIT_EXCEEDED", "QUERY_WAS_CANCELLED"),
        "warehouse_overloaded",
        "the warehouse is overloaded; retry shortly",
        "2",
    ),
    (
        ("NETWORK_ERROR", "SOCKET_TIMEOUT", "Connection refused", "Read timed out", "Connection reset"),
        "warehouse_unavailable",
        "the warehouse cannot be reached",
        "5",
    ),
)


def _validation_error(exc: RequestValidationError) -> ApiError:
    first = exc.errors()[0]
    # ("query", "status") or, for one of several values, ("query", "status", 1)
    location = [str(part) for part in first.get("loc", ())]
    param = location[1] if len(location) > 1 else None
    if first.get("type") == "extra_forbidden":
        return ApiError(
            400, "invalid_request_error", "parameter_unknown", f"unknown parameter {param!r}", param
        )
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "literal_error":  # a closed set: say which values it has
        message = "must be one of " + str(first.get("ctx", {}).get("expected", "")).replace("'", "")
    given = first.get("input")
    if param is not None and isinstance(given, str | int | float):
        message = f"invalid {param} {str(given)[:100]!r}: {message}"
    return invalid_parameter(param or "", message)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (no such path, method not allowed) in the API's error shape."""
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    type_: ErrorType = "invalid_request_error" if exc.status_code < 500 else "api_error"
    message = "no such endpoint: see /docs" if exc.status_code == 404 else str(exc.detail)
    return error_response(ApiError(exc.status_code, type_, code, message, headers=exc.headers))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(exc)

    @app.exception_handler(DatabaseError)
    async def database_error(request: Request, exc: DatabaseError) -> JSONResponse:
        # A mart not built yet, or a warehouse too loaded to answer in time: retry later, not a 500.
        # Anything else is a bug (500), logged by its error name only (the text may quote the query).
        text = str(exc)
        for names, code, message, retry_after in _RETRYABLE:
            if any(f"({name})" in text or f" {name}" in text for name in names):
                logger.warning("warehouse: %s (%s)", code, type(exc).__name__)
                return error_response(
                    ApiError(503, "api_error", code, message, headers={"Retry-After": retry_after})
                )
        raise exc

    @app.exception_handler(WarehouseError)
    async def warehouse_error(request: Request, exc: WarehouseError) -> JSONResponse:
        busy = isinstance(exc, WarehouseBusyError)
        logger.warning("warehouse %s: %s", "busy" if busy else "unavailable", exc)
        return error_response(
            ApiError(
                503,
                "api_error",
                "warehouse_busy" if busy else "warehouse_unavailable",
                "the warehouse is busy; retry shortly" if busy else "the warehouse cannot be reached",
                headers={"Retry-After": "5"},
            )
        )
