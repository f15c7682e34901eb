"""The report's charts: for each, the question it answers, the SQL that reads it from the marts (one
source, shown in docs/bi.md) and the Plotly figure built from its rows. Amounts are shown in major units
of the workspace's reporting currency; every query is bound to one workspace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from revops.reporting.money import to_major

Rows = Sequence[dict[str, Any]]

MOVEMENTS = (
    ("new_mrr", "New", "#2e7d32"),
    ("expansion_mrr", "Expansion", "#66bb6a"),
    ("reactivation_mrr", "Reactivation", "#26a69a"),
    ("contraction_mrr", "Contraction", "#ffa726"),
    ("voluntary_churn_mrr", "Voluntary churn", "#e53935"),
    ("involuntary_churn_mrr", "Involuntary churn", "#8e24aa"),
)
COHORT_COLOURS = {"treatment": "#1e88e5", "holdout": "#e53935", "not_enrolled": "#757575", "all": "#424242"}


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    question: str
    """What a person asks that this chart answers (docs/bi.md's index)."""
    sql: str
    """Bound with `ws` (the workspace); read by the report and shown in docs/bi.md."""
    figure: Callable[[Rows, str], go.Figure]
    """Rows and the reporting currency → the figure."""


def _money(rows: Rows, column: str, currency: str) -> list[float | None]:
    """Major units as floats: the only place amounts leave exact arithmetic, for plotting."""
    values = (to_major(row[column], currency) for row in rows)
    return [None if value is None else float(value) for value in values]


def _layout(figure: go.Figure, title: str, **layout: Any) -> go.Figure:
    figure.update_layout(
        title=title, template="plotly_white", margin={"l": 60, "r": 20, "t": 60, "b": 40}, **layout
    )
    return figure


def mrr_figure(rows: Rows, currency: str) -> go.Figure:
    days = [row["metric_date"] for row in rows]
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, subplot_titles=("MRR", "ARR"), vertical_spacing=0.08
    )
    figure.add_trace(
        go.Scatter(x=days, y=_money(rows, "mrr", currency), name="MRR", mode="lines"), row=1, col=1
    )
    figure.add_trace(
        go.Scatter(x=days, y=_money(rows, "arr", currency), name="ARR", mode="lines"), row=2, col=1
    )
    figure.update_yaxes(title_text=currency)
    return _layout(figure, f"MRR and ARR ({currency})", height=520, showlegend=False, hovermode="x unified")


def movements_figure(rows: Rows, currency: str) -> go.Figure:
    months = [row["metric_month"] for row in rows]
    bars = [
        go.Bar(x=months, y=_money(rows, column, currency), name=name, marker_color=colour)
        for column, name, colour in MOVEMENTS
    ]
    net = go.Scatter(
        x=months,
        y=_money(rows, "net_new_mrr", currency),
        name="Net new MRR",
        mode="lines+markers",
        line={"color": "#212121"},
    )
    return _layout(
        go.Figure([*bars, net]),
        f"MRR movements by month ({currency})",
        barmode="relative",
        yaxis={"title": currency},
        hovermode="x unified",
    )


def waterfall_figure(rows: Rows, currency: str) -> go.Figure:
    if not rows:
        return _layout(go.Figure(), "MRR waterfall: no complete month yet")
    month = rows[0]
    steps = [("starting_mrr", "Starting MRR"), *((c, n) for c, n, _ in MOVEMENTS), ("mrr", "Ending MRR")]
    values = (
        _money([month], "starting_mrr", currency)
        + [_money([month], column, currency)[0] for column, _, _ in MOVEMENTS]
        + _money([month], "mrr", currency)
    )
    figure = go.Figure(
        go.Waterfall(
            x=[name for _, name in steps],
            y=values,
            measure=["absolute", *["relative"] * len(MOVEMENTS), "total"],
            increasing={"marker": {"color": "#43a047"}},
            decreasing={"marker": {"color": "#e53935"}},
            totals={"marker": {"color": "#1e88e5"}},
        )
    )
    label = month["metric_month"].strftime("%B %Y") if isinstance(month["metric_month"], date) else ""
    return _layout(figure, f"MRR waterfall, {label} ({currency})", yaxis={"title": currency})


