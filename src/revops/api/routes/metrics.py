"""Recurring revenue (`/v1/metrics/*`): daily MRR and its movements."""

from datetime import date

from revops.api.keys import Scope
from revops.api.queries import CurrencyCode, Filter, MartEndpoint
from revops.api.schemas import mart_row

CUSTOMER = Filter("customer_id", "customer_id", str, description="One customer (`cus_…`).")

MrrDay = mart_row("marts.fct_mrr_daily", "MrrDay")
MrrMovement = mart_row("marts.fct_mrr_movements", "MrrMovement")


ENDPOINTS = (
    MartEndpoint(
        path="/metrics/mrr",
        table="marts.fct_mrr_daily",
        row=MrrDay,
        scope=Scope.metrics,
        order_by=("mrr_date", "customer_id", "product_id", "currency"),
        summary="Daily MRR per customer and product",
        description="Monthly recurring revenue at the end of each day, in the plan's currency "
        "(`mrr_original`) and in the reporting currency (`mrr`), both in minor units.",
        filters=(
            Filter("date", "mrr_date", date, description="One day."),
            Filter("since", "mrr_date", date, ">=", "From this day on."),
            Filter("until", "mrr_date", date, "<", "Before this day."),
            CUSTOMER,
            Filter("product_id", "product_id", str, description="One product (`prod_…`)."),
            Filter("currency", "currency", CurrencyCode, description="The plan's currency (`USD` or `usd`)."),
        ),
    ),
    MartEndpoint(
        path="/metrics/mrr-movements",
        table="marts.fct_mrr_movements",
        row=MrrMovement,
        scope=Scope.metrics,
        order_by=("movement_date", "customer_id"),
        summary="MRR movements",
        description="Each customer's day-over-day MRR change, classified (new, expansion, contraction, "
        "reactivation, voluntary or involuntary churn).",
        filters=(
            Filter("since", "movement_date", date, ">=", "From this day on."),
            Filter("until", "movement_date", date, "<", "Before this day."),
            CUSTOMER,
            Filter("movement_type", "movement_type", str, description="The kind of movement."),
        ),
    ),
)
