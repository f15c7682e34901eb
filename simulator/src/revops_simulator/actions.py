"""What merchants and their customers' mailboxes did to the simulated accounts, in the order it happened.

A world is a pure function of (seed, as_of, scale, actions): every action that reached a simulated
provider (a payment retried through the API, an invoice written off, a dunning email delivered) is
appended here, and the history is regenerated with it. The log also keeps the responses to requests
sent with an `Idempotency-Key`, so a retried request is answered exactly as the first one was.

With a path the log is a JSON-lines file, appended and fsynced before the request is answered, so a
simulator restarted on the same file (as each `revops run` step and each demo day does) rebuilds the
same world and replays the same idempotent responses.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

ActionKind = Literal["invoice_pay", "invoice_mark_uncollectible", "email_delivered"]
ACTION_KINDS: tuple[ActionKind, ...] = ("invoice_pay", "invoice_mark_uncollectible", "email_delivered")


@dataclass(frozen=True)
class Action:
    """One thing done to an invoice at `at` (epoch seconds, simulation time)."""

    kind: ActionKind
    workspace_id: str
    invoice_id: str
    at: int
    detail: str = ""
    """For `email_delivered`: the dunning step's email template (`payment_failed`, `card_update` …)."""


@dataclass(frozen=True)
class IdempotentResult:
    """The first response to a request sent with an idempotency key."""

    workspace_id: str
    key: str
    fingerprint: str
    """Method, path and parameters of the first request: a different request reusing the key is refused."""
    status: int
    body: Any


class ActionLog:
    """Every action, in arrival order, plus idempotent responses; thread-safe, optionally on disk."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._actions: list[Action] = []
        self._results: dict[tuple[str, str], IdempotentResult] = {}
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    self._apply(json.loads(line))

    def _apply(self, record: Mapping[str, Any]) -> None:
        fields = {name: value for name, value in record.items() if name != "record"}
        if record["record"] == "action":
            self._actions.append(Action(**fields))
        else:
            result = IdempotentResult(**fields)
            self._results[result.workspace_id, result.key] = result

    def _persist(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write(json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def append(self, action: Action) -> None:
        if action.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {action.kind!r}")
        with self._lock:
            self._persist({"record": "action", **asdict(action)})
            self._actions.append(action)

    def remember(self, result: IdempotentResult) -> None:
        with self._lock:
            self._persist({"record": "idempotent_result", **asdict(result)})
            self._results[result.workspace_id, result.key] = result

    def result_for(self, workspace_id: str, key: str) -> IdempotentResult | None:
        with self._lock:
            return self._results.get((workspace_id, key))

    def actions(self, workspace_id: str | None = None, until: int | None = None) -> list[Action]:
        """Actions (of one workspace, up to `until`) in time order, arrival order within a second."""
        with self._lock:
            chosen = [
                action
                for action in self._actions
                if (workspace_id is None or action.workspace_id == workspace_id)
                and (until is None or action.at <= until)
            ]
        return sorted(chosen, key=lambda action: action.at)

    def by_invoice(self, workspace_id: str, until: int) -> Mapping[str, Sequence[Action]]:
        grouped: dict[str, list[Action]] = defaultdict(list)
        for action in self.actions(workspace_id, until):
            grouped[action.invoice_id].append(action)
        return dict(grouped)


def action_log_path(home: Path, seed: int, scale: float) -> Path:
    """Where a simulated world of (seed, scale) keeps its actions under a revops home: one log per
    world, so that a simulator started for another seed or size never sees these actions."""
    return home / "simulator" / f"actions-seed{seed}-scale{scale:g}.jsonl"
