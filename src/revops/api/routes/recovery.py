"""Failed-payment recovery (`/v1/recovery/*`) and the dunning queue (`/v1/dunning/*`)."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from revops.api.keys import Scope
from revops.api.queries import Filter, MartEndpoint, SortKey
from revops.api.schemas import MinorUnits, UtcDatetime

DECLINE_CATEGORY = Filter(
    "decline_category", "decline_category", str, description="`soft`, `hard` or `card_update_needed`."
)
DUNNING_COHORT = Filter(
    "dunning_cohort", "dunning_cohort", str, description="`treatment`, `holdout` or `not_enrolled`."
)


class FailedPaymentEpisode(BaseModel):
    workspace_id: str
    invoice_id: str
    customer_id: str | None
    subscription_id: str | None
    amount_at_risk: MinorUnits | None
    amount_at_risk_major: Decimal | None
    currency: str | None
    first_failed_at: UtcDatetime
    decline_code: str | None
    advice_code: str | None
    decline_category: str
    is_retryable: bool
    attempt_count: int
    failed_attempt_count: int
    attempt_outcomes: list[str]
    invoice_status: str | None
    outcome: str
    recovered_at: UtcDatetime | None
    amount_recovered: MinorUnits | None
    recovery_path: str | None
    days_to_recovery: int | None
    dunning_cohort: str
    policy_version: str | None


class RecoveryCohort(BaseModel):
    workspace_id: str
    cohort_month: date
    currency: str | None
    decline_category: str
    dunning_cohort: str
    days_since_failure: int
    episodes: int
    matured_episodes: int
    recovered_episodes: int
    matured_amount_at_risk: MinorUnits | None
    recovered_amount: MinorUnits | None
    recovered_share_by_count: float | None
    recovered_share_by_amount: float | None


class RecoveryUplift(BaseModel):
    workspace_id: str
    policy_version: str
    horizon_days: int
    treatment_episodes: int
    treatment_recovered: int
    holdout_episodes: int
    holdout_recovered: int
    treatment_recovery_rate: float | None
    holdout_recovery_rate: float | None
    uplift: float | None
    uplift_ci_low: float | None
    uplift_ci_high: float | None


class DunningAction(BaseModel):
    workspace_id: str
    invoice_id: str
    idempotency_key: str | None
    customer_id: str | None
    policy_version: str | None
    step_index: int
    step_name: str | None
    action: str
    template: str | None
    due_at: UtcDatetime | None
    decline_code: str | None
    decline_category: str
    is_retryable: bool
    attempts_in_window: int
    amount_at_risk: MinorUnits | None
    amount_at_risk_major: Decimal | None
    currency: str | None


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
            Filter("outcome", "outcome", str, description="`recovered`, `lost` or `open`."),
            DECLINE_CATEGORY,
            DUNNING_COHORT,
            Filter("customer_id", "customer_id", str, description="One customer (`cus_…`)."),
            Filter("currency", "currency", str, description="ISO 4217 code, upper case."),
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
            Filter("currency", "currency", str, description="ISO 4217 code, upper case."),
            DECLINE_CATEGORY,
            DUNNING_COHORT,
            Filter("days_since_failure", "days_since_failure", int, description="1, 3, 7, 14, 30 or 60."),
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
            Filter("horizon_days", "horizon_days", int, description="7, 14 or 30."),
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
)
