"""`revops report` on the shared simulated warehouse: one offline HTML file per workspace with every
chart, and every chart's numbers equal to the marts it shows (read back from the embedded figures)."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from revops.cli.main import app
from revops.reporting import REPORT_CHARTS
from revops.reporting.report import read_figures
from tests.conftest import SimulatedWarehouse
from tests.support import query

WORKSPACES = ("acme", "globex")


@pytest.fixture(scope="module")
def reports(simulated_warehouse: SimulatedWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    with simulated_warehouse.open():
        result = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _page(reports: Path, workspace: str) -> str:
    return (reports / f"{workspace}.html").read_text(encoding="utf-8")


def _rows(warehouse: SimulatedWarehouse, sql: str, workspace: str) -> list[dict[str, Any]]:
    with warehouse.open():
        return query(sql, ws=workspace)


def _major(amount: int | None) -> float | None:
    # Both simulated reporting currencies (USD, GBP) have two decimals.
    return None if amount is None else float(Decimal(amount) / 100)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_report_is_self_contained_with_every_chart(reports: Path, workspace: str) -> None:
    page = _page(reports, workspace)
    assert not re.search(r"<script[^>]+src=", page), "plotly.js must be inlined, not fetched"
    assert not re.search(r"<link[^>]+href=\"?https?:", page)
    assert "plotly.js v" in page  # the library's own banner: the bundle itself is in the page
    figures = read_figures(page)
    assert list(figures) == [chart.id for chart in REPORT_CHARTS]
    for chart_id, figure in figures.items():
        assert figure["data"], chart_id
        assert f'id="chart-{chart_id}"' in page
    assert 'id="kpi-mrr"' in page and 'id="kpi-nrr"' in page


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_mrr_and_movement_charts_equal_the_marts(
    reports: Path, simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    figures = read_figures(_page(reports, workspace))
    daily = _rows(
        simulated_warehouse,
        "SELECT metric_date, mrr, arr FROM marts.fct_saas_metrics_daily WHERE workspace_id = {ws:String} "
        "ORDER BY metric_date",
        workspace,
    )
    mrr, arr = figures["mrr_arr"]["data"]
    assert mrr["x"] == [row["metric_date"].isoformat() for row in daily]
    assert mrr["y"] == pytest.approx([_major(row["mrr"]) for row in daily])
    assert arr["y"] == pytest.approx([_major(row["arr"]) for row in daily])

    monthly = _rows(
        simulated_warehouse,
        "SELECT * FROM marts.fct_saas_metrics_monthly WHERE workspace_id = {ws:String} ORDER BY metric_month",
        workspace,
    )
    traces = {trace["name"]: trace for trace in figures["mrr_movements"]["data"]}
    for name, column in (
        ("New", "new_mrr"),
        ("Contraction", "contraction_mrr"),
        ("Net new MRR", "net_new_mrr"),
        ("Voluntary churn", "voluntary_churn_mrr"),
        ("Reactivation", "reactivation_mrr"),
    ):
        assert traces[name]["y"] == pytest.approx([_major(row[column]) for row in monthly]), name
    last = [row for row in monthly if row["is_complete_month"]][-1]
    (waterfall,) = figures["mrr_waterfall"]["data"]
    steps = [
        "starting_mrr",
        "new_mrr",
        "expansion_mrr",
        "reactivation_mrr",
        "contraction_mrr",
        "voluntary_churn_mrr",
        "involuntary_churn_mrr",
        "mrr",
    ]
    assert waterfall["y"] == pytest.approx([_major(last[column]) for column in steps])
    # The waterfall closes: the start plus the movements is the end.
    assert sum(waterfall["y"][:-1]) == pytest.approx(waterfall["y"][-1])


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_cohort_and_recovery_charts_equal_the_marts(
    reports: Path, simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    figures = read_figures(_page(reports, workspace))
    cohorts = _rows(
        simulated_warehouse,
        "SELECT * FROM marts.fct_cohort_retention WHERE workspace_id = {ws:String}",
        workspace,
    )
    (heatmap,) = figures["cohort_retention"]["data"]
    months = sorted({row["cohort_month"] for row in cohorts})
    for row in cohorts:
        cell = heatmap["z"][months.index(row["cohort_month"])][row["months_since_first_payment"]]
        assert cell == pytest.approx(row["customer_retention_rate"])
    assert sum(value is not None for line in heatmap["z"] for value in line) == len(cohorts)

    curves = _rows(
        simulated_warehouse,
        "SELECT * FROM marts.fct_recovery_curves WHERE workspace_id = {ws:String} AND cohort_month IS NULL "
        "AND dunning_cohort = 'all' ORDER BY days_since_failure",
        workspace,
    )
    band, line = figures["recovery_curves"]["data"]
    assert line["y"] == pytest.approx([row["recovered_share"] for row in curves])
    highs = [row["recovered_share_high"] for row in curves]
    lows = [row["recovered_share_low"] for row in curves]
    assert band["y"] == pytest.approx(highs + lows[::-1])


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_exceptions_and_usage_charts_equal_the_marts(
    reports: Path, simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    figures = read_figures(_page(reports, workspace))
    flagged = _rows(
        simulated_warehouse,
        "SELECT ifNull(payout_id, bank_transaction_id) AS reference FROM marts.fct_payout_reconciliation "
        "WHERE workspace_id = {ws:String} AND is_flagged",
        workspace,
    ) + _rows(
        simulated_warehouse,
        "SELECT ifNull(invoice_number, books_invoice_id) AS reference FROM marts.fct_invoice_reconciliation "
        "WHERE workspace_id = {ws:String} AND is_flagged",
        workspace,
    )
    (table,) = figures["reconciliation_exceptions"]["data"]
    assert flagged
    assert sorted(table["cells"]["values"][2]) == sorted(row["reference"] for row in flagged)

    usage = _rows(
        simulated_warehouse,
        "SELECT meter_slug, usage_date, usage_quantity FROM marts.agg_usage_daily "
        "WHERE workspace_id = {ws:String}",
        workspace,
    )
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in usage:
        totals[row["meter_slug"]][row["usage_date"].isoformat()] += row["usage_quantity"] or 0
    charted = {
        trace["name"]: dict(zip(trace["x"], trace["y"], strict=True))
        for trace in figures["usage_by_meter"]["data"]
    }
    assert set(charted) == set(totals)
    for meter, days in totals.items():
        assert charted[meter] == pytest.approx({day: float(value) for day, value in days.items()}), meter


def test_the_report_refuses_an_empty_warehouse(revops_home: Path) -> None:
    from revops.pipelines.runner import ensure_raw_tables

    ensure_raw_tables()
    result = CliRunner().invoke(app, ["report", "--out", str(revops_home / "reports")])
    assert result.exit_code == 1
    assert "revops run" in result.output
