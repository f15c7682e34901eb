"""Turns each declared `IntervalEndpoint` into a GET route answering totals per interval, the way
ChartMogul's metrics API does (`entries`, one per interval with its `date`, and a `summary`).

The entry model is built from the marts' dbt contracts (types and descriptions), as `mart_row` builds
list rows; the rule each kind of figure follows per interval is stated once, in `KIND_RULES`.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, create_model

from revops.api.cache import RenderedPage
from revops.api.deps import ServicesDep, authorized
from revops.api.errors import ERROR_RESPONSES
from revops.api.keys import ApiKey
from revops.api.queries import (
    INTERVALS,
    IntervalEndpoint,
    IntervalRequest,
    MetricKind,
    fetch_entries,
    interval_query,
    request_type,
)
from revops.api.routes.marts import FRESHNESS_HEADERS, single_valued
from revops.api.schemas import python_type
from revops.core.dbt_models import DbtProjectError, dbt_model

KIND_RULES: dict[MetricKind, str] = {
    "stock": "Per interval: the value at the end of the entry's `date` (the interval's last day).",
    "flow": "Per interval: over the whole interval (a month: the month mart's month; a week: the sum "
    "of its days, so a customer who churns twice in a week counts twice).",
    "rate": "Per interval: `interval=month`, the calendar month's (fct_saas_metrics_monthly); `day` "
    "and `week`, over the trailing 30 days to the entry's `date` (fct_saas_metrics_daily).",
}
WEEK_RATIO_RULE = (
    "Per interval: a month's and a day's from their marts; a week's recomputed from the week's summed "
    "numerator and denominator, rounded the same way."
)
SUMMARY_METRICS = ("mrr", "arr", "paying_customers", "arpa")
"""The levels the summary compares between the range's first and last entries."""


class SummaryFigure(BaseModel):
    current: int | None = Field(description="The value at the last entry's `date`.")
    previous: int | None = Field(description="The value at the first entry's `date`.")
    percentage_change: float | None = Field(
        description="(current - previous) / previous * 100; null when previous is null or zero."
    )


def _entry_model(endpoint: IntervalEndpoint) -> type[BaseModel]:
    month = dbt_model(endpoint.month_table)
    if not month.contract_enforced:
        raise DbtProjectError(f"{endpoint.month_table}: the API serves models with an enforced contract only")

    def described(name: str, rule: str = "") -> Any:
        column = month.column(name)
        if column.data_type is None or not column.description:
            raise DbtProjectError(f"{endpoint.month_table}: {name!r} needs a data_type and a description")
        return (python_type(column.data_type), Field(description=f"{column.description} {rule}".strip()))

    fields: dict[str, Any] = {
        "interval_start": (date, Field(description="The interval's first day.")),
        "date": (
            date,
            Field(
                description="The interval's last day, or the as-of day for the current interval: the day "
                "whose end-of-day state the levels are."
            ),
        ),
        "reporting_currency": described("reporting_currency"),
    }
    for metric in endpoint.metrics:
        rule = WEEK_RATIO_RULE if metric.week_sql is not None else KIND_RULES[metric.kind]
        fields[metric.name] = described(metric.name, rule)
    name = "MetricsEntry"
    return create_model(name, __config__=ConfigDict(title=name), **fields)


def _response_model(endpoint: IntervalEndpoint, entry: type[BaseModel]) -> type[BaseModel]:
    summary = create_model(
        "MetricsSummary",
        **{
            name: (
                SummaryFigure | None,
                Field(description=f"`{name}` at the range's ends; null without entries."),
            )
            for name in SUMMARY_METRICS
        },
    )
    return create_model(
        "MetricsTotals",
        object=(Literal["metrics"], Field("metrics", description="Always `metrics`: totals per interval.")),
        interval=(str, Field(description=f"The entries' interval: one of {', '.join(INTERVALS)}.")),
        rates_over=(
            Literal["calendar_month", "trailing_30_days"],
            Field(description="The period the entries' rates cover (see each rate's description)."),
        ),
        entries=(
            list[entry],
            Field(
                description="One per interval from `from` to `to` that the marts hold (none before the "
                "workspace's first MRR or after the as-of day), in time order."
            ),
        ),
        summary=(summary, Field(description="The levels at the first and last entries.")),
    )


