"""Turns each declared `MartEndpoint` into a GET route: its query model, its page model, its handler.

Nothing here is specific to one mart: auth, scope, rate limit, validation, tenancy (`page_query`) and
pagination apply to every endpoint the same way.
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, create_model

from revops.api.cache import RenderedPage
from revops.api.deps import ServicesDep, authorized
from revops.api.errors import ERROR_RESPONSES, invalid_parameter
from revops.api.keys import ApiKey
from revops.api.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MartEndpoint,
    PageRequest,
    Variants,
    fetch_page,
    page_query,
)


def _query_model(endpoint: MartEndpoint) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "limit": (
            int,
            Field(
                DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description=f"Rows per page (≤ {MAX_PAGE_SIZE})."
            ),
        ),
        "cursor": (
            str | None,
            Field(
                None, max_length=2048, description="`next_cursor` of the previous page; omit for the first."
            ),
        ),
    }
    if endpoint.variants is not None:
        values = tuple(option.value for option in endpoint.variants.options)
        fields[endpoint.variants.param] = (
            Literal[values],  # type: ignore[valid-type]
            Field(endpoint.variants.default, description=endpoint.variants.description),
        )
    for spec in endpoint.filters:
        description = spec.description
        if spec.param in endpoint.closed_sets:
            description += " Repeat the parameter for several values (`?p=a&p=b`)."
        if spec.param in endpoint.required:
            fields[spec.param] = (endpoint.request_type(spec), Field(description=description))
        else:
            fields[spec.param] = (endpoint.request_type(spec) | None, Field(None, description=description))
    return create_model(f"{endpoint.row.__name__}Query", __config__=ConfigDict(extra="forbid"), **fields)


def single_valued(known: set[str], multiple: set[str]) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a parameter of `known` given twice unless it is one of `multiple` (takes
    several values): otherwise only one of them would count, silently."""

    async def dependency(request: Request) -> None:
        counts = Counter(name for name, _ in request.query_params.multi_items())
        for name, count in counts.items():
            if count > 1 and name in known and name not in multiple:
                raise invalid_parameter(name, f"{name} was given {count} times; it takes one value")

    return dependency


def _single_valued(endpoint: MartEndpoint) -> Callable[[Request], Awaitable[None]]:
    known = {"limit", "cursor", *(f.param for f in endpoint.filters)}
    if endpoint.variants is not None:
        known.add(endpoint.variants.param)
    return single_valued(known, set(endpoint.closed_sets))


def _page_model(endpoint: MartEndpoint) -> type[BaseModel]:
    return create_model(
        f"{endpoint.row.__name__}Page",
        object=(Literal["list"], Field("list", description="Always `list`: a page of rows.")),
        data=(list[endpoint.row], Field(description="The page's rows, in the endpoint's order.")),
        has_more=(bool, Field(description="Whether another page follows.")),
        next_cursor=(str | None, Field(description="Pass as `cursor` for the next page; null on the last.")),
    )


def _variants_extension(variants: Variants) -> dict[str, Any]:
    return {
        "param": variants.param,
        "window_column": variants.window_column,
        "tables": {option.value: option.table for option in variants.options},
    }


FRESHNESS_HEADERS = {
    "X-Data-As-Of": {
        "description": "How current the workspace's data in this mart is (RFC 3339, UTC): the oldest last "
        "successful sync among the providers the mart reads. Absent when none of them is connected for "
        "the workspace.",
        "schema": {"type": "string", "format": "date-time"},
    },
    "X-Data-Stale": {
        "description": "`true` when a provider the mart reads failed its latest sync for the workspace, "
        "never synced, or last synced a day before the build: the rows are older than the other "
        "workspaces'.",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "X-Data-Stale-Providers": {
        "description": "When stale, the providers that make it so, comma-separated (`stripe,plaid`); see "
        "`/v1/connections` for their errors.",
        "schema": {"type": "string"},
    },
}
"""The headers on every data response (marts.dim_data_freshness, read with the page)."""


def _add_route(router: APIRouter, endpoint: MartEndpoint) -> None:
    QueryModel = _query_model(endpoint)
    PageModel = _page_model(endpoint)
    variant_param = endpoint.variants.param if endpoint.variants else None
    single_valued = _single_valued(endpoint)

    # Async, so a cached page is answered on the event loop; only a warehouse read goes to a thread.
    async def list_rows(
        request: Request,
        params: Annotated[QueryModel, Query()],  # type: ignore[valid-type]
        key: Annotated[ApiKey, Depends(authorized(endpoint.scope))],
        services: ServicesDep,
        _: Annotated[None, Depends(single_valued)],
    ) -> Response:
        filters = params.model_dump(exclude={"limit", "cursor", variant_param}, exclude_none=True)
        variant = getattr(params, variant_param) if variant_param else None
        wanted = PageRequest(filters, params.limit, params.cursor, variant)
        query = page_query(endpoint, key.workspace_id, wanted)
        rendered = services.pages.get(services.pool.session_generation, query.cache_key)
        if rendered is not None:
            services.pool.mark_used()
        else:
            # The freshness of (workspace, mart) is cached like a page: exact for the warehouse session.
            freshness_key = ("freshness", query.workspace_id, query.table)
            generation = services.pool.session_generation
            known = services.pages.get(generation, freshness_key)
            with services.concurrency.slot(key.key_id):
                page = await run_in_threadpool(
                    fetch_page, services.pool, endpoint, wanted, query, generation if known else None
                )
            # Validated against the response model and serialized by pydantic in one pass (FastAPI's
            # own path converts to JSON-able objects first, at several times the cost per page).
            body = PageModel(data=page.rows, has_more=page.has_more, next_cursor=page.next_cursor)
            if page.freshness is not None:
                known = RenderedPage(b"", 0, tuple(page.freshness.headers().items()))
                services.pages.put(page.session, freshness_key, known)
            headers = known.headers if known is not None else ()
            rendered = RenderedPage(body.model_dump_json().encode(), len(page.rows), headers)
            services.pages.put(page.session, query.cache_key, rendered)
        request.state.rows = rendered.rows
        return Response(rendered.body, media_type="application/json", headers=dict(rendered.headers))

    router.add_api_route(
        endpoint.path,
        list_rows,
        methods=["GET"],
        response_model=PageModel,
        summary=endpoint.summary,
        description=endpoint.description or None,
        responses={200: {"headers": FRESHNESS_HEADERS}, **ERROR_RESPONSES},
        tags=[endpoint.path.strip("/").split("/")[0]],
        operation_id="list_" + endpoint.path.strip("/").replace("/", "_").replace("-", "_"),
        openapi_extra={
            "x-revops-mart": {
                "table": endpoint.table,
                "scope": endpoint.scope.value,
                "order_by": [key.expression for key in endpoint.keys],
                "filters": {spec.param: {"column": spec.column, "op": spec.op} for spec in endpoint.filters},
                **({"variants": _variants_extension(endpoint.variants)} if endpoint.variants else {}),
            }
        },
    )


def mart_router(endpoints: Sequence[MartEndpoint]) -> APIRouter:
    router = APIRouter(prefix="/v1")
    for endpoint in endpoints:
        _add_route(router, endpoint)
    return router
