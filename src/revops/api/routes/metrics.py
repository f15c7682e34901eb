"""Recurring revenue (`/v1/metrics/*`): daily MRR and its movements, cohort retention, and the SaaS
metric suite in totals per day, week or month (`/v1/metrics/all`)."""

from datetime import date

from revops.api.keys import Scope
from revops.api.queries import CurrencyCode, Filter, IntervalEndpoint, IntervalMetric, MartEndpoint
from revops.api.schemas import mart_row

CUSTOMER = Filter("customer_id", "customer_id", str, description="One customer (`cus_…`).")

MrrDay = mart_row("marts.fct_mrr_daily", "MrrDay")
MrrMovement = mart_row("marts.fct_mrr_movements", "MrrMovement")
CohortRetention = mart_row("marts.fct_cohort_retention", "CohortRetention")


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
    MartEndpoint(
        path="/metrics/cohort-retention",
        table="marts.fct_cohort_retention",
        row=CohortRetention,
        scope=Scope.metrics,
        order_by=("cohort_month", "months_since_first_payment"),
        summary="Cohort retention (the heatmap)",
        description="Customers by month of first payment, and the customers and MRR of each cohort still "
        "paying at the end of each month since (month 0 is the cohort month's own end).",
        filters=(
            Filter("cohort_month", "cohort_month", date, description="One cohort (its month's first day)."),
            Filter("since", "cohort_month", date, ">=", "Cohorts from this month on (its first day)."),
            Filter("until", "cohort_month", date, "<", "Cohorts before this month (its first day)."),
            Filter(
                "months_since_first_payment",
                "months_since_first_payment",
                int,
                description="One column of the heatmap (0: the cohort month).",
            ),
        ),
    ),
)

# Levels, then the waterfall and the customers who moved, then rates (docs/api.md: the rule per kind).
_STOCKS = ("mrr", "arr", "paying_customers", "arpa", "unconverted_currencies")
_FLOWS = (
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "voluntary_churn_mrr",
    "involuntary_churn_mrr",
    "churn_mrr",
    "reactivation_mrr",
    "net_new_mrr",
    "new_customers",
    "reactivated_customers",
    "churned_customers",
    "voluntarily_churned_customers",
    "involuntarily_churned_customers",
)
_TRAILING_30_DAY_RATES = (
    "logo_churn_rate",
    "gross_mrr_churn_rate",
    "net_mrr_churn_rate",
    "nrr",
    "grr",
    "quick_ratio",
    "ltv",
    "trial_to_paid_conversion_rate",
)
_TRAILING_12_MONTH_RATES = ("nrr_trailing_12_months", "grr_trailing_12_months")

METRIC_SUITE = IntervalEndpoint(
    path="/metrics/all",
    day_table="marts.fct_saas_metrics_daily",
    month_table="marts.fct_saas_metrics_monthly",
    metrics=(
        *(IntervalMetric(name, "stock") for name in _STOCKS),
        *(IntervalMetric(name, "flow") for name in _FLOWS),
        # ASP = new MRR ÷ new customers: a week's from its summed parts, rounded as the marts round
        # (metric_average_amount, half away from zero); NULL without new customers.
        IntervalMetric(
            "average_selling_price",
            "rate",
            week_sql="if(sum(days.new_customers) = 0, NULL, "
            "toInt64(round(toDecimal128(sum(days.new_mrr), 6) / sum(days.new_customers))))",
        ),
        *(IntervalMetric(name, "rate", f"{name}_30d") for name in _TRAILING_30_DAY_RATES),
        *(IntervalMetric(name, "rate") for name in _TRAILING_12_MONTH_RATES),
    ),
    scope=Scope.metrics,
    summary="The SaaS metric suite per day, week or month",
    description="MRR, ARR and the MRR waterfall, customers, ARPA and ASP, churn and retention rates, quick "
    "ratio, LTV and trial conversion, one entry per interval from `from` to `to` in the reporting "
    "currency, with a summary of the levels at the range's ends (as ChartMogul's `/v1/metrics/all`). "
    "`from` and `to` must bound whole intervals (400 otherwise).",
)
INTERVAL_ENDPOINTS = (METRIC_SUITE,)
