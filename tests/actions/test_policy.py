"""Dunning policies: the shipped files parse, bad files are refused naming the field, holdout is sticky
and the same in Python and SQL, and `decide` stops every action that must not happen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from revops.actions.policy import PolicyError, QueueItem, decide, holdout_bucket, load_policies, parse_policy
from revops.core.settings import get_settings
from revops_simulator import World
from tests.actions.conftest import CLOCK, open_items, policy_for
from tests.support import isolated_warehouse, query

SHIPPED = get_settings().dunning_policies_dir


def test_the_shipped_policies_parse_and_start_in_dry_run() -> None:
    policies = load_policies(SHIPPED)
    assert set(policies) == {"acme", "globex"}
    for policy in policies.values():
        assert not policy.live
        assert [step.offset_days for step in policy.steps] == sorted(
            step.offset_days for step in policy.steps
        )
        retries = [step for step in policy.steps if step.action == "retry"]
        assert retries and all(step.decline_categories == ("soft",) for step in retries)


def _raw() -> dict:
    return yaml.safe_load((SHIPPED / "acme.yaml").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("version"), "missing `version`"),
        (lambda p: p.update(live="yes"), "`live` must be bool"),
        (lambda p: p.update(timezone="Mars/Olympus"), "unknown `timezone`"),
        (lambda p: p.update(effective_from="2026-11-01T00:00:00"), "needs a UTC offset"),
        (lambda p: p["holdout"].update(share=1.5), "holdout share"),
        (lambda p: p["steps"][0].update(action="sms"), r"steps\[0\]: `action` must be one of"),
        (lambda p: p["steps"][1].update(offset_days=-1), r"steps\[1\]: steps must be in order"),
        (lambda p: p["steps"][0].pop("template"), r"steps\[0\]: an email step needs `template`"),
        (lambda p: p["steps"][2].update(decline_categories=["maybe"]), r"steps\[2\]: `decline_categories`"),
        (lambda p: p["steps"].append(dict(p["steps"][0], offset_days=30)), "used twice"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _raw()
    change(raw)
    with pytest.raises(PolicyError, match=message):
        parse_policy(raw, "acme.yaml")


def test_a_policy_file_must_be_named_after_its_workspace(tmp_path: Path) -> None:
    (tmp_path / "globex.yaml").write_text((SHIPPED / "acme.yaml").read_text())
    with pytest.raises(PolicyError, match="file name says 'globex'"):
        load_policies(tmp_path)


def test_holdout_is_sticky_close_to_its_share_and_the_same_in_sql(tmp_path: Path) -> None:
    policy = replace(policy_for("acme"), holdout_basis_points=2_000)
    customers = [f"cus_{n:05d}" for n in range(4_000)]
    held = [customer for customer in customers if policy.is_holdout(customer)]
    assert 0.17 < len(held) / len(customers) < 0.23
    assert held == [customer for customer in customers if policy.is_holdout(customer)]
    # Another salt reshuffles; the same salt in another workspace is another draw.
    assert held != [c for c in customers if replace(policy, holdout_salt="other").is_holdout(c)]
    sample = customers[:50]
    with isolated_warehouse(tmp_path / "revops"):
        rows = query(
            "SELECT c, reinterpretAsUInt64(reverse(substring(MD5(concat('acme', ':', c, ':', 'test')),"
            " 1, 8))) % 10000 AS bucket FROM (SELECT arrayJoin({customers:Array(String)}) AS c)",
            customers=sample,
        )
    assert {row["c"]: row["bucket"] for row in rows} == {c: holdout_bucket("acme", c, "test") for c in sample}


@pytest.fixture(scope="module")
def item() -> QueueItem:
    return next(i for i in open_items(World(7, CLOCK, 0.25)) if i.action == "retry")


def test_decide_executes_a_due_item_of_a_live_policy(item) -> None:  # type: ignore[no-untyped-def]
    assert decide(item, policy_for("acme"), CLOCK, 0, False).verdict == "execute"


@pytest.mark.parametrize(
    ("policy_change", "item_change", "now_change", "done_today", "kill", "expected"),
    [
        ({}, {}, {}, 0, True, ("deferred", "kill_switch")),
        ({"live": False}, {}, {}, 0, False, ("deferred", "dry_run")),
        ({"holdout_basis_points": 10_000}, {}, {}, 0, False, ("skipped", "holdout")),
        ({"version": "test.2"}, {}, {}, 0, False, ("deferred", "policy_changed")),
        ({}, {"is_retryable": False, "decline_category": "hard"}, {}, 0, False, ("skipped", "not_retryable")),
        ({}, {"attempts_in_window": 8}, {}, 0, False, ("skipped", "retry_budget_exhausted")),
        ({}, {}, {"hours": -1}, 0, False, ("deferred", "not_due")),
        ({}, {}, {}, 100, False, ("deferred", "daily_cap")),
        (
            {"quiet_start": time(21), "quiet_end": time(8), "timezone": ZoneInfo("Asia/Tokyo")},
            {},
            {},
            0,
            False,
            ("deferred", "quiet_hours"),
        ),
    ],
)
def test_decide_takes_no_action_that_must_not_happen(  # type: ignore[no-untyped-def]
    item, policy_change, item_change, now_change, done_today, kill, expected
) -> None:
    policy = replace(policy_for("acme"), **policy_change)
    due = replace(item, **item_change)
    now = CLOCK + timedelta(**now_change) if now_change else CLOCK
    if now_change:
        due = replace(due, due_at=CLOCK)
    decision = decide(due, policy, now, done_today, kill)
    assert (decision.verdict, decision.reason) == expected


def test_quiet_hours_wrap_midnight_in_the_policy_zone() -> None:
    policy = replace(
        policy_for("globex"), quiet_start=time(21), quiet_end=time(8), timezone=ZoneInfo("Europe/London")
    )
    assert policy.in_quiet_hours(datetime(2026, 11, 2, 22, 30, tzinfo=UTC))
    assert policy.in_quiet_hours(datetime(2026, 11, 2, 7, 59, tzinfo=UTC))
    assert not policy.in_quiet_hours(datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    # 08:30 in London is 03:30 in New York.
    assert replace(policy, timezone=ZoneInfo("America/New_York")).in_quiet_hours(
        datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    )
