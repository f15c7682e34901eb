"""The append-only dunning log (`raw.dunning_actions`) and the policy table, read and written here.

Rows are only ever inserted. An attempt writes `pending` (with the queue item it carries out) before
its side effect and its outcome after it, so after a crash the log tells exactly which attempts may
have had an effect without a recorded outcome. The warehouse is held only for each read or write,
never across a side effect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from revops.actions import lease as leases
from revops.actions.policy import Policy, QueueItem, policy_rows
from revops.core.ddl import warehouse_dialect
from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.pipelines.dunning import ACTIONS_TABLE, POLICIES_TABLE
from revops.pipelines.loading import RAW_DATABASE

TERMINAL_STATUSES = ("sent", "skipped")
"""An attempt with one of these is never made again (`failed` and `deferred` stay in the queue)."""
COUNTED_STATUSES = ("pending", "sent")
"""What counts against a workspace's daily cap."""


@dataclass(frozen=True)
class Attempt:
    """The latest log row of one idempotency key."""

    idempotency_key: str
    attempt_id: str
    status: str
    reason: str
    action: str
    detail: str

    def pending_item(self) -> QueueItem:
        """The queue item a `pending` row was written for."""
        fields = json.loads(self.detail)
        fields["due_at"] = datetime.fromisoformat(fields["due_at"])
        fields["amount_at_risk_major"] = Decimal(fields["amount_at_risk_major"])
        return QueueItem(**fields)


def item_json(item: QueueItem) -> str:
    return json.dumps({**asdict(item), "due_at": item.due_at.isoformat()}, sort_keys=True, default=str)


def append(
    item: QueueItem,
    *,
    attempt_id: str,
    status: str,
    reason: str,
    detail: str,
    is_live: bool,
    run_id: str,
    acted_at: datetime,
) -> None:
    row = {
        "attempt_id": attempt_id,
        "idempotency_key": item.idempotency_key,
        "workspace_id": item.workspace_id,
        "invoice_id": item.invoice_id,
        "customer_id": item.customer_id,
        "policy_version": item.policy_version,
        "step_index": item.step_index,
        "step_name": item.step_name,
        "action": item.action,
        "status": status,
        "reason": reason,
        "detail": detail,
        "is_live": is_live,
        "run_id": run_id,
        "acted_at": acted_at,
        "recorded_at": datetime.now(UTC),
    }
    with connect() as client:
        client.insert(
            f"{RAW_DATABASE}.{ACTIONS_TABLE}",
            [list(row.values())],
            column_names=list(row),
            settings=warehouse_dialect().insert_settings,
        )


def latest_attempts(workspace_ids: Sequence[str] | None = None) -> dict[str, Attempt]:
    """The latest row of every idempotency key (of some workspaces)."""
    where = "WHERE workspace_id IN {workspaces:Array(String)}" if workspace_ids is not None else ""
    sql = f"""
        SELECT idempotency_key, attempt_id, status, reason, action, detail
        FROM {RAW_DATABASE}.{ACTIONS_TABLE}
        {where}
        ORDER BY idempotency_key, recorded_at DESC
        LIMIT 1 BY idempotency_key
    """
    with connect() as client:
        rows = client.query(sql, parameters={"workspaces": list(workspace_ids or [])}).result_rows
    return {row[0]: Attempt(*row) for row in rows}


def done_on_day(policy: Policy, day: str) -> int:
    """Live actions of the policy's workspace pending or sent on `day` (its local date)."""
    sql = f"""
        SELECT uniqExact(idempotency_key)
        FROM {RAW_DATABASE}.{ACTIONS_TABLE}
        WHERE workspace_id = {{workspace:String}} AND is_live AND status IN {{statuses:Array(String)}}
          AND toString(toDate(acted_at, {{zone:String}})) = {{day:String}}
    """
    parameters = {
        "workspace": policy.workspace_id,
        "statuses": list(COUNTED_STATUSES),
        "zone": str(policy.timezone),
        "day": day,
    }
    with connect() as client:
        return int(client.command(sql, parameters=parameters))


def pending_workspaces() -> list[str]:
    """Workspaces with an attempt whose latest row is `pending` (in flight, or left by a crashed run)."""
    sql = f"""
        SELECT DISTINCT workspace_id FROM (
            SELECT workspace_id, argMax(status, recorded_at) AS latest_status
            FROM {RAW_DATABASE}.{ACTIONS_TABLE}
            GROUP BY workspace_id, idempotency_key
        )
        WHERE latest_status = 'pending'
        ORDER BY workspace_id
    """
    with connect() as client:
        return [row[0] for row in client.query(sql).result_rows]


