"""Killing a dunning run at any point and running it again sends no email twice and never pays an
invoice twice, checked against the simulator's SMTP server and its record of Stripe calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from revops.actions import log
from revops.actions.executor import execute_queue
from revops.core.paths import REPO_ROOT
from tests.actions.conftest import CLOCK, Dunning, end_killed_runs_leases, open_items, policy_for


def _pay_calls(dunning: Dunning) -> Counter[str]:
    """Payment attempts the simulated Stripe performed per invoice (idempotent replays perform none)."""
    return Counter(a.invoice_id for a in dunning.world.actions.actions("acme") if a.kind == "invoice_pay")


def _crash(dunning: Dunning, items: list, crash_key: str, point: str, tmp_path: Path) -> int:
    spec = {
        "items": [log.item_json(item) for item in items],
        "crash_key": crash_key,
        "point": point,
        "stripe_base_url": dunning.server.stripe_base_url,
        "keys": {ws.id: ws.stripe_api_key for ws in dunning.world.workspaces},
        "smtp_host": dunning.mailbox.host,
        "smtp_port": dunning.mailbox.port,
        "now": CLOCK.isoformat(),
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    completed = subprocess.run(
        [sys.executable, "-m", "tests.actions.crashing_run", str(spec_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return completed.returncode


def test_runs_killed_at_every_point_and_rerun_act_at_most_once(dunning: Dunning, tmp_path: Path) -> None:
    items = open_items(dunning.world)
    emails = [item for item in items if item.action == "email"]
    retries = [item for item in items if item.action == "retry"]
    assert len(emails) == len(retries) == 2
    # Each run dies at one point; the next one first reconciles what the dead one left pending
    # (the last run dies while reconciling), then carries on with the same, stale, queue.
    crashes = [
        (emails[0], "before_effect"),
        (retries[0], "after_effect"),
        (emails[1], "after_effect"),
        (retries[1], "before_effect"),
        (retries[1], "after_outcome"),
    ]
    for item, point in crashes:
        end_killed_runs_leases()  # a run within the killed one's lease would skip the workspace
        assert _crash(dunning, items, item.idempotency_key, point, tmp_path) == -9, (item, point)

    end_killed_runs_leases()
    report = execute_queue(
        items, {"acme": policy_for("acme")}, dunning.adapters(), CLOCK, "after-the-crashes"
    )

    assert report.results == []
    latest = log.latest_attempts()
    # SMTP cannot dedupe: an email whose outcome is unknown is closed, never sent again. The one
    # killed before sending is lost (at most once); the one killed after sending went once.
    assert [(latest[e.idempotency_key].status, latest[e.idempotency_key].reason) for e in emails] == [
        ("skipped", "outcome_unknown"),
        ("skipped", "outcome_unknown"),
    ]
    assert Counter(m.invoice_id for m in dunning.mailbox.messages) == {emails[1].invoice_id: 1}
    # Stripe calls are repeated with the same idempotency key: each invoice's retry happened once.
    assert all(latest[r.idempotency_key].status == "sent" for r in retries)
    assert _pay_calls(dunning) == {r.invoice_id: 1 for r in retries}


def test_rerunning_a_finished_run_does_nothing(dunning: Dunning) -> None:
    items = open_items(dunning.world)
    policies = {"acme": policy_for("acme")}
    first = execute_queue(items, policies, dunning.adapters(), CLOCK, "first")
    assert Counter(status for _, status, _ in first.results) == {"sent": len(items)}
    messages, calls = len(dunning.mailbox.messages), _pay_calls(dunning)

    second = execute_queue(items, policies, dunning.adapters(), CLOCK, "second")

    assert second.results == []
    assert len(dunning.mailbox.messages) == messages == len(items) // 2
    assert _pay_calls(dunning) == calls
    assert all(m.template == "payment_failed" for m in dunning.mailbox.messages)
