"""The SaaS metric suite recomputed in plain Python, written from the formulas in docs/metrics.md, not
from the SQL: levels from fct_mrr_daily's rows, flows from fct_mrr_movements' rows (the contract the
suite is built on), trials and failed-payment episodes from the simulator's ground truth."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any

CHURN = ("voluntary_churn", "involuntary_churn")


@dataclass
class Movement:
    day: date
    customer: str
    kind: str
    change: int


@dataclass
class Trial:
    ended_at: datetime
    converted: bool


@dataclass
class WorkspaceFacts:
    as_of_at: datetime
    reporting_currency: str
    first_mrr_date: date
    levels: dict[date, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    """Customer MRR (> 0, reporting currency) at each day's end."""
    unconverted: dict[date, set[str]] = field(default_factory=lambda: defaultdict(set))
    movements: list[Movement] = field(default_factory=list)
    trials: list[Trial] = field(default_factory=list)

    @property
    def as_of(self) -> date:
        return self.as_of_at.date()


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the target month's last day (as ClickHouse does)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def per_head(amount: int, count: int) -> int | None:
    if count == 0:
        return None
    return int((Decimal(amount) / count).to_integral_value(ROUND_HALF_UP))


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def window_metrics(facts: WorkspaceFacts, start: date, end: date, t12m_start: date) -> dict[str, Any]:
    """Every metric of the window whose start state is the end of `start` and whose end state is the
    end of `end`; flows dated in (start, end]."""
    at_start, at_end = facts.levels.get(start, {}), facts.levels.get(end, {})
    inside = [m for m in facts.movements if start < m.day <= end]
    amount = {
        kind: sum(m.change for m in inside if m.kind == kind)
        for kind in (
            "new",
            "expansion",
            "contraction",
            "voluntary_churn",
            "involuntary_churn",
            "reactivation",
        )
    }
    churn = amount["voluntary_churn"] + amount["involuntary_churn"]

    def customers(*kinds: str) -> int:
        return len({m.customer for m in inside if m.kind in kinds})

    def retention(since: date) -> tuple[int, int, int]:
        base = facts.levels.get(since, {})
        now = facts.levels.get(end, {})
        return (
            sum(base.values()),
            sum(now.get(customer, 0) for customer in base),
            sum(min(mrr, now.get(customer, 0)) for customer, mrr in base.items()),
        )

    starting_mrr, retained, gross_retained = retention(start)
    t12m_start_mrr, t12m_retained, t12m_gross = retention(t12m_start)
    ended = [t for t in facts.trials if start < t.ended_at.date() <= end]
    mrr, paying = sum(at_end.values()), len(at_end)
    new_customers = customers("new")
    gained = amount["new"] + amount["expansion"] + amount["reactivation"]
    lost = -(amount["contraction"] + churn)
    return {
        "starting_mrr": starting_mrr,
        "mrr": mrr,
        "arr": mrr * 12,
        "new_mrr": amount["new"],
        "expansion_mrr": amount["expansion"],
        "contraction_mrr": amount["contraction"],
        "voluntary_churn_mrr": amount["voluntary_churn"],
        "involuntary_churn_mrr": amount["involuntary_churn"],
        "churn_mrr": churn,
        "reactivation_mrr": amount["reactivation"],
        "net_new_mrr": sum(amount.values()),
        "starting_customers": len(at_start),
        "paying_customers": paying,
        "new_customers": new_customers,
        "reactivated_customers": customers("reactivation"),
        "churned_customers": customers(*CHURN),
        "voluntarily_churned_customers": customers("voluntary_churn"),
        "involuntarily_churned_customers": customers("involuntary_churn"),
        "arpa": per_head(mrr, paying),
        "arpa_exact": ratio(mrr, paying),
        "average_selling_price": per_head(amount["new"], new_customers),
        "logo_churn_rate": ratio(customers(*CHURN), len(at_start)),
        "gross_mrr_churn_rate": ratio(lost, starting_mrr),
        "net_mrr_churn_rate": ratio(lost - amount["expansion"] - amount["reactivation"], starting_mrr),
        "nrr": ratio(retained, starting_mrr),
        "grr": ratio(gross_retained, starting_mrr),
        "nrr_trailing_12_months": ratio(t12m_retained, t12m_start_mrr),
        "grr_trailing_12_months": ratio(t12m_gross, t12m_start_mrr),
        "quick_ratio": ratio(gained, lost),
        "trials_ended": len(ended),
        "trials_converted": sum(t.converted for t in ended),
        "trial_to_paid_conversion_rate": ratio(sum(t.converted for t in ended), len(ended)),
        "unconverted_currencies": sorted(facts.unconverted.get(end, set())),
    }


def ltv(arpa_exact: float | None, churn_rate: float | None, gross_margin: float) -> int | None:
    if arpa_exact is None or not churn_rate:
        return None
    return round(arpa_exact * gross_margin / churn_rate)