class WarehouseLog:
    """The log as the executor reads and writes it: `raw.dunning_actions`, and the workspaces' leases."""

    def latest_attempts(self, workspace_ids: Sequence[str] | None = None) -> dict[str, Attempt]:
        return latest_attempts(workspace_ids)

    def pending_workspaces(self) -> list[str]:
        return pending_workspaces()

    def lease(self, workspace_id: str, holder: str) -> leases.Lease | leases.LeaseRefused:
        return leases.acquire(workspace_id, holder, get_settings().dunning_lease_ttl_s)

    def done_on_day(self, policy: Policy, day: str) -> int:
        return done_on_day(policy, day)

    def append(self, item: QueueItem, **row: Any) -> None:
        append(item, **row)


@dataclass
class DryRunLog(WarehouseLog):
    """The warehouse's log as it stands, with this run's rows kept in memory instead of written: the
    executor, run against it with no-op adapters, previews exactly what a run would do."""

    rows: list[tuple[QueueItem, dict[str, Any]]] = field(default_factory=list)

    def latest_attempts(self, workspace_ids: Sequence[str] | None = None) -> dict[str, Attempt]:
        latest = super().latest_attempts(workspace_ids)
        for item, row in self.rows:
            if workspace_ids is not None and item.workspace_id not in workspace_ids:
                continue
            latest[item.idempotency_key] = Attempt(
                item.idempotency_key,
                row["attempt_id"],
                row["status"],
                row["reason"],
                item.action,
                row["detail"],
            )
        return latest

    def done_on_day(self, policy: Policy, day: str) -> int:
        counted = {
            item.idempotency_key
            for item, row in self.rows
            if item.workspace_id == policy.workspace_id
            and row["is_live"]
            and row["status"] in COUNTED_STATUSES
            and policy.local_day(row["acted_at"]) == day
        }
        return super().done_on_day(policy, day) + len(counted)

    def lease(self, workspace_id: str, holder: str) -> leases.Lease | leases.LeaseRefused:
        return leases.PreviewLease()

    def append(self, item: QueueItem, **row: Any) -> None:
        self.rows.append((item, row))


def sync_policies(policies: Iterable[Policy]) -> int:
    """Write every policy's steps to `raw.dunning_policies` (re-writing a version adds nothing)."""
    rows = policy_rows(policies, datetime.now(UTC))
    if rows:
        with connect() as client:
            client.insert(
                f"{RAW_DATABASE}.{POLICIES_TABLE}",
                [list(row.values()) for row in rows],
                column_names=list(rows[0]),
                settings=warehouse_dialect().insert_settings,
            )
    return len(rows)


def queue_items(rows: Iterable[dict[str, Any]]) -> list[QueueItem]:
    """`marts.dunning_queue` rows as queue items."""
    items = []
    for row in rows:
        fields = {name: row[name] for name in QueueItem.__dataclass_fields__}
        due = fields["due_at"]
        fields["due_at"] = due if due.tzinfo is not None else due.replace(tzinfo=UTC)
        items.append(QueueItem(**fields))
    return items


def read_queue(workspace_ids: Sequence[str] | None = None) -> list[QueueItem]:
    where = "WHERE workspace_id IN {workspaces:Array(String)}" if workspace_ids is not None else ""
    sql = f"SELECT * FROM marts.dunning_queue {where} ORDER BY workspace_id, due_at, idempotency_key"
    with connect() as client:
        exists = client.command(
            "SELECT count() FROM system.tables WHERE database = 'marts' AND name = 'dunning_queue'"
        )
        if not int(exists):
            return []
        rows = list(client.query(sql, parameters={"workspaces": list(workspace_ids or [])}).named_results())
    return queue_items(rows)


def run_statuses(run_id: str) -> dict[str, int]:
    """Items a dunning run looked at, by the latest status it wrote for each."""
    sql = f"""
        SELECT status, count()
        FROM (
            SELECT idempotency_key, argMax(status, recorded_at) AS status
            FROM {RAW_DATABASE}.{ACTIONS_TABLE}
            WHERE run_id = {{run_id:String}}
            GROUP BY idempotency_key
        )
        GROUP BY status
    """
    with connect() as client:
        return {row[0]: int(row[1]) for row in client.query(sql, parameters={"run_id": run_id}).result_rows}
