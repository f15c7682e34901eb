"""The uplift's confidence interval: Newcombe's hybrid score interval, checked against the published
examples and computed by the model exactly as the reference does."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from revops.core.warehouse import connect, ensure_databases
from tests.support import isolated_warehouse, query, run_dbt

Z = 1.959963984540054  # the 97.5th percentile of the standard normal distribution


def wilson(successes: int, trials: int) -> tuple[float, float]:
    p = successes / trials
    centre = p + Z * Z / (2 * trials)
    spread = Z * math.sqrt(p * (1 - p) / trials + Z * Z / (4 * trials * trials))
    return (centre - spread) / (1 + Z * Z / trials), (centre + spread) / (1 + Z * Z / trials)


def newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """95% interval of x1/n1 - x2/n2 (Newcombe 1998, method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    (l1, u1), (l2, u2) = wilson(x1, n1), wilson(x2, n2)
    return p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


@pytest.mark.parametrize(
    ("counts", "published"),
    [((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090))],
)
def test_the_reference_gives_newcombes_published_intervals(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    assert newcombe(*counts) == pytest.approx(published, abs=5e-5)


AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
# workspace → (treatment recovered, treatment episodes, holdout recovered, holdout episodes), all
# failed 20 days before AS_OF and recovered (if at all) 3 days after failing.
COHORTS = {"acme": (56, 70, 48, 80), "globex": (2, 2, 5, 10), "initech": (0, 4, 4, 4)}


def test_the_model_computes_the_reference_interval(revops_home: Path) -> None:
    failed_at = AS_OF - timedelta(days=20)
    rows = []
    for workspace, (x1, n1, x2, n2) in COHORTS.items():
        for cohort, recovered, episodes in (("treatment", x1, n1), ("holdout", x2, n2)):
            for i in range(episodes):
                recovered_at = failed_at + timedelta(days=3) if i < recovered else None
                rows.append([workspace, "v1", cohort, failed_at, recovered_at])
    with isolated_warehouse(revops_home):
        with connect() as client:
            ensure_databases(client)
            # The one parent the model reads, with the columns it uses.
            client.command(
                "CREATE TABLE marts.fct_failed_payment_episodes (workspace_id String, "
                "policy_version Nullable(String), dunning_cohort String, "
                "first_failed_at DateTime64(3, 'UTC'), recovered_at Nullable(DateTime64(3, 'UTC'))) "
                "ENGINE = MergeTree ORDER BY workspace_id"
            )
            client.insert(
                "marts.fct_failed_payment_episodes",
                rows,
                column_names=[
                    "workspace_id",
                    "policy_version",
                    "dunning_cohort",
                    "first_failed_at",
                    "recovered_at",
                ],
            )
        as_of = AS_OF.strftime("%Y-%m-%d %H:%M:%S")
        run = run_dbt(
            revops_home,
            "build",
            "--select",
            "agg_recovery_uplift",
            "--vars",
            f"{{as_of: '{as_of}'}}",
        )
        run.assert_ok()
        built = query("SELECT * FROM marts.agg_recovery_uplift WHERE horizon_days = 7")
    assert {row["workspace_id"] for row in built} == set(COHORTS)
    for row in built:
        x1, n1, x2, n2 = COHORTS[row["workspace_id"]]
        low, high = newcombe(x1, n1, x2, n2)
        assert (row["treatment_recovered"], row["treatment_episodes"]) == (x1, n1)
        assert (row["holdout_recovered"], row["holdout_episodes"]) == (x2, n2)
        assert row["uplift"] == pytest.approx(x1 / n1 - x2 / n2, abs=1e-12)
        assert (row["uplift_ci_low"], row["uplift_ci_high"]) == pytest.approx((low, high), abs=1e-12)
        assert -1 <= row["uplift_ci_low"] <= row["uplift"] <= row["uplift_ci_high"] <= 1
