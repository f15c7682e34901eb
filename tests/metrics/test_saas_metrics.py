"""The metric marts against an independent recomputation in Python (tests/metrics/recomputation.py),
in both simulated workspaces, on the shared session warehouse. The empty month and the currency without
a rate are dbt unit tests (`_saas_metrics__unit_tests.yml`), checked here to have run and passed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

import pytest

from tests.conftest import SimulatedWarehouse
from tests.metrics.recomputation import (
    Movement,
    Trial,
    WorkspaceFacts,
    cohort_retention,
    daily_metrics,
    monthly_metrics,
    recovery_curves,
)
from tests.support import query

WORKSPACES = ("acme", "globex")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    return (parent.get("subscription_details") or {}).get("subscription") or invoice.get("subscription")


def _facts(warehouse: SimulatedWarehouse, workspace: str) -> WorkspaceFacts:
    with warehouse.open():
        # The ledger's as-of day (int_ledger__as_of is ephemeral): the trial balance runs to it.
        as_of = query(
            "SELECT max(balance_date) AS as_of FROM marts.fct_account_balances_daily "
            "WHERE workspace_id = {ws:String}",
            ws=workspace,
        )
        mrr_rows = query(
            "SELECT mrr_date, customer_id, currency, reporting_currency, mrr FROM marts.fct_mrr_daily "
            "WHERE workspace_id = {ws:String}",
            ws=workspace,
        )
        movements = query(
            "SELECT movement_date, customer_id, movement_type, mrr_change FROM marts.fct_mrr_movements "
            "WHERE workspace_id = {ws:String}",
            ws=workspace,
        )
    facts = WorkspaceFacts(
        as_of_at=datetime.combine(as_of[0]["as_of"], time(23, 59, 59, 999000), UTC),
        reporting_currency=mrr_rows[0]["reporting_currency"],
        first_mrr_date=min(row["mrr_date"] for row in mrr_rows),
    )
    for row in mrr_rows:
        if row["mrr"] is None:
            facts.unconverted[row["mrr_date"]].add(row["currency"])
        else:
            day = facts.levels[row["mrr_date"]]
            day[row["customer_id"]] = day.get(row["customer_id"], 0) + row["mrr"]
    for day in facts.levels.values():
        for customer in [customer for customer, mrr in day.items() if mrr <= 0]:
            del day[customer]
    facts.movements = [
        Movement(row["movement_date"], row["customer_id"], row["movement_type"], row["mrr_change"])
        for row in movements
    ]
    objects = warehouse.world.ground_truth(workspace).objects
    paid = {
        _invoice_subscription(invoice)
        for invoice in objects["invoices"]
        if invoice["status"] == "paid" and invoice["amount_paid"] > 0
    }
    for subscription in objects["subscriptions"]:
        if not subscription.get("trial_start") or not subscription.get("trial_end"):
            continue
        ended = min(subscription["trial_end"], subscription.get("ended_at") or subscription["trial_end"])
        ended_at = datetime.fromtimestamp(ended, UTC)
        if subscription["id"] in paid or ended_at <= facts.as_of_at:
            facts.trials.append(Trial(ended_at, subscription["id"] in paid))
    return facts


def _mart_rows(warehouse: SimulatedWarehouse, table: str, workspace: str) -> list[dict[str, Any]]:
    with warehouse.open():
        return query(f"SELECT * FROM marts.{table} WHERE workspace_id = {{ws:String}}", ws=workspace)


def _assert_rows_equal(actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    assert set(actual) == set(expected)
    for key, expected_row in expected.items():
        row = actual[key]
        for column, value in expected_row.items():
            if column == "arpa_exact":
                continue
            got = row[column]
            if column in ("ltv", "ltv_30d") and value is not None and got is not None:
                assert abs(got - value) <= 1, (key, column, got, value)  # a float quotient, rounded
            elif isinstance(value, float):
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), (key, column, got, value)
            else:
                assert got == value, (key, column, got, value)


@pytest.fixture(scope="module", params=WORKSPACES)
def workspace_facts(request: pytest.FixtureRequest, simulated_warehouse: SimulatedWarehouse):
    return request.param, _facts(simulated_warehouse, request.param)


def test_monthly_metrics_equal_the_recomputation(
    simulated_warehouse: SimulatedWarehouse, workspace_facts: tuple[str, WorkspaceFacts]
) -> None:
    workspace, facts = workspace_facts
    rows = _mart_rows(simulated_warehouse, "fct_saas_metrics_monthly", workspace)
    expected = monthly_metrics(facts)
    assert len(expected) >= 12
    # The simulated businesses churn, expand and contract: the figures below are not all trivial.
    assert any(row["logo_churn_rate"] for row in expected.values())
    assert any(row["ltv"] for row in expected.values())
    assert any(row["trials_converted"] for row in expected.values())
    _assert_rows_equal({row["metric_month"]: row for row in rows}, expected)


def test_daily_metrics_equal_the_recomputation(
    simulated_warehouse: SimulatedWarehouse, workspace_facts: tuple[str, WorkspaceFacts]
) -> None:
    workspace, facts = workspace_facts
    rows = _mart_rows(simulated_warehouse, "fct_saas_metrics_daily", workspace)
    expected = daily_metrics(facts)
    _assert_rows_equal({row["metric_date"]: row for row in rows}, expected)


def test_cohort_retention_equals_the_recomputation(
    simulated_warehouse: SimulatedWarehouse, workspace_facts: tuple[str, WorkspaceFacts]
) -> None:
    workspace, facts = workspace_facts
    rows = _mart_rows(simulated_warehouse, "fct_cohort_retention", workspace)
    expected = cohort_retention(facts)
    assert any(row["customer_retention_rate"] < 1 for row in expected.values())
    by_key = {(row["cohort_month"], row["months_since_first_payment"]): row for row in rows}
    _assert_rows_equal(by_key, expected)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_recovery_curves_equal_the_simulators_episodes(
    simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    rows = _mart_rows(simulated_warehouse, "fct_recovery_curves", workspace)
    measured_at = _utc(rows[0]["measured_at"])
    # No dunning policy is in force in the shared warehouse: every episode is not_enrolled
    # (tests/recovery/test_recovery_models.py).
    episodes = [
        (episode.first_failed_at, episode.recovered_at, "not_enrolled")
        for episode in simulated_warehouse.world.recovery_truth(workspace)
    ]
    expected = recovery_curves(episodes, round(measured_at.timestamp() * 1000))
    assert any(row["recovered_share"] for row in expected.values())
    by_key = {(row["cohort_month"], row["dunning_cohort"], row["days_since_failure"]): row for row in rows}
    _assert_rows_equal(by_key, expected)


def test_the_empty_month_unit_test_ran_and_passed(simulated_warehouse: SimulatedWarehouse) -> None:
    run_results = simulated_warehouse.home / "dbt_target" / "run_results.json"
    results = json.loads(run_results.read_text())["results"]
    statuses = {result["unique_id"].rsplit(".", 1)[-1]: result["status"] for result in results}
    unit_test = "fct_saas_metrics_monthly_month_without_customers_and_a_currency_without_a_rate"
    assert statuses[unit_test] == "pass"
