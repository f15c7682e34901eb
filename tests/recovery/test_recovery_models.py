"""The recovery marts against the simulator's ground truth, on the shared simulated warehouse, and the
episode and queue logic on hand-built histories (dbt unit tests, run by every `dbt build`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import SimulatedWarehouse
from tests.support import query

WORKSPACES = ("acme", "globex")


def _timestamp(value: datetime | None) -> int | None:
    if value is None:
        return None
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_episodes_equal_the_simulators_ground_truth(
    simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    truth = {episode.invoice_id: episode for episode in simulated_warehouse.world.recovery_truth(workspace)}
    with simulated_warehouse.open():
        rows = query(
            "SELECT * FROM marts.fct_failed_payment_episodes WHERE workspace_id = {ws:String}", ws=workspace
        )
    assert truth, "the simulated world should have failed payments"
    assert {row["invoice_id"] for row in rows} == set(truth)
    for row in rows:
        expected = truth[row["invoice_id"]]
        assert row["customer_id"] == expected.customer_id
        assert (row["amount_at_risk"], row["currency"]) == (expected.amount_at_risk, expected.currency)
        assert _timestamp(row["first_failed_at"]) == expected.first_failed_at
        assert row["decline_code"] == expected.decline_code
        assert row["attempt_count"] == expected.attempt_count
        assert row["outcome"] == expected.outcome
        assert _timestamp(row["recovered_at"]) == expected.recovered_at
        assert row["amount_recovered"] == expected.amount_recovered
        assert row["recovery_path"] == expected.recovery_path
        assert row["days_to_recovery"] == expected.days_to_recovery


def test_cohorts_add_up_to_the_episodes(simulated_warehouse: SimulatedWarehouse) -> None:
    with simulated_warehouse.open():
        episodes = query(
            "SELECT workspace_id, currency, count() AS n, sum(amount_at_risk) AS at_risk, "
            "countIf(recovered_at IS NOT NULL AND recovered_at <= first_failed_at + INTERVAL 60 DAY "
            "AND first_failed_at + INTERVAL 60 DAY <= now64()) AS recovered_60 "
            "FROM marts.fct_failed_payment_episodes GROUP BY ALL"
        )
        cohorts = query(
            "SELECT workspace_id, currency, sum(episodes) AS n, sum(recovered_episodes) AS recovered_60 "
            "FROM marts.fct_recovery_cohorts WHERE decline_category = 'all' AND dunning_cohort = 'all' "
            "AND days_since_failure = 60 GROUP BY ALL"
        )
        shares = query(
            "SELECT min(recovered_share_by_count) AS low, max(recovered_share_by_count) AS high "
            "FROM marts.fct_recovery_cohorts"
        )
    by_key = {(row["workspace_id"], row["currency"]): row for row in cohorts}
    assert len(by_key) == len(episodes)
    for row in episodes:
        cohort = by_key[row["workspace_id"], row["currency"]]
        assert (cohort["n"], cohort["recovered_60"]) == (row["n"], row["recovered_60"])
    assert 0 <= shares[0]["low"] <= shares[0]["high"] <= 1


def test_without_a_policy_in_force_nobody_is_enrolled_or_queued(
    simulated_warehouse: SimulatedWarehouse,
) -> None:
    with simulated_warehouse.open():
        cohorts = query("SELECT DISTINCT dunning_cohort FROM marts.fct_failed_payment_episodes")
        queued = query("SELECT count() AS n FROM marts.dunning_queue")
    assert [row["dunning_cohort"] for row in cohorts] == ["not_enrolled"]
    assert queued[0]["n"] == 0


def test_the_episode_and_queue_unit_tests_ran_and_passed(simulated_warehouse: SimulatedWarehouse) -> None:
    results = json.loads((simulated_warehouse.home / "dbt_target" / "run_results.json").read_text())[
        "results"
    ]
    statuses = {
        result["unique_id"].rsplit(".", 1)[-1]: result["status"]
        for result in results
        if result["unique_id"].startswith("unit_test.revops.")
    }
    assert statuses["fct_failed_payment_episodes_paths_outcomes_and_cohorts"] == "pass"
    assert statuses["dunning_queue_next_due_step_of_open_treatment_episodes"] == "pass"
