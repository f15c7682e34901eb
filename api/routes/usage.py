"""Metered usage (`/v1/usage*`): per customer, meter and day, and per billing period."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from api.keys import Scope
from api.queries import Filter, MartEndpoint, SortKey
from api.schemas import UtcDatetime

METER = Filter("meter", "meter_slug", str, description="A meter's slug (`api_calls`, …).")
CUSTOMER = Filter("customer_id", "customer_id", str, description="One customer (`cus_…`).")


class UsageDay(BaseModel):
    workspace_id: str
    usage_date: date
    customer_id: str
    meter_slug: str
    aggregation: str
    usage_quantity: Decimal | None
    event_count: int


class UsageBillingPeriod(BaseModel):
    workspace_id: str
    subscription_id: str | None
    customer_id: str | None
    period_start_at: UtcDatetime | None
    period_end_at: UtcDatetime | None
    meter_slug: str
    aggregation: str
    usage_quantity: Decimal | None
    event_count: int


ENDPOINTS = (
    MartEndpoint(
        path="/usage",
        table="marts.agg_usage_daily",
        row=UsageDay,
        scope=Scope.usage,
        order_by=("usage_date", "customer_id", "meter_slug", "aggregation"),
        summary="Usage per customer, meter and day",
        description="Each meter's value per customer and UTC day, aggregated as the meter defines "
        "(`SUM`, `COUNT`, `MAX`, `UNIQUE_COUNT`, `LATEST`), as an exact decimal.",
        filters=(
            METER,
            CUSTOMER,
            Filter("since", "usage_date", date, ">=", "From this day on (the window's start)."),
            Filter("until", "usage_date", date, "<", "Before this day (the window's end)."),
        ),
    ),
    MartEndpoint(
        path="/usage/billing-periods",
        table="marts.fct_usage_by_billing_period",
        row=UsageBillingPeriod,
        scope=Scope.usage,
        order_by=(
            SortKey("ifNull(subscription_id, '')", str),
            SortKey("ifNull(period_start_at, toDateTime64(0, 3, 'UTC'))", datetime),
            "meter_slug",
            "aggregation",
        ),
        summary="Usage per subscription and billing period",
        description="Each meter's value over each billing period of a subscription, exact to the second "
        "at the period's edges.",
        filters=(
            METER,
            CUSTOMER,
            Filter("subscription_id", "subscription_id", str, description="One subscription (`sub_…`)."),
            Filter("since", "period_start_at", datetime, ">=", "Periods starting at or after this instant."),
            Filter("until", "period_start_at", datetime, "<", "Periods starting before this instant."),
        ),
    ),
)
