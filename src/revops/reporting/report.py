"""One self-contained HTML file per workspace: KPI tiles and every chart of `charts.CHARTS`, with
plotly.js inlined (the report opens offline) and each figure embedded as JSON beside the div it draws
in, so a test or a script can read the numbers back."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io
from clickhouse_connect.driver.client import Client
from plotly.offline import get_plotlyjs

from revops.core.warehouse import connect
from revops.reporting.charts import CHARTS, Chart
from revops.reporting.money import to_major

REPORT_CHARTS: tuple[Chart, ...] = CHARTS

KPI_SQL = (
    "SELECT metric_date, reporting_currency, mrr, arr, paying_customers FROM marts.fct_saas_metrics_daily "
    "WHERE workspace_id = {ws:String} ORDER BY metric_date DESC LIMIT 1"
)
MONTH_KPI_SQL = (
    "SELECT metric_month, arpa, nrr, grr, logo_churn_rate, quick_ratio, ltv "
    "FROM marts.fct_saas_metrics_monthly WHERE workspace_id = {ws:String} AND is_complete_month "
    "ORDER BY metric_month DESC LIMIT 1"
)
NONE_SHOWN = "n/a"
"""What a tile shows for a metric that has no value (a rate without a base)."""
WORKSPACES_SQL = "SELECT DISTINCT workspace_id FROM marts.fct_saas_metrics_daily ORDER BY workspace_id"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>revops report: {workspace}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #212121; background: #fafafa; }}
h1 {{ margin: 0 0 4px; }} .meta {{ color: #757575; margin-bottom: 16px; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }}
.kpi {{ background: white; border: 1px solid #e0e0e0; border-radius: 6px; padding: 10px 16px; }}
.kpi .label {{ color: #757575; font-size: 12px; }} .kpi .value {{ font-size: 22px; font-weight: 600; }}
.chart {{ background: white; border: 1px solid #e0e0e0; border-radius: 6px; margin-bottom: 16px; }}
</style>
<script>{plotly_js}</script>
</head><body>
<h1>{workspace}</h1>
<div class="meta">as of {as_of} · amounts in {currency} · generated {generated} by revops report</div>
<div class="kpis">{kpis}</div>
{charts}
<script>
document.querySelectorAll("script.revops-figure").forEach(function (node) {{
  var figure = JSON.parse(node.textContent);
  Plotly.newPlot(node.dataset.chart, figure.data, figure.layout, {{responsive: true, displaylogo: false}});
}});
</script>
</body></html>
"""


@dataclass(frozen=True)
class Kpi:
    id: str
    label: str
    value: Any
    text: str


def _percent(value: float | None) -> str:
    return NONE_SHOWN if value is None else f"{value:.1%}"


def kpis(today: dict[str, Any] | None, month: dict[str, Any] | None) -> list[Kpi]:
    """The tiles: today's levels, and the rates of the last complete month."""
    if today is None:
        return []
    currency = today["reporting_currency"]

    def money(row: dict[str, Any], column: str, label: str) -> Kpi:
        amount = to_major(row[column], currency)
        return Kpi(column, label, row[column], NONE_SHOWN if amount is None else f"{amount:,.2f} {currency}")

    tiles = [
        money(today, "mrr", "MRR"),
        money(today, "arr", "ARR"),
        Kpi(
            "paying_customers",
            "Paying customers",
            today["paying_customers"],
            f"{today['paying_customers']:,}",
        ),
    ]
    if month is None:
        return tiles
    period = f"{month['metric_month']:%b %Y}"
    return [
        *tiles,
        money(month, "arpa", f"ARPA, {period}"),
        Kpi("nrr", f"NRR, {period}", month["nrr"], _percent(month["nrr"])),
        Kpi("grr", f"GRR, {period}", month["grr"], _percent(month["grr"])),
        Kpi(
            "logo_churn_rate",
            f"Customer churn, {period}",
            month["logo_churn_rate"],
            _percent(month["logo_churn_rate"]),
        ),
        Kpi(
            "quick_ratio",
            f"Quick ratio, {period}",
            month["quick_ratio"],
            NONE_SHOWN if month["quick_ratio"] is None else f"{month['quick_ratio']:.2f}",
        ),
        money(month, "ltv", f"LTV, {period}"),
    ]


