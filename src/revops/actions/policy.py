"""Dunning policies: the versioned per-workspace config files, and the decision for one due action.

A policy file (`dunning/policies/<workspace>.yaml`, docs/recovery.md) lists ordered steps with day
offsets from the first failed payment. The warehouse decides *which* step of which episode is due
(`marts.dunning_queue`: holdout customers, recovered invoices and done steps excluded); `decide` then
applies the gates that depend on the moment of execution: the kill switch, retryability and the retry
budget, quiet hours, the daily cap and whether the workspace has turned live actions on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

ActionType = Literal["email", "retry", "webhook", "mark_uncollectible"]
ACTION_TYPES: tuple[ActionType, ...] = ("email", "retry", "webhook", "mark_uncollectible")
DECLINE_CATEGORIES = ("soft", "hard", "card_update_needed")
EMAIL_TEMPLATES = ("payment_failed", "card_update", "final_notice")
HOLDOUT_BUCKETS = 10_000
"""Holdout shares are kept in basis points; a customer's bucket is its hash modulo this."""


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    action: ActionType
    offset_days: int
    template: str | None = None
    decline_categories: tuple[str, ...] = DECLINE_CATEGORIES


@dataclass(frozen=True)
class Policy:
    workspace_id: str
    version: str
    effective_from: datetime
    live: bool
    timezone: ZoneInfo
    quiet_start: time
    quiet_end: time
    daily_cap: int
    holdout_basis_points: int
    holdout_salt: str
    retry_max_attempts: int
    retry_window_days: int
    steps: tuple[Step, ...]

    def is_holdout(self, customer_id: str) -> bool:
        """Sticky, deterministic holdout membership; the same hash as the recovery models' SQL."""
        return holdout_bucket(self.workspace_id, customer_id, self.holdout_salt) < self.holdout_basis_points

    def in_quiet_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.timezone).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def local_day(self, moment: datetime) -> str:
        return moment.astimezone(self.timezone).date().isoformat()


