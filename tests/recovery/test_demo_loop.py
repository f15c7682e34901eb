"""The demo's daily loop, two days at a small scale: load, recovery models, sensor, dunning run; the
simulator's customers receive the emails and the next load shows what they did."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from rich.console import Console

from revops.core.settings import get_settings
from revops_simulator import World
from revops_simulator.actions import ActionLog, action_log_path
from revops_simulator.demo import run_demo
from revops_simulator.settings import SimulatorSettings
from tests.support import isolated_warehouse, query

pytestmark = pytest.mark.slow

SEED, SCALE = 7, 0.25
END = date(2026, 10, 20)
"""Both workspaces have a payment failing before 14:00 on the last day (seed 7, scale 0.25)."""


def test_two_demo_days_dun_the_new_failures_and_the_warehouse_matches_the_simulator(tmp_path: Path) -> None:
    home = tmp_path / "revops"
    simulator = SimulatorSettings(seed=SEED, scale=SCALE)
    with isolated_warehouse(home), (tmp_path / "demo.log").open("w") as output:
        settings = get_settings()
        days = run_demo(
            Console(file=output), 2, END, holdout_share=0.0, settings=settings, simulator=simulator
        )
        episodes = query("SELECT * FROM marts.fct_failed_payment_episodes WHERE dunning_cohort = 'treatment'")
        log = query("SELECT * FROM raw.dunning_actions ORDER BY recorded_at")

    assert [day.moment for day in days] == [
        datetime(2026, 10, 19, 14, tzinfo=UTC),
        datetime(2026, 10, 20, 14, tzinfo=UTC),
    ]
    assert {row["workspace_id"] for row in episodes} == {"acme", "globex"}
    # Each new failure got its first step, the payment-failed email, once.
    sent = [row for row in log if row["status"] == "sent"]
    assert Counter(row["step_name"] for row in sent) == {"payment_failed_email": 2}
    assert {row["invoice_id"] for row in sent} == {row["invoice_id"] for row in episodes}
    # The simulator's mailbox delivered exactly those, and its world agrees with the warehouse.
    world = World(
        SEED,
        datetime(2026, 10, 20, 23, 59, tzinfo=UTC),
        SCALE,
        ActionLog(action_log_path(settings.home, SEED, SCALE)),
    )
    delivered = [action for action in world.actions.actions() if action.kind == "email_delivered"]
    assert sorted(action.invoice_id for action in delivered) == sorted(row["invoice_id"] for row in sent)
    for row in episodes:
        truth = next(
            e for e in world.recovery_truth(row["workspace_id"]) if e.invoice_id == row["invoice_id"]
        )
        assert (row["outcome"], row["recovery_path"], row["amount_recovered"]) == (
            truth.outcome,
            truth.recovery_path,
            truth.amount_recovered,
        )
