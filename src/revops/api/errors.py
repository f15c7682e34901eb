"""Every error the API returns has one shape: `{"error": {"type", "code", "message", "param"}}`."""

from __future__ import annotations

import logging
from typing import Any, Literal

from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from revops.core.warehouse import WarehouseBusyError, WarehouseError

logger = logging.getLogger("revops.api")

ErrorType = Literal[
    "invalid_request_error", "authentication_error", "permission_error", "rate_limit_error", "api_error"
]


class ErrorBody(BaseModel):
    type: ErrorType
    code: str
    message: str
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


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
        (400, "A parameter is missing, unknown or invalid (`param` names it)."),
        (401, "No API key, or an unknown or revoked one."),
        (403, "The key lacks the scope this endpoint needs."),
        (429, "Too many requests for this key; retry after `Retry-After` seconds."),
        (503, "The warehouse is busy (a pipeline run holds it) or unreachable; retry shortly."),
    )
}

_HTTP_CODES = {404: "resource_missing", 405: "method_not_allowed"}


def _validation_error(exc: RequestValidationError) -> ApiError:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    param = location[-1] if len(location) > 1 else None
    if first.get("type") == "extra_forbidden":
        return ApiError(
            400, "invalid_request_error", "parameter_unknown", f"unknown parameter {param!r}", param
        )
    message = first.get("msg", "invalid value")
    given = first.get("input")
    if param is not None and isinstance(given, str | int | float):
        message = f"invalid {param} {str(given)[:100]!r}: {message}"
    return invalid_parameter(param or "", message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        type_: ErrorType = "invalid_request_error" if exc.status_code < 500 else "api_error"
        message = "no such endpoint: see /docs" if exc.status_code == 404 else str(exc.detail)
        return error_response(ApiError(exc.status_code, type_, code, message, headers=exc.headers))

    @app.exception_handler(DatabaseError)
    async def database_error(request: Request, exc: DatabaseError) -> JSONResponse:
        # A deployment whose pipeline has not built this mart yet; anything else is a bug (500).
        if not any(code in str(exc) for code in ("UNKNOWN_TABLE", "UNKNOWN_DATABASE")):
            raise exc
        return error_response(
            ApiError(
                503,
                "api_error",
                "mart_not_built",
                "this data has not been built yet: run the pipeline first",
                headers={"Retry-After": "60"},
            )
        )

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