def holdout_bucket(workspace_id: str, customer_id: str, salt: str) -> int:
    """`reinterpretAsUInt64(reverse(substring(MD5(ws:customer:salt), 1, 8))) % 10000` in ClickHouse."""
    digest = hashlib.md5(f"{workspace_id}:{customer_id}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HOLDOUT_BUCKETS


def _field(raw: Mapping[str, Any], name: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if name not in raw:
        raise PolicyError(f"{where}: missing `{name}`")
    value = raw[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PolicyError(f"{where}: `{name}` must be {getattr(kind, '__name__', kind)}, not {value!r}")
    return value


def _clock(value: object, where: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise PolicyError(f"{where}: {value!r} is not a time of day (HH:MM)") from None


def _steps(raw_steps: object, where: str) -> tuple[Step, ...]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PolicyError(f"{where}: `steps` must be a non-empty list")
    steps, names, previous_offset = [], set(), 0
    for index, raw in enumerate(raw_steps):
        at = f"{where}: steps[{index}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{at} must be a mapping")
        name = _field(raw, "name", at, str)
        action = _field(raw, "action", at, str)
        offset = _field(raw, "offset_days", at, int)
        if action not in ACTION_TYPES:
            raise PolicyError(f"{at}: `action` must be one of {', '.join(ACTION_TYPES)}, not {action!r}")
        if name in names:
            raise PolicyError(f"{at}: step name {name!r} is used twice")
        if offset < previous_offset:
            raise PolicyError(f"{at}: steps must be in order of `offset_days` ({offset} < {previous_offset})")
        template = raw.get("template")
        if action == "email" and template not in EMAIL_TEMPLATES:
            raise PolicyError(f"{at}: an email step needs `template`, one of {', '.join(EMAIL_TEMPLATES)}")
        categories = tuple(raw.get("decline_categories", DECLINE_CATEGORIES))
        unknown = set(categories) - set(DECLINE_CATEGORIES)
        if unknown or not categories:
            raise PolicyError(f"{at}: `decline_categories` must be among {', '.join(DECLINE_CATEGORIES)}")
        names.add(name)
        previous_offset = offset
        steps.append(Step(index, name, action, offset, template, categories))
    return tuple(steps)


def parse_policy(raw: object, where: str) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: a policy is a mapping")
    quiet = _field(raw, "quiet_hours", where, dict)
    holdout = _field(raw, "holdout", where, dict)
    budget = _field(raw, "retry_budget", where, dict)
    share = Decimal(str(_field(holdout, "share", f"{where}: holdout", (int, float))))
    if not Decimal(0) <= share < Decimal(1):
        raise PolicyError(f"{where}: holdout share must be in [0, 1), not {share}")
    effective = _field(raw, "effective_from", where, (str, datetime))
    try:
        effective_from = effective if isinstance(effective, datetime) else datetime.fromisoformat(effective)
    except ValueError:
        raise PolicyError(f"{where}: `effective_from` {effective!r} is not an ISO timestamp") from None
    if effective_from.tzinfo is None:
        raise PolicyError(f"{where}: `effective_from` needs a UTC offset (…Z)")
    try:
        zone = ZoneInfo(_field(raw, "timezone", where, str))
    except ZoneInfoNotFoundError:
        raise PolicyError(f"{where}: unknown `timezone` {raw['timezone']!r}") from None
    daily_cap = _field(raw, "daily_cap", where, int)
    max_attempts = _field(budget, "max_attempts", f"{where}: retry_budget", int)
    window_days = _field(budget, "window_days", f"{where}: retry_budget", int)
    if min(daily_cap, max_attempts, window_days) < 1:
        raise PolicyError(f"{where}: daily_cap and retry_budget values must be positive")
    return Policy(
        workspace_id=_field(raw, "workspace", where, str),
        version=str(_field(raw, "version", where, (str, int, float))),
        effective_from=effective_from.astimezone(UTC),
        live=_field(raw, "live", where, bool),
        timezone=zone,
        quiet_start=_clock(_field(quiet, "start", f"{where}: quiet_hours", str), where),
        quiet_end=_clock(_field(quiet, "end", f"{where}: quiet_hours", str), where),
        daily_cap=daily_cap,
        holdout_basis_points=int(share * HOLDOUT_BUCKETS),
        holdout_salt=str(_field(holdout, "salt", f"{where}: holdout", str)),
        retry_max_attempts=max_attempts,
        retry_window_days=window_days,
        steps=_steps(raw.get("steps"), where),
    )


def load_policies(directory: Path) -> dict[str, Policy]:
    """Every `<workspace>.yaml` in `directory`, by workspace; a workspace without a file is not dunned."""
    policies: dict[str, Policy] = {}
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise PolicyError(f"{path}: not valid YAML: {exc}") from None
        policy = parse_policy(raw, str(path))
        if policy.workspace_id != path.stem:
            raise PolicyError(
                f"{path}: `workspace` is {policy.workspace_id!r}, the file name says {path.stem!r}"
            )
        policies[policy.workspace_id] = policy
    return policies


def policy_rows(policies: Iterable[Policy], synced_at: datetime) -> list[dict[str, Any]]:
    """`raw.dunning_policies` rows: one per (workspace, version, step)."""
    return [
        {
            "workspace_id": policy.workspace_id,
            "policy_version": policy.version,
            "step_index": step.index,
            "effective_from": policy.effective_from,
            "step_name": step.name,
            "action": step.action,
            "template": step.template,
            "offset_days": step.offset_days,
            "decline_categories": ",".join(step.decline_categories),
            "holdout_basis_points": policy.holdout_basis_points,
            "holdout_salt": policy.holdout_salt,
            "retry_window_days": policy.retry_window_days,
            "is_live": policy.live,
            "_revops_synced_at": synced_at,
        }
        for policy in policies
        for step in policy.steps
    ]


# --- deciding one due action ---

Verdict = Literal["execute", "deferred", "skipped"]
FINAL_VERDICTS: tuple[Verdict, ...] = ("skipped",)


@dataclass(frozen=True)
class QueueItem:
    """One row of `marts.dunning_queue`: the next step due for one open failed-payment episode."""

    idempotency_key: str
    workspace_id: str
    invoice_id: str
    customer_id: str
    customer_email: str | None
    policy_version: str
    step_index: int
    step_name: str
    action: str
    template: str | None
    due_at: datetime
    decline_code: str | None
    decline_category: str
    is_retryable: bool
    attempts_in_window: int
    amount_at_risk: int
    amount_at_risk_major: Decimal
    currency: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


def decide(
    item: QueueItem, policy: Policy | None, now: datetime, done_today: int, kill_switch: bool
) -> Decision:
    """Whether to carry out `item` now; `done_today` counts the workspace's actions today (policy's zone)."""
    if kill_switch:
        return Decision("deferred", "kill_switch")
    if policy is None or policy.version != item.policy_version:
        # The queue was built from another policy version: wait for the models to catch up.
        return Decision("deferred", "policy_changed")
    if policy.is_holdout(item.customer_id):
        return Decision("skipped", "holdout")
    if item.due_at > now:
        return Decision("deferred", "not_due")
    if item.action == "retry":
        if not item.is_retryable:
            return Decision("skipped", "not_retryable")
        if item.attempts_in_window >= policy.retry_max_attempts:
            return Decision("skipped", "retry_budget_exhausted")
    if policy.in_quiet_hours(now):
        return Decision("deferred", "quiet_hours")
    if done_today >= policy.daily_cap:
        return Decision("deferred", "daily_cap")
    if not policy.live:
        return Decision("deferred", "dry_run")
    return Decision("execute", "due")