def monthly_metrics(facts: WorkspaceFacts, gross_margin: float = 1.0) -> dict[date, dict[str, Any]]:
    decided = [t.ended_at.date() for t in facts.trials]
    first = min([facts.first_mrr_date, *decided]).replace(day=1)
    rows: dict[date, dict[str, Any]] = {}
    churn_rates: list[float | None] = []
    for index in range(months_between(first, facts.as_of) + 1):
        month = add_months(first, index)
        end = min(month_end(month), facts.as_of)
        t12m_start = add_months(month, -11) - timedelta(days=1)
        row = window_metrics(facts, month - timedelta(days=1), end, t12m_start)
        previous = [rate for rate in churn_rates[-6:] if rate is not None]
        trailing = sum(previous) / len(previous) if previous else None
        row |= {
            "period_end_date": end,
            "is_complete_month": month_end(month) <= facts.as_of,
            "reporting_currency": facts.reporting_currency,
            "trailing_6_month_logo_churn_rate": trailing,
            "ltv": ltv(row["arpa_exact"], trailing, gross_margin),
        }
        churn_rates.append(row["logo_churn_rate"])
        rows[month] = row
    return rows


DAY_COLUMNS = (
    "mrr",
    "arr",
    "paying_customers",
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
    "arpa",
    "average_selling_price",
    "unconverted_currencies",
)
WINDOW_COLUMNS = {
    "starting_mrr": "starting_mrr_30d",
    "starting_customers": "starting_customers_30d",
    "churned_customers": "churned_customers_30d",
    "logo_churn_rate": "logo_churn_rate_30d",
    "gross_mrr_churn_rate": "gross_mrr_churn_rate_30d",
    "net_mrr_churn_rate": "net_mrr_churn_rate_30d",
    "nrr": "nrr_30d",
    "grr": "grr_30d",
    "quick_ratio": "quick_ratio_30d",
    "trials_ended": "trials_ended_30d",
    "trials_converted": "trials_converted_30d",
    "trial_to_paid_conversion_rate": "trial_to_paid_conversion_rate_30d",
    "nrr_trailing_12_months": "nrr_trailing_12_months",
    "grr_trailing_12_months": "grr_trailing_12_months",
}


def daily_metrics(facts: WorkspaceFacts, gross_margin: float = 1.0) -> dict[date, dict[str, Any]]:
    rows = {}
    day = facts.first_mrr_date
    while day <= facts.as_of:
        t12m = add_months(day, -12)
        the_day = window_metrics(facts, day - timedelta(days=1), day, t12m)
        window = window_metrics(facts, day - timedelta(days=30), day, t12m)
        row = {column: the_day[column] for column in DAY_COLUMNS}
        row |= {name: window[column] for column, name in WINDOW_COLUMNS.items()}
        row["reporting_currency"] = facts.reporting_currency
        row["ltv_30d"] = ltv(the_day["arpa_exact"], window["logo_churn_rate"], gross_margin)
        rows[day] = row
        day += timedelta(days=1)
    return rows


def cohort_retention(facts: WorkspaceFacts) -> dict[tuple[date, int], dict[str, Any]]:
    members: dict[date, dict[str, int]] = defaultdict(dict)
    for movement in facts.movements:
        if movement.kind == "new":
            members[movement.day.replace(day=1)][movement.customer] = movement.change
    rows = {}
    for cohort, first_mrr in members.items():
        for months in range(months_between(cohort, facts.as_of) + 1):
            measured_on = min(month_end(add_months(cohort, months)), facts.as_of)
            paying = facts.levels.get(measured_on, {})
            retained = [customer for customer in first_mrr if customer in paying]
            rows[cohort, months] = {
                "measured_on": measured_on,
                "is_complete_month": month_end(add_months(cohort, months)) <= facts.as_of,
                "cohort_customers": len(first_mrr),
                "cohort_mrr": sum(first_mrr.values()),
                "retained_customers": len(retained),
                "retained_mrr": sum(paying[customer] for customer in retained),
                "customer_retention_rate": len(retained) / len(first_mrr),
                "mrr_retention_rate": ratio(sum(paying[c] for c in retained), sum(first_mrr.values())),
            }
    return rows


Z_95 = NormalDist().inv_cdf(0.975)


def wilson(successes: int, trials: int) -> tuple[float | None, float | None]:
    """The 95 % Wilson score interval (Wilson 1927), written out from its textbook form."""
    if trials == 0:
        return None, None
    p, z2 = successes / trials, Z_95**2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z_95 * ((p * (1 - p) + z2 / (4 * trials)) / trials) ** 0.5 / (1 + z2 / trials)
    return centre - half, centre + half


def recovery_curves(
    episodes: list[tuple[int, int | None, str]], measured_at_ms: int
) -> dict[tuple[date | None, str, int], dict[str, Any]]:
    """`episodes`: (first failure, recovery or None, dunning cohort), epoch seconds."""
    rows = {}
    groups: dict[tuple[date | None, str], list[tuple[int, int | None]]] = defaultdict(list)
    for failed, recovered, cohort in episodes:
        month = datetime.fromtimestamp(failed, UTC).date().replace(day=1)
        for key in ((month, cohort), (month, "all"), (None, cohort), (None, "all")):
            groups[key].append((failed, recovered))
    for (month, cohort), members in groups.items():
        for days in range(61):
            horizon = days * 86400
            matured = [(f, r) for f, r in members if (f + horizon) * 1000 <= measured_at_ms]
            recovered = sum(1 for f, r in matured if r is not None and r <= f + horizon)
            low, high = wilson(recovered, len(matured))
            rows[month, cohort, days] = {
                "episodes": len(members),
                "matured_episodes": len(matured),
                "recovered_episodes": recovered,
                "recovered_share": ratio(recovered, len(matured)),
                "recovered_share_low": low,
                "recovered_share_high": high,
            }
    return rows
