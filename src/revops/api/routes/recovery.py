"""Failed-payment recovery (`/v1/recovery/*`) and the dunning queue (`/v1/dunning/*`)."""

from datetime import date, datetime

from revops.api.keys import Scope
from revops.api.queries import CurrencyCode, Filter, MartEndpoint, SortKey
from revops.api.schemas import mart_row

DECLINE_CATEGORY = Filter("decline_category", "decline_category", str, description="The decline category.")
DUNNING_COHORT = Filter("dunning_cohort", "dunning_cohort", str, description="The dunning cohort.")
CURRENCY = Filter("currency", "currency", CurrencyCode, description="ISO 4217 code (`USD` or `usd`).")

# A payment page link is a capability (whoever has it sees and pays the invoice): not served.
FailedPaymentEpisode = mart_row(
    "marts.fct_failed_payment_episodes", "FailedPaymentEpisode", exclude=("hosted_invoice_url",)
)
RecoveryCohort = mart_row("marts.fct_recovery_cohorts", "RecoveryCohort")
RecoveryUplift = mart_row("marts.agg_recovery_uplift", "RecoveryUplift")
# The customer's address is for the dunning job, not for API clients.
DunningAction = mart_row("marts.dunning_queue", "DunningAction", exclude=("customer_email",))
DunningLogEntry = mart_row("marts.fct_dunning_actions", "DunningLogEntry")


ENDPOINTS = (
    MartEndpoint(
        path="/recovery/episodes",
        table="marts.fct_failed_payment_episodes",
        row=FailedPaymentEpisode,
        scope=Scope.recovery,
        order_by=("first_failed_at", "invoice_id"),
        summary="Failed-payment episodes",
        description="One per invoice whose payment failed at least once: the first failure, every "
        "attempt, and how it ended (recovered, lost or open).",
        filters=(
            Filter("outcome", "outcome", str, description="How the episode ended (or not yet)."),
            DECLINE_CATEGORY,
            DUNNING_COHORT,
            Filter("customer_id", "customer_id", str, description="One customer (`cus_…`)."),
            CURRENCY,
            Filter("since", "first_failed_at", datetime, ">=", "First failed at or after this instant."),
            Filter("until", "first_failed_at", datetime, "<", "First failed before this instant."),
        ),
    ),
    MartEndpoint(
        path="/recovery/cohorts",
        table="marts.fct_recovery_cohorts",
        row=RecoveryCohort,
        scope=Scope.recovery,
        order_by=(
            "cohort_month",
            SortKey("ifNull(currency, '')", str),
            "decline_category",
            "dunning_cohort",
            "days_since_failure",
        ),
        summary="Recovery curves by cohort",
        description="Episodes by month of first failure, currency, decline category and dunning "
        "cohort (`all` rows roll a dimension up), with the share recovered N days after the failure.",
        filters=(
            Filter("cohort_month", "cohort_month", date, description="First day of the cohort's month."),
            CURRENCY,
            DECLINE_CATEGORY,
            DUNNING_COHORT,
            Filter(
                "days_since_failure",
                "days_since_failure",
                int,
                description="The day the shares are measured at.",
            ),
        ),
    ),
    MartEndpoint(
        path="/recovery/uplift",
        table="marts.agg_recovery_uplift",
        row=RecoveryUplift,
        scope=Scope.recovery,
        order_by=("policy_version", "horizon_days"),
        summary="Dunning uplift over the holdout",
        description="Treatment minus holdout recovery rate within 7, 14 and 30 days per policy "
        "version, with a 95% confidence interval.",
        filters=(
            Filter("policy_version", "policy_version", str, description="A dunning policy version."),
            Filter("horizon_days", "horizon_days", int, description="The horizon, in days."),
        ),
    ),
    MartEndpoint(
        path="/dunning/actions",
        table="marts.dunning_queue",
        row=DunningAction,
        scope=Scope.recovery,
        order_by=("invoice_id",),
        summary="Dunning actions due",
        description="The next dunning step due now for each open episode of a treatment customer "
        "(the `dunning_actions` job carries them out).",
        filters=(
            Filter("action", "action", str, description="The kind of step (`email`, `retry`, …)."),
            DECLINE_CATEGORY,
            Filter("customer_id", "customer_id", str, description="One customer (`cus_…`)."),
        ),
    ),
    MartEndpoint(
        path="/dunning/log",
        table="marts.fct_dunning_actions",
        row=DunningLogEntry,
        scope=Scope.recovery,
        order_by=("acted_at", "attempt_id", "recorded_at", "status"),
        summary="Dunning actions taken",
        description="Every row the `dunning_actions` job wrote to the append-only dunning log, in time "
        "order: `pending` before a side effect, then its outcome; `is_latest` marks the row that says "
        "what happened to each step.",
        filters=(
            Filter("status", "status", str, description="The attempt's status."),
            Filter("action", "action", str, description="The kind of step (`email`, `retry`, …)."),
            Filter("invoice_id", "invoice_id", str, description="One invoice (`in_…`)."),
            Filter("customer_id", "customer_id", str, description="One customer (`cus_…`)."),
            Filter("is_latest", "is_latest", bool, description="Only each step's latest row (or not)."),
            Filter("since", "acted_at", datetime, ">=", "Acted at or after this instant (ISO 8601)."),
            Filter("until", "acted_at", datetime, "<", "Acted before this instant (ISO 8601)."),
        ),
    ),
)