def cohort_figure(rows: Rows, currency: str) -> go.Figure:
    cohorts = sorted({row["cohort_month"] for row in rows})
    width = max((row["months_since_first_payment"] for row in rows), default=0) + 1
    grid: list[list[float | None]] = [[None] * width for _ in cohorts]
    text: list[list[str]] = [[""] * width for _ in cohorts]
    for row in rows:
        i, k = cohorts.index(row["cohort_month"]), row["months_since_first_payment"]
        grid[i][k] = row["customer_retention_rate"]
        text[i][k] = f"{row['customer_retention_rate']:.0%}"
    labels = [f"{cohort:%Y-%m} ({rows_of(rows, cohort)})" for cohort in cohorts]
    figure = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(range(width)),
            y=labels,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar={"title": "retained", "tickformat": ".0%"},
            hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%}<extra></extra>",
        )
    )
    return _layout(
        figure,
        "Customer retention by first-payment month",
        xaxis={"title": "months since first payment", "dtick": 1},
        yaxis={"title": "cohort (customers)", "autorange": "reversed"},
    )


def rows_of(rows: Rows, cohort: date) -> int:
    return next(row["cohort_customers"] for row in rows if row["cohort_month"] == cohort)


def recovery_figure(rows: Rows, currency: str) -> go.Figure:
    present = {row["dunning_cohort"] for row in rows}
    compared = [c for c in ("treatment", "holdout") if c in present] or [c for c in ("all",) if c in present]
    traces = []
    for cohort in compared:
        curve = [
            row for row in rows if row["dunning_cohort"] == cohort and row["recovered_share"] is not None
        ]
        days = [row["days_since_failure"] for row in curve]
        colour = COHORT_COLOURS[cohort]
        traces += [
            go.Scatter(
                x=days + days[::-1],
                y=[row["recovered_share_high"] for row in curve]
                + [row["recovered_share_low"] for row in curve][::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                name=f"{cohort}: 95% interval",
                showlegend=True,
            ),
            go.Scatter(
                x=days,
                y=[row["recovered_share"] for row in curve],
                name=cohort,
                mode="lines",
                line={"color": colour},
                customdata=[row["matured_episodes"] for row in curve],
                hovertemplate="day %{x}: %{y:.0%} of %{customdata} episodes<extra>" + cohort + "</extra>",
            ),
        ]
    note = "" if "treatment" in compared else " (no dunning policy in force: all episodes)"
    return _layout(
        go.Figure(traces),
        f"Failed payments recovered by day since the first failure{note}",
        xaxis={"title": "days since first failure"},
        yaxis={"title": "recovered", "tickformat": ".0%", "range": [0, 1]},
    )


def exceptions_figure(rows: Rows, currency: str) -> go.Figure:
    columns = ("kind", "reconciliation_status", "reference", "currency", "amount", "difference", "dated")
    cells = [[row[column] for row in rows] for column in columns]
    for index in (4, 5):  # amounts in major units of each row's own currency
        cells[index] = [
            None
            if row[columns[index]] is None
            else str(to_major(row[columns[index]], row["currency"] or currency))
            for row in rows
        ]
    figure = go.Figure(
        go.Table(
            header={"values": ["", "status", "payout / invoice", "currency", "amount", "difference", "date"]},
            cells={"values": cells},
        )
    )
    return _layout(figure, f"Reconciliation exceptions ({len(rows)} open)")


def usage_figure(rows: Rows, currency: str) -> go.Figure:
    meters = sorted({row["meter_slug"] for row in rows})
    figure = make_subplots(rows=max(len(meters), 1), cols=1, shared_xaxes=True, subplot_titles=meters)
    for index, meter in enumerate(meters, start=1):
        series = [row for row in rows if row["meter_slug"] == meter]
        figure.add_trace(
            go.Scatter(
                x=[row["usage_date"] for row in series],
                y=[float(row["usage_quantity"]) for row in series],
                name=meter,
                mode="lines",
            ),
            row=index,
            col=1,
        )
    return _layout(
        figure, "Usage by meter (all customers, per day)", height=220 * max(len(meters), 1), showlegend=False
    )


CHARTS: tuple[Chart, ...] = (
    Chart(
        "mrr_arr",
        "MRR and ARR over time",
        "How is MRR (ARR) trending?",
        "SELECT metric_date, mrr, arr FROM marts.fct_saas_metrics_daily\n"
        "WHERE workspace_id = {ws:String} ORDER BY metric_date",
        mrr_figure,
    ),
    Chart(
        "mrr_movements",
        "MRR movements by month",
        "Where does MRR growth come from, month by month?",
        "SELECT metric_month, new_mrr, expansion_mrr, reactivation_mrr, contraction_mrr,\n"
        "       voluntary_churn_mrr, involuntary_churn_mrr, net_new_mrr\n"
        "FROM marts.fct_saas_metrics_monthly WHERE workspace_id = {ws:String} ORDER BY metric_month",
        movements_figure,
    ),
    Chart(
        "mrr_waterfall",
        "MRR waterfall of the last complete month",
        "What moved MRR from the start to the end of last month?",
        "SELECT metric_month, starting_mrr, new_mrr, expansion_mrr, reactivation_mrr, contraction_mrr,\n"
        "       voluntary_churn_mrr, involuntary_churn_mrr, mrr\n"
        "FROM marts.fct_saas_metrics_monthly WHERE workspace_id = {ws:String} AND is_complete_month\n"
        "ORDER BY metric_month DESC LIMIT 1",
        waterfall_figure,
    ),
    Chart(
        "cohort_retention",
        "Customer retention by first-payment month",
        "Do customers stay? Retention heatmap by signup cohort",
        "SELECT cohort_month, months_since_first_payment, cohort_customers, customer_retention_rate,\n"
        "       mrr_retention_rate\n"
        "FROM marts.fct_cohort_retention WHERE workspace_id = {ws:String}\n"
        "ORDER BY cohort_month, months_since_first_payment",
        cohort_figure,
    ),
    Chart(
        "recovery_curves",
        "Recovery curves, treatment against holdout",
        "Does dunning recover failed payments faster than doing nothing?",
        "SELECT dunning_cohort, days_since_failure, matured_episodes, recovered_share,\n"
        "       recovered_share_low, recovered_share_high\n"
        "FROM marts.fct_recovery_curves WHERE workspace_id = {ws:String} AND cohort_month IS NULL\n"
        "ORDER BY dunning_cohort, days_since_failure",
        recovery_figure,
    ),
    Chart(
        "reconciliation_exceptions",
        "Reconciliation exceptions",
        "Which payouts and invoices do not reconcile?",
        "SELECT * FROM (\n"
        "  SELECT 'payout' AS kind, reconciliation_status,\n"
        "         ifNull(payout_id, bank_transaction_id) AS reference, currency,\n"
        "         ifNull(payout_amount, deposit_amount) AS amount, amount_difference AS difference,\n"
        "         ifNull(deposit_date, expected_arrival_date) AS dated\n"
        "  FROM marts.fct_payout_reconciliation WHERE workspace_id = {ws:String} AND is_flagged\n"
        "  UNION ALL\n"
        "  SELECT 'invoice', reconciliation_status, ifNull(invoice_number, books_invoice_id), currency,\n"
        "         ifNull(stripe_amount, books_amount), amount_difference, stripe_paid_date\n"
        "  FROM marts.fct_invoice_reconciliation WHERE workspace_id = {ws:String} AND is_flagged\n"
        ") ORDER BY kind, reconciliation_status, reference",
        exceptions_figure,
    ),
    Chart(
        "usage_by_meter",
        "Usage by meter",
        "How much of each meter do customers use per day?",
        "SELECT meter_slug, usage_date, sum(usage_quantity) AS usage_quantity\n"
        "FROM marts.agg_usage_daily WHERE workspace_id = {ws:String}\n"
        "GROUP BY meter_slug, usage_date ORDER BY meter_slug, usage_date",
        usage_figure,
    ),
)
