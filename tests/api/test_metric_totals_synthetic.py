"""`/v1/metrics/all` over synthetic day and month marts (its own embedded warehouse, so not in a module
that holds the session's simulated one open): a period without customers answers null rates, not an
error."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from revops.api.main import create_app
from revops.api.routes.metrics import METRIC_SUITE
from revops.core.dbt_models import dbt_model
from revops.core.settings import Settings
from revops.core.warehouse import connect, ensure_databases
from tests.api.conftest import memory_keys
from tests.support import isolated_warehouse

WORKSPACES = ("acme", "globex")
URL = "/v1/metrics/all"


def create_mart(client: Any, table: str, rows: list[dict[str, Any]]) -> None:
    model = dbt_model(table)
    columns = ", ".join(f"`{c.name}` {c.data_type}" for c in model.columns.values())
    client.command(f"CREATE TABLE {table} ({columns}) ENGINE = MergeTree ORDER BY workspace_id")
    defaults = {"String": "", "Int64": 0, "UInt8": 1, "Array(String)": [], "Date": date(2026, 1, 1)}
    full = [[row.get(c.name, defaults.get(c.data_type)) for c in model.columns.values()] for row in rows]
    client.insert(table, full, column_names=list(model.columns))


def test_a_period_without_customers_has_null_rates_not_errors(revops_home: Path) -> None:
    """A workspace whose customers all churned in January: February starts and ends with none. Its
    rates are null in the month mart and stay null through the API; a week of such days has a null ASP
    (no new customers) rather than a division error, and the summary's change from zero is null."""
    february = [date(2026, 2, 1) + timedelta(days=i) for i in range(28)]
    with isolated_warehouse(revops_home):
        with connect() as client:
            ensure_databases(client)
            create_mart(
                client,
                "marts.fct_saas_metrics_monthly",
                [
                    {
                        "workspace_id": ws,
                        "metric_month": date(2026, 2, 1),
                        "period_end_date": date(2026, 2, 28),
                        "reporting_currency": "USD",
                    }
                    for ws in WORKSPACES
                ],
            )
            create_mart(
                client,
                "marts.fct_saas_metrics_daily",
                [
                    {"workspace_id": "acme", "metric_date": day, "reporting_currency": "USD"}
                    for day in february
                ]
                + [
                    {"workspace_id": "globex", "metric_date": day, "mrr": 700, "paying_customers": 1}
                    for day in february
                ],
            )
        secrets, lookup = memory_keys(("acme", None))
        with TestClient(
            create_app(Settings(), key_lookup=lookup), headers={"Authorization": f"Bearer {secrets['acme']}"}
        ) as api:
            month = api.get(URL, params={"from": "2026-02-01", "to": "2026-02-28"})
            week = api.get(URL, params={"from": "2026-02-02", "to": "2026-02-15", "interval": "week"})
    assert month.status_code == 200 and week.status_code == 200, (month.text, week.text)
    (entry,) = month.json()["entries"]
    assert entry["paying_customers"] == 0
    rates = [m.name for m in METRIC_SUITE.metrics if m.kind == "rate"]
    assert {name: entry[name] for name in rates} == dict.fromkeys(rates)
    weeks = week.json()["entries"]
    assert [w["interval_start"] for w in weeks] == ["2026-02-02", "2026-02-09"]
    assert all(w["average_selling_price"] is None and w["arpa"] is None for w in weeks)
    assert all(w["mrr"] == 0 for w in weeks), "only acme's rows (globex has MRR)"
    assert week.json()["summary"]["mrr"] == {"current": 0, "previous": 0, "percentage_change": None}