def _chart_html(chart: Chart, figure_json: str) -> str:
    # JSON inside <script> must not close it: escape "</" (Plotly's own HTML export does the same).
    safe = figure_json.replace("</", "<\\/")
    return (
        f'<section class="chart" id="section-{chart.id}"><div id="chart-{chart.id}" style="min-height:420px">'
        f'</div><script type="application/json" class="revops-figure" data-chart="chart-{chart.id}" '
        f'id="figure-{chart.id}">{safe}</script></section>'
    )


def render_report(client: Client, workspace: str, generated_at: datetime | None = None) -> str:
    """The HTML report of `workspace`, read from the marts with `client`."""
    latest = next(client.query(KPI_SQL, parameters={"ws": workspace}).named_results(), None)
    month = next(client.query(MONTH_KPI_SQL, parameters={"ws": workspace}).named_results(), None)
    currency = latest["reporting_currency"] if latest else ""
    sections = []
    for chart in CHARTS:
        missing = [
            table for table in tables_read(chart.sql) if not client.command(f"EXISTS TABLE marts.{table}")
        ]
        if missing:  # e.g. the usage aggregates, which `revops run` builds after its job
            figure = go.Figure(
                layout={"title": f"{chart.title}: not built yet (marts.{', marts.'.join(missing)})"}
            )
        else:
            rows = list(client.query(chart.sql, parameters={"ws": workspace}).named_results())
            figure = chart.figure(rows, currency)
        sections.append(_chart_html(chart, plotly.io.to_json(figure, validate=True)))
    tiles = "".join(
        f'<div class="kpi" id="kpi-{kpi.id}"><div class="label">{html.escape(kpi.label)}</div>'
        f'<div class="value">{html.escape(kpi.text)}</div></div>'
        for kpi in kpis(latest, month)
    )
    return PAGE.format(
        workspace=html.escape(workspace),
        as_of=latest["metric_date"] if latest else NONE_SHOWN,
        currency=html.escape(currency),
        generated=f"{generated_at or datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        kpis=tiles,
        charts="\n".join(sections),
        plotly_js=get_plotlyjs(),
    )


def report_workspaces(client: Client) -> list[str]:
    """Workspaces with metrics; none before the first dbt build."""
    if not client.command("EXISTS TABLE marts.fct_saas_metrics_daily"):
        return []
    return [row[0] for row in client.query(WORKSPACES_SQL).result_rows]


def write_reports(out_dir: Path, workspaces: Iterable[str] | None = None) -> dict[str, Path]:
    """Write `<out_dir>/<workspace>.html` for each workspace (default: every one with metrics)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pages: dict[str, str] = {}
    with connect() as client:  # the embedded warehouse is held only while reading
        for workspace in list(workspaces) if workspaces is not None else report_workspaces(client):
            pages[workspace] = render_report(client, workspace)
    written = {}
    for workspace, page in pages.items():
        path = out_dir / f"{workspace}.html"
        temporary = path.with_suffix(".html.tmp")
        temporary.write_text(page, encoding="utf-8")
        temporary.replace(path)  # a reader never sees half a report
        written[workspace] = path
    return written


def tables_read(sql: str) -> list[str]:
    """The marts a query reads, in order of appearance."""
    return list(dict.fromkeys(re.findall(r"marts\.(\w+)", sql)))


def report_tables() -> set[str]:
    """The marts the report reads (its Dagster asset's dependencies, its dbt exposure)."""
    return set(
        tables_read(" ".join([chart.sql for chart in CHARTS] + [KPI_SQL, MONTH_KPI_SQL, WORKSPACES_SQL]))
    )


def read_figures(page: str) -> dict[str, dict[str, Any]]:
    """The figures embedded in a report page, by chart id (what the tests read back)."""
    figures = {}
    for match in re.finditer(
        r'<script type="application/json" class="revops-figure" '
        r'data-chart="chart-([\w]+)" id="figure-[\w]+">(.*?)</script>',
        page,
        re.S,
    ):
        figures[match.group(1)] = json.loads(match.group(2).replace("<\\/", "</"))
    return figures