def _figure(previous: Any, current: Any) -> dict[str, Any]:
    change = None
    if previous not in (None, 0) and current is not None:
        change = float((Decimal(current) - Decimal(previous)) / Decimal(previous) * 100)
    return {"current": current, "previous": previous, "percentage_change": change}


def _add_route(router: APIRouter, endpoint: IntervalEndpoint) -> None:
    Entry = _entry_model(endpoint)
    Totals = _response_model(endpoint, Entry)
    # Fields named as the parameters (`from` is a keyword in Python, not for pydantic).
    QueryModel = create_model(
        "MetricsTotalsQuery",
        __config__=ConfigDict(extra="forbid"),
        **{
            "from": (
                request_type(date),
                Field(description="The first day: the first of an interval (a Monday for weeks)."),
            ),
            "to": (
                request_type(date),
                Field(description="The last day: the last of an interval (a Sunday for weeks)."),
            ),
            "interval": (
                Literal[INTERVALS],  # type: ignore[valid-type]
                Field("month", description="`day`, `week` (ISO, Monday to Sunday) or calendar `month`."),
            ),
        },
    )

    async def totals(
        request: Request,
        params: Annotated[QueryModel, Query()],  # type: ignore[valid-type]
        key: Annotated[ApiKey, Depends(authorized(endpoint.scope))],
        services: ServicesDep,
        _: Annotated[None, Depends(single_valued({"from", "to", "interval"}, set()))],
    ) -> Response:
        wanted = IntervalRequest(getattr(params, "from"), params.to, params.interval)
        query = interval_query(endpoint, key.workspace_id, wanted)
        rendered = services.pages.get(services.pool.session_generation, query.cache_key)
        if rendered is not None:
            services.pool.mark_used()
        else:
            with services.concurrency.slot(key.key_id):
                rows, session, freshness = await run_in_threadpool(fetch_entries, services.pool, query)
            summary = {
                name: _figure(rows[0][name], rows[-1][name]) if rows else None for name in SUMMARY_METRICS
            }
            body = Totals(
                interval=wanted.interval,
                rates_over="calendar_month" if wanted.interval == "month" else "trailing_30_days",
                entries=rows,
                summary=summary,
            )
            rendered = RenderedPage(
                body.model_dump_json().encode(), len(rows), tuple(freshness.headers().items())
            )
            services.pages.put(session, query.cache_key, rendered)
        request.state.rows = rendered.rows
        return Response(rendered.body, media_type="application/json", headers=dict(rendered.headers))

    router.add_api_route(
        endpoint.path,
        totals,
        methods=["GET"],
        response_model=Totals,
        summary=endpoint.summary,
        description=endpoint.description or None,
        responses={200: {"headers": FRESHNESS_HEADERS}, **ERROR_RESPONSES},
        tags=[endpoint.path.strip("/").split("/")[0]],
        operation_id="totals_" + endpoint.path.strip("/").replace("/", "_").replace("-", "_"),
        openapi_extra={
            "x-revops-intervals": {
                "tables": {
                    "day": endpoint.day_table,
                    "week": endpoint.day_table,
                    "month": endpoint.month_table,
                },
                "scope": endpoint.scope.value,
                "metrics": {metric.name: metric.kind for metric in endpoint.metrics},
            }
        },
    )


def interval_router(endpoints: tuple[IntervalEndpoint, ...]) -> APIRouter:
    router = APIRouter(prefix="/v1")
    for endpoint in endpoints:
        _add_route(router, endpoint)
    return router
