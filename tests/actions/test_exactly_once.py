"""Killing a dunning run at any point and running it again sends no email twice and never pays an
invoice twice, checked against the simulator's SMTP server and its record of Stripe calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from revops.actions import log
from revops.actions.adapters import Adapters, message_id
from revops.actions.executor import ExecutionReport, execute_queue
from revops.actions.lease import live_claims
from revops.core.paths import REPO_ROOT
from revops.core.warehouse import connect
from tests.actions.conftest import (
    CLOCK,
    Dunning,
    adapters_for,
    end_killed_runs_leases,
    open_items,
    policy_for,
)
from tests.actions.smtp_servers import FaultySmtp


def _pay_calls(dunning: Dunning) -> Counter[str]:
    """Payment attempts the simulated Stripe performed per invoice (idempotent replays perform none)."""
    return Counter(a.invoice_id for a in dunning.world.actions.actions("acme") if a.kind == "invoice_pay")


def _spec(dunning: Dunning, items: list, smtp: tuple[str, int] | None = None, **fields: object) -> dict:
    host, port = smtp or (dunning.mailbox.host, dunning.mailbox.port)
    return {
        "items": [log.item_json(item) for item in items],
        "crash_key": "",
        "point": "never",
        "stripe_base_url": dunning.server.stripe_base_url,
        "keys": {ws.id: ws.stripe_api_key for ws in dunning.world.workspaces},
        "smtp_host": host,
        "smtp_port": port,
        "now": CLOCK.isoformat(),
        **fields,
    }


def _start(spec: dict, spec_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    spec_path.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.actions.crashing_run", str(spec_path)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _crash(
    dunning: Dunning,
    items: list,
    crash_key: str,
    point: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
) -> int:
    process = _start(_spec(dunning, items, crash_key=crash_key, point=point), tmp_path / "spec.json", env)
    process.communicate(timeout=300)
    return process.returncode


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


def test_two_executors_at_once_act_on_each_item_once(dunning: Dunning, tmp_path: Path) -> None:
    items = open_items(dunning.world)
    emails = [item for item in items if item.action == "email"]
    retries = [item for item in items if item.action == "retry"]
    go = tmp_path / "go"
    # A slow mail server (1 s per message) keeps the first executor busy while the second starts.
    with FaultySmtp(data_pause_s=1.0) as smtp:
        processes = {
            run: _start(
                _spec(
                    dunning,
                    items,
                    (smtp.host, smtp.port),
                    run_id=run,
                    ready_path=str(tmp_path / f"{run}.ready"),
                    go_path=str(go),
                    report_path=str(tmp_path / f"{run}.json"),
                ),
                tmp_path / f"{run}.spec.json",
            )
            for run in ("first", "second")
        }
        deadline = time.monotonic() + 300
        while not all((tmp_path / f"{run}.ready").exists() for run in processes):
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes.values())
            time.sleep(0.05)
        go.touch()  # both at once
        for run, process in processes.items():
            _, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, (run, stderr[-3000:])

    # What the mail server and the simulated Stripe received: each email once, each invoice paid once.
    assert Counter(smtp.received.message_ids) == {message_id(e): 1 for e in emails}
    assert _pay_calls(dunning) == {r.invoice_id: 1 for r in retries}
    reports = {run: json.loads((tmp_path / f"{run}.json").read_text()) for run in processes}
    acted = [run for run, report in reports.items() if report["results"]]
    assert len(acted) == 1, reports
    (other,) = set(reports) - set(acted)
    assert sorted(status for _, status, _ in reports[acted[0]]["results"]) == ["sent"] * len(items)
    assert list(reports[other]["skipped_workspaces"]) == ["acme"]
    assert f"run {acted[0]}" in reports[other]["skipped_workspaces"]["acme"]


def test_a_crashed_holders_lease_keeps_others_out_until_it_lapses(
    dunning: Dunning, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = open_items(dunning.world)
    emails = [item for item in items if item.action == "email"]
    policies = {"acme": policy_for("acme")}
    # The killed run's lease lapses 15 s after it last renewed it (just before the email it sent).
    ttl = {"REVOPS_DUNNING_LEASE_TTL_S": "15"}
    assert _crash(dunning, items, emails[0].idempotency_key, "after_effect", tmp_path, ttl) == -9

    blocked = execute_queue(items, policies, dunning.adapters(), CLOCK, "while-leased")

    assert blocked.results == [] and "crashing-run" in blocked.skipped_workspaces["acme"]
    # The in-flight email is not settled by an executor without the lease: it is still pending.
    assert log.latest_attempts()[emails[0].idempotency_key].status == "pending"
    with connect() as client:
        (claim,) = live_claims(client, "acme")
    while True:
        with connect() as client:
            if not live_claims(client, "acme"):
                break
        time.sleep(0.2)

    after = execute_queue(items, policies, dunning.adapters(), CLOCK, "after-the-lapse")

    assert {key: (status, reason) for key, status, reason in _results(after)}[emails[0].idempotency_key] == (
        "skipped",
        "outcome_unknown",
    )
    assert Counter(m.message_id for m in dunning.mailbox.messages) == {message_id(e): 1 for e in emails}
    assert _pay_calls(dunning) == {r.invoice_id: 1 for r in items if r.action == "retry"}
    assert claim.holder.endswith("run crashing-run")


def _results(report: ExecutionReport) -> list[tuple[str, str, str]]:
    return [(item.idempotency_key, status, reason) for item, status, reason in report.results]


def test_one_process_executing_the_queue_twice_at_once_acts_once(dunning: Dunning) -> None:
    items = open_items(dunning.world)
    emails = [item for item in items if item.action == "email"]
    policies = {"acme": policy_for("acme")}
    start = threading.Barrier(2, timeout=120)
    reports: dict[str, ExecutionReport] = {}
    errors: list[BaseException] = []

    with FaultySmtp(data_pause_s=1.0) as smtp:
        # Built here, one after the other: the simulator's registry writes files it cannot share.
        adapters = {run_id: _adapters(dunning, (smtp.host, smtp.port)) for run_id in ("one", "two")}

        def run(run_id: str) -> None:
            try:
                start.wait()
                reports[run_id] = execute_queue(items, policies, adapters[run_id], CLOCK, run_id)
            except BaseException as error:  # surfaced below, not lost in the thread
                errors.append(error)
                start.abort()

        threads = [threading.Thread(target=run, args=(run_id,)) for run_id in ("one", "two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)

    assert not errors, errors
    assert Counter(smtp.received.message_ids) == {message_id(e): 1 for e in emails}
    assert _pay_calls(dunning) == {r.invoice_id: 1 for r in items if r.action == "retry"}
    acted = [run for run, report in reports.items() if report.results]
    assert len(acted) == 1 and len(reports) == 2, reports
    (other,) = set(reports) - set(acted)
    assert f"run {acted[0]}" in reports[other].skipped_workspaces["acme"]


def _adapters(dunning: Dunning, smtp: tuple[str, int]) -> Adapters:
    return adapters_for(dunning.world, dunning.server, *smtp)
