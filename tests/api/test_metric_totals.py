"""`/v1/metrics/all`: the SaaS metric suite per day, ISO week or calendar month, against the session's
simulated warehouse, each interval checked against a recomputation written here in Python over the day
mart's rows (a week's levels are its last day's, its flows the sum of its days; a month's MRR flows
are the sum of its days too), with the interval boundaries, the month that starts without customers,
and the 400s for a bad range or interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revops.api.main import create_app
from revops.api.queries import INTERVALS
from revops.api.routes.metrics import METRIC_SUITE
from revops.core.settings import Settings
from tests.api.conftest import memory_keys
from tests.api.test_machinery import assert_error
from tests.conftest import SIMULATED_AS_OF, SimulatedWarehouse
from tests.support import query

WORKSPACES = ("acme", "globex")
URL = "/v1/metrics/all"
STOCKS = [m.name for m in METRIC_SUITE.metrics if m.kind == "stock"]
FLOWS = [m.name for m in METRIC_SUITE.metrics if m.kind == "flow"]
MRR_FLOWS = [name for name in FLOWS if name.endswith("_mrr")]
TRAILING_30_DAY_RATES = {m.name: m.day for m in METRIC_SUITE.metrics if m.kind == "rate" and m.day != m.name}


@pytest.fixture(scope="module")
def client(simulated_warehouse: SimulatedWarehouse) -> Iterator[tuple[TestClient, dict[str, str]]]:
    secrets, lookup = memory_keys(*((workspace_id, None) for workspace_id in WORKSPACES))
    with simulated_warehouse.open():
        app = create_app(Settings(api_rate_limit_per_minute=1_000_000), key_lookup=lookup)
        with TestClient(app) as test_client:
            yield test_client, secrets


def totals(client: tuple[TestClient, dict[str, str]], workspace_id: str, **params: str) -> dict[str, Any]:
    test_client, secrets = client
    response = test_client.get(
        URL, params=params, headers={"Authorization": f"Bearer {secrets[workspace_id]}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def day_rows(simulated_warehouse: SimulatedWarehouse) -> dict[str, list[dict[str, Any]]]:
    """Every row of the day mart, per workspace, in date order."""
    with simulated_warehouse.open():
        rows = query("SELECT * FROM marts.fct_saas_metrics_daily ORDER BY workspace_id, metric_date")
    return {ws: [r for r in rows if r["workspace_id"] == ws] for ws in WORKSPACES}


def iso_week(day: date) -> date:
    year, week, _ = day.isocalendar()
    return date.fromisocalendar(year, week, 1)


@pytest.mark.parametrize("workspace_id", WORKSPACES)
def test_weeks_are_the_days_levels_at_their_end_and_the_sum_of_their_flows(
    client: Any, day_rows: dict[str, list[dict[str, Any]]], workspace_id: str
) -> None:
    days = day_rows[workspace_id]
    start = iso_week(days[0]["metric_date"])
    end = iso_week(days[-1]["metric_date"]) + timedelta(days=6)
    body = totals(
        client, workspace_id, **{"from": start.isoformat(), "to": end.isoformat(), "interval": "week"}
    )
    assert body["interval"] == "week" and body["rates_over"] == "trailing_30_days"
    expected = []
    for monday, week in groupby(days, key=lambda row: iso_week(row["metric_date"])):
        week = list(week)
        last = week[-1]
        entry = {"interval_start": monday.isoformat(), "date": last["metric_date"].isoformat()}
        entry |= {name: last[name] for name in STOCKS}
        entry |= {name: sum(row[name] for row in week) for name in FLOWS}
        entry |= {name: last[column] for name, column in TRAILING_30_DAY_RATES.items()}
        new_customers = sum(row["new_customers"] for row in week)
        new_mrr = sum(row["new_mrr"] for row in week)
        # Half away from zero, in integers: ASP of the week's new business.
        entry["average_selling_price"] = (
            None
            if new_customers == 0
            else (abs(new_mrr) * 2 + new_customers) // (2 * new_customers) * (1 if new_mrr >= 0 else -1)
        )
        expected.append(entry)
    served = [{key: entry[key] for key in expected[0]} for entry in body["entries"]]
    assert served == expected
    mondays = [date.fromisoformat(e["interval_start"]) for e in body["entries"]]
    assert all(monday.weekday() == 0 for monday in mondays)
    assert all(
        date.fromisoformat(e["date"]) == min(m + timedelta(days=6), SIMULATED_AS_OF)
        for m, e in zip(mondays, body["entries"], strict=True)
    )
    assert any(e["new_customers"] for e in body["entries"]) and any(e["churn_mrr"] for e in body["entries"])


@pytest.mark.parametrize("workspace_id", WORKSPACES)
def test_months_are_the_days_levels_at_the_months_end_and_the_sum_of_their_mrr_flows(
    client: Any, day_rows: dict[str, list[dict[str, Any]]], workspace_id: str
) -> None:
    body = totals(client, workspace_id, **{"from": "2025-01-01", "to": "2026-12-31"})
    assert body["interval"] == "month" and body["rates_over"] == "calendar_month"
    by_month = {
        month: list(days)
        for month, days in groupby(day_rows[workspace_id], key=lambda row: row["metric_date"].replace(day=1))
    }
    assert [e["interval_start"] for e in body["entries"]] == [m.isoformat() for m in by_month]
    for entry in body["entries"]:
        days = by_month[date.fromisoformat(entry["interval_start"])]
        assert entry["date"] == days[-1]["metric_date"].isoformat()
        assert {name: entry[name] for name in STOCKS} == {name: days[-1][name] for name in STOCKS}
        assert {name: entry[name] for name in MRR_FLOWS} == {
            name: sum(day[name] for day in days) for name in MRR_FLOWS
        }
    # The months end on their last day; the current one on the as-of day.
    assert body["entries"][-1]["date"] == SIMULATED_AS_OF.isoformat()
    assert all((date.fromisoformat(e["date"]) + timedelta(days=1)).day == 1 for e in body["entries"][:-1])
    # The first month starts without customers: its rates are null, not an error or a zero.
    first = body["entries"][0]
    assert first["logo_churn_rate"] is None and first["gross_mrr_churn_rate"] is None
    assert first["nrr"] is None and first["grr"] is None and first["paying_customers"] > 0
    mrr = body["summary"]["mrr"]
    assert (mrr["previous"], mrr["current"]) == (first["mrr"], body["entries"][-1]["mrr"])
    assert mrr["percentage_change"] == pytest.approx(
        (mrr["current"] - mrr["previous"]) / mrr["previous"] * 100
    )


@pytest.mark.parametrize("workspace_id", WORKSPACES)
def test_days_across_a_month_boundary_are_the_day_marts_rows(
    client: Any, day_rows: dict[str, list[dict[str, Any]]], workspace_id: str
) -> None:
    body = totals(client, workspace_id, **{"from": "2026-02-26", "to": "2026-03-03", "interval": "day"})
    expected = [
        row for row in day_rows[workspace_id] if date(2026, 2, 26) <= row["metric_date"] <= date(2026, 3, 3)
    ]
    assert [e["date"] for e in body["entries"]] == [row["metric_date"].isoformat() for row in expected]
    assert [e["mrr"] for e in body["entries"]] == [row["mrr"] for row in expected]
    assert [e["logo_churn_rate"] for e in body["entries"]] == [row["logo_churn_rate_30d"] for row in expected]


def test_each_workspace_gets_its_own_figures(client: Any, day_rows: dict[str, list[dict[str, Any]]]) -> None:
    served = {
        ws: totals(client, ws, **{"from": "2026-06-01", "to": "2026-06-30", "interval": "day"})
        for ws in WORKSPACES
    }
    for ws in WORKSPACES:
        assert [e["mrr"] for e in served[ws]["entries"]] == [
            row["mrr"]
            for row in day_rows[ws]
            if row["metric_date"].month == 6 and row["metric_date"].year == 2026
        ]
    assert served["acme"]["entries"] != served["globex"]["entries"]


@pytest.mark.parametrize(
    ("interval", "last_day", "mart"),
    [("month", "2026-06-30", "monthly"), ("week", "2026-06-28", "daily"), ("day", "2026-06-30", "daily")],
)
def test_totals_say_how_current_the_mart_they_read_is(
    client: Any, simulated_warehouse: SimulatedWarehouse, interval: str, last_day: str, mart: str
) -> None:
    """The freshness headers of every data response, from the mart the interval reads."""
    test_client, secrets = client
    with simulated_warehouse.open():
        (row,) = query(
            "SELECT data_as_of, is_stale FROM marts.dim_data_freshness "
            "WHERE workspace_id = 'acme' AND mart = {mart:String}",
            mart=f"marts.fct_saas_metrics_{mart}",
        )
    response = test_client.get(
        URL,
        params={"from": "2026-06-01", "to": last_day, "interval": interval},
        headers={"Authorization": f"Bearer {secrets['acme']}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Data-Stale"] == ("true" if row["is_stale"] else "false")
    as_of = row["data_as_of"]
    as_of = as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
    assert datetime.fromisoformat(response.headers["X-Data-As-Of"].replace("Z", "+00:00")) == as_of


# --- what is refused before any query (an empty warehouse is enough) ---


@pytest.fixture
def empty_api(revops_home: Path) -> Iterator[TestClient]:
    secrets, lookup = memory_keys(("acme", None))
    with TestClient(
        create_app(Settings(), key_lookup=lookup), headers={"Authorization": f"Bearer {secrets['acme']}"}
    ) as api:
        yield api


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"from": "2026-03-01", "to": "2026-01-31"}, "from", ["after"]),
        ({"from": "2026-01-01", "to": "2026-01-31", "interval": "year"}, "interval", list(INTERVALS)),
        ({"from": "2026-01-02", "to": "2026-01-31"}, "from", ["2026-01-01"]),
        ({"from": "2026-01-01", "to": "2026-01-30"}, "to", ["2026-01-31"]),
        ({"from": "2026-01-06", "to": "2026-01-18", "interval": "week"}, "from", ["2026-01-05"]),
        ({"from": "2026-01-05", "to": "2026-01-17", "interval": "week"}, "to", ["2026-01-18"]),
        ({"from": "2000-01-01", "to": "2026-12-31", "interval": "day"}, "to", ["2000"]),
        ({"to": "2026-01-31"}, "from", []),
        ({"from": "2026-01-01", "to": "2026-13-01"}, "to", []),
    ],
)
def test_a_bad_range_or_interval_is_a_400_naming_the_parameter(
    empty_api: TestClient, params: dict[str, str], param: str, words: list[str]
) -> None:
    error = assert_error(
        empty_api.get(URL, params=params), 400, "invalid_request_error", "parameter_invalid", param
    )
    assert all(word in error["message"] for word in words), error
