"""Metered usage (`/v1/usage*`): per customer, meter and hour, day or month, and per billing period."""

from datetime import datetime

from revops.api.keys import Scope
from revops.api.queries import Filter, MartEndpoint, SortKey, Variant, Variants
from revops.api.schemas import mart_row

METER = Filter("meter", "meter_slug", str, description="A meter's slug (`api_calls`, …).")
CUSTOMER = Filter("customer_id", "customer_id", str, description="One customer (`cus_…`).")

# The hour, day and month marts share these columns (MartEndpoint checks their contracts agree).
UsageWindow = mart_row("marts.agg_usage_daily", "UsageWindow", exclude=("usage_date", "last_event_at"))
UsageBillingPeriod = mart_row("marts.fct_usage_by_billing_period", "UsageBillingPeriod")
UsageCharge = mart_row("marts.fct_usage_charges", "UsageCharge")
# A charge whose price has no service period yet has none: it sorts first.
EPOCH = "toDateTime64(0, 3, 'UTC')"

DAILY_USAGE = "marts.agg_usage_daily"

GRANULARITY = Variants(
    param="granularity",
    window_column="window_start",
    options=(
        Variant("hour", "marts.agg_usage_hourly", "hour"),
        Variant("day", DAILY_USAGE, "day"),
        Variant("month", "marts.agg_usage_monthly", "month"),
    ),
    default="day",
    description="Each row's window: a UTC `hour`, `day` or calendar `month`. Every aggregation is exact "
    "at each size (a month's `UNIQUE_COUNT` counts distinct values over the whole month). `since` and "
    "`until` must fall on the chosen size's boundaries (400 otherwise: a bound inside a window would "
    "cut it).",
)

ENDPOINTS = (
    MartEndpoint(
        path="/usage",
        table=DAILY_USAGE,
        row=UsageWindow,
        scope=Scope.usage,
        order_by=(SortKey("window_start", datetime), "customer_id", "meter_slug", "aggregation"),
        summary="Usage per customer, meter and hour, day or month",
        description="Each meter's value per customer and UTC window [`window_start`, `window_end`), "
        "aggregated as the meter defines (`SUM`, `COUNT`, `MAX`, `UNIQUE_COUNT`, `LATEST`) from exact "
        "aggregate states, as an exact decimal.",
        filters=(
            METER,
            CUSTOMER,
            Filter(
                "since",
                "window_start",
                datetime,
                ">=",
                "Windows starting at or after this instant (a date is its 00:00 UTC).",
            ),
            Filter("until", "window_start", datetime, "<", "Windows starting before this instant."),
        ),
        variants=GRANULARITY,
    ),
    MartEndpoint(
        path="/usage/billing-periods",
        table="marts.fct_usage_by_billing_period",
        row=UsageBillingPeriod,
        scope=Scope.usage,
        order_by=("subscription_id", "period_start_at", "meter_slug", "aggregation"),
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
    MartEndpoint(
        path="/usage/charges",
        table="marts.fct_usage_charges",
        row=UsageCharge,
        scope=Scope.usage,
        order_by=("subscription_item_id", SortKey(f"ifNull(period_start_at, {EPOCH})", datetime)),
        summary="Usage charges per subscription item and billing period",
        description="What each metered subscription item should bill per period: the usage of its "
        "price's meter rated by the price (per unit, or tiers graduated or volume), in integer minor "
        "units (`/v1/usage/billing-periods` has the usage itself).",
        filters=(
            METER,
            CUSTOMER,
            Filter("subscription_id", "subscription_id", str, description="One subscription (`sub_…`)."),
            Filter("since", "period_start_at", datetime, ">=", "Periods starting at or after this instant."),
            Filter("until", "period_start_at", datetime, "<", "Periods starting before this instant."),
        ),
    ),
)
