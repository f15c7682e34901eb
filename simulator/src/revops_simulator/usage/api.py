"""The product-usage event feed: `GET /usage/v1/events`, CloudEvents in delivery order, cursor-paginated.

A delivery log, as event collectors expose one: every delivery that has arrived, in arrival order,
duplicates included (the same event id delivered twice). The cursor names the last delivery a client
has seen, so it never goes stale: deliveries arriving later always sort after it.

    GET /usage/v1/events?after=<cursor>&limit=500
    Authorization: Bearer usg_...
    → {"object": "list", "data": [<CloudEvent>...], "has_more": false, "next_cursor": "..."}
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Protocol

import polars as pl

from revops_simulator.faults import Faults
from revops_simulator.provider import ApiRequest, ApiResponse, Caller
from revops_simulator.usage.log import UsageLog

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
EVENTS_PATH = "/v1/events"


class UsageSources(Protocol):
    def usage_log(self, workspace_id: str) -> UsageLog: ...

    def workspace_for_usage_key(self, api_key: str) -> str | None: ...


def cloudevent_json() -> pl.Expr:
    """Each delivery as a CloudEvents JSON object (structured mode), `data` inline as JSON."""

    def field(name: str, value: pl.Expr, first: bool = False) -> list[pl.Expr]:
        return [pl.lit(("{" if first else ",") + f'"{name}":"'), value, pl.lit('"')]

    time = pl.from_epoch("time_ms", time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    return pl.concat_str(
        [
            *field("specversion", pl.lit("1.0"), first=True),
            *field("id", pl.col("id")),
            *field("source", pl.col("source")),
            *field("type", pl.col("type")),
            *field("subject", pl.col("subject")),
            *field("time", time),
            *field("datacontenttype", pl.lit("application/json")),
            pl.lit(',"data":'),
            pl.col("data"),
            pl.lit("}"),
        ]
    )


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def _encode_cursor(arrival_ms: int, event_id: str, delivery: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([arrival_ms, event_id, delivery]).encode()).decode()


def _decode_cursor(value: str) -> tuple[int, str, int]:
    try:
        arrival_ms, event_id, delivery = json.loads(base64.urlsafe_b64decode(value.encode()))
        if not (isinstance(arrival_ms, int) and isinstance(event_id, str) and isinstance(delivery, int)):
            raise ValueError(value)
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ApiError(400, "invalid_parameter", "after is not a cursor this feed returned", "after") from exc
    return arrival_ms, event_id, delivery


class UsageApi:
    prefix = "/usage"

    def __init__(self, sources: UsageSources) -> None:
        self.sources = sources

    def route(self, request: ApiRequest) -> str:
        return f"{request.method} {request.path}"

    def authenticate(self, request: ApiRequest) -> Caller | ApiResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        workspace_id = self.sources.workspace_for_usage_key(token) if scheme.lower() == "bearer" else None
        if workspace_id is None:
            return self._error(ApiError(401, "unauthenticated", "a valid Bearer API key is required"))
        return Caller(workspace_id, token)

    def handle(self, request: ApiRequest, caller: Caller, faults: Faults) -> ApiResponse:
        try:
            if request.method != "GET" or request.path != EVENTS_PATH:
                raise ApiError(404, "not_found", f"no endpoint {request.method} {request.path}")
            return self._events(request, caller.workspace_id)
        except ApiError as exc:
            return self._error(exc)

    def _events(self, request: ApiRequest, workspace_id: str) -> ApiResponse:
        params = dict(request.query)
        unknown = sorted(set(params) - {"after", "limit"})
        if unknown:
            raise ApiError(400, "invalid_parameter", f"unknown parameter {unknown[0]}", unknown[0])
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(
                400, "invalid_parameter", f"limit must be an integer from 1 to {MAX_LIMIT}", "limit"
            )
        deliveries = self.sources.usage_log(workspace_id).deliveries
        if params.get("after"):
            arrival, event_id, delivery = _decode_cursor(params["after"])
            arrival_col, id_col = pl.col("arrival_ms"), pl.col("id")
            later = (arrival_col > arrival) | (
                (arrival_col == arrival)
                & ((id_col > event_id) | ((id_col == event_id) & (pl.col("delivery") > delivery)))
            )
            deliveries = deliveries.filter(later)
        page = deliveries.head(limit)
        if page.height:
            last = page.row(page.height - 1, named=True)
            next_cursor = _encode_cursor(last["arrival_ms"], last["id"], last["delivery"])
        else:
            next_cursor = params.get("after", "")
        events = ",".join(page.select(cloudevent_json()).to_series().to_list())
        body = (
            f'{{"object":"list","data":[{events}],"has_more":{json.dumps(deliveries.height > limit)},'
            f'"next_cursor":{json.dumps(next_cursor)}}}'
        )
        return ApiResponse(200, body.encode(), served=("usage_events", page.height))

    def rate_limited(self, retry_after: float) -> ApiResponse:
        return ApiResponse(
            429,
            {"error": {"code": "rate_limited", "message": "too many requests"}},
            headers={"Retry-After": f"{retry_after:.0f}"},
        )

    def server_error(self, status: int) -> ApiResponse:
        return ApiResponse(status, {"error": {"code": "server_error", "message": "internal error"}})

    @staticmethod
    def _error(exc: ApiError) -> ApiResponse:
        error = {"code": exc.code, "message": str(exc)}
        if exc.param is not None:
            error["param"] = exc.param
        return ApiResponse(exc.status, {"error": error})
