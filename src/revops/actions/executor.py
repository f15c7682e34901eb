"""Carry out the dunning queue exactly once, recording every attempt in the append-only log.

For each due item: the latest log row is checked (the queue may be older than the log), the policy
decides, a `pending` row is written, the adapter acts, and the outcome row follows. A run that dies
anywhere leaves at most one `pending` row per item without an outcome; the next run reconciles those
first: Stripe calls are repeated with the same idempotency key (Stripe replays the first response or
performs the call once), webhooks are resent with the same event id (receivers dedupe), and email,
which SMTP cannot dedupe, is never resent: it is closed as `skipped` / `outcome_unknown`.

All of this happens per workspace under the workspace's lease (actions/lease.py), so executors whose
runs overlap never act on the same workspace at once, and none settles another's attempt in flight.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dlt
import stripe

from revops.actions import log
from revops.actions.adapters import (
    ActionAdapters,
    Adapters,
    LinkSigner,
    NoOpAdapters,
    Outcome,
    SmtpAdapter,
    SmtpConfig,
    StripeAdapter,
    WebhookAdapter,
)
from revops.actions.lease import Lease, LeaseLost, LeaseRefused, default_holder
from revops.actions.policy import Policy, QueueItem, decide
from revops.core.settings import Settings
from revops.core.workspaces import WorkspaceRegistry
from revops.pipelines.stripe.settings import StripeAccount


@dataclass
class ExecutionReport:
    run_id: str
    results: list[tuple[QueueItem, str, str]] = field(default_factory=list)
    """(item, status, reason) for every item looked at, reconciled ones included."""

    skipped_workspaces: dict[str, str] = field(default_factory=dict)
    """Workspace → why this run left it alone (another executor held its lease)."""

    def add(self, item: QueueItem, status: str, reason: str) -> None:
        self.results.append((item, status, reason))

    def counts(self) -> Counter[tuple[str, str, str]]:
        """(workspace, status, reason) → items."""
        return Counter((item.workspace_id, status, reason) for item, status, reason in self.results)


def _record(
    actions: log.WarehouseLog,
    item: QueueItem,
    attempt_id: str,
    outcome: Outcome,
    is_live: bool,
    run_id: str,
    now: datetime,
) -> None:
    actions.append(
        item,
        attempt_id=attempt_id,
        status=outcome.status,
        reason=outcome.reason,
        detail=outcome.detail,
        is_live=is_live,
        run_id=run_id,
        acted_at=now,
    )


def reconcile_pending(
    actions: log.WarehouseLog,
    adapters: ActionAdapters,
    workspace_id: str,
    lease: Lease,
    now: datetime,
    run_id: str,
    kill_switch: bool,
    report: ExecutionReport,
) -> None:
    """Settle attempts a crashed run left `pending` in the workspace (the side effect may or may not have
    happened). Only the lease's holder does this: another executor's attempt in flight is pending too."""
    for attempt in actions.latest_attempts([workspace_id]).values():
        if attempt.status != "pending":
            continue
        item = attempt.pending_item()
        if kill_switch:
            report.add(item, "pending", "kill_switch")
            continue
        lease.renew()
        if item.action == "email":
            outcome = Outcome("skipped", "outcome_unknown", "the run died while sending; never resent")
        else:
            outcome = adapters.for_action(item.action)(item, now)
        _record(actions, item, attempt.attempt_id, outcome, True, run_id, now)
        report.add(item, outcome.status, outcome.reason)


def execute_queue(
    items: Iterable[QueueItem],
    policies: Mapping[str, Policy],
    adapters: ActionAdapters,
    now: datetime,
    run_id: str,
    kill_switch: bool = False,
    actions: log.WarehouseLog | None = None,
) -> ExecutionReport:
    """Carry out the due items; `actions` is the log read and written (default: the warehouse's).

    Each workspace is worked on under its lease (actions/lease.py): a workspace another executor holds
    is skipped whole — neither its queue nor its pending attempts are touched — and named in
    `report.skipped_workspaces`."""
    actions = actions or log.WarehouseLog()
    report = ExecutionReport(run_id)
    by_workspace: dict[str, list[QueueItem]] = defaultdict(list)
    for item in items:
        by_workspace[item.workspace_id].append(item)
    holder = default_holder(run_id)
    for workspace_id in sorted({*by_workspace, *actions.pending_workspaces()}):
        lease = actions.lease(workspace_id, holder)
        if isinstance(lease, LeaseRefused):
            report.skipped_workspaces[workspace_id] = lease.describe()
            continue
        try:
            reconcile_pending(actions, adapters, workspace_id, lease, now, run_id, kill_switch, report)
            _execute_workspace(
                by_workspace.get(workspace_id, []),
                policies.get(workspace_id),
                adapters,
                lease,
                now,
                run_id,
                kill_switch,
                actions,
                report,
            )
        except LeaseLost as lost:
            report.skipped_workspaces[workspace_id] = f"stopped: {lost}"
        finally:
            lease.release()
    return report


def _execute_workspace(
    items: list[QueueItem],
    policy: Policy | None,
    adapters: ActionAdapters,
    lease: Lease,
    now: datetime,
    run_id: str,
    kill_switch: bool,
    actions: log.WarehouseLog,
    report: ExecutionReport,
) -> None:
    """One workspace's due items, under its lease: the log is read after the lease was taken, so it
    holds every attempt an earlier holder made."""
    if not items:
        return
    latest = actions.latest_attempts([items[0].workspace_id])
    done_today = actions.done_on_day(policy, policy.local_day(now)) if policy is not None else 0
    for item in sorted(items, key=lambda item: (item.due_at, item.idempotency_key)):
        previous = latest.get(item.idempotency_key)
        if previous is not None and previous.status in (*log.TERMINAL_STATUSES, "pending"):
            continue
        decision = decide(item, policy, now, done_today, kill_switch)
        if decision.verdict != "execute":
            if decision.reason == "dry_run":
                # What a live run would have done counts against the cap, so the preview is faithful.
                done_today += 1
            report.add(item, decision.verdict, decision.reason)
            if previous is None or (previous.status, previous.reason) != (decision.verdict, decision.reason):
                _record(
                    actions,
                    item,
                    str(uuid.uuid4()),
                    Outcome(decision.verdict, decision.reason),
                    False,
                    run_id,
                    now,
                )
            continue
        lease.renew()  # LeaseLost stops the workspace before any effect the lease no longer covers
        attempt_id = str(uuid.uuid4())
        actions.append(
            item,
            attempt_id=attempt_id,
            status="pending",
            reason="started",
            detail=log.item_json(item),
            is_live=True,
            run_id=run_id,
            acted_at=now,
        )
        done_today += 1
        try:
            outcome = adapters.for_action(item.action)(item, now)
        except Exception as exc:  # the effect may have happened: leave it pending for reconciliation
            report.add(item, "pending", f"outcome_unknown: {type(exc).__name__}: {exc}")
            continue
        _record(actions, item, attempt_id, outcome, True, run_id, now)
        report.add(item, outcome.status, outcome.reason)


def preview_queue(
    items: Iterable[QueueItem], policies: Mapping[str, Policy], now: datetime, kill_switch: bool = False
) -> ExecutionReport:
    """What a run would do now: the executor itself, with adapters that act on nothing and a log that
    keeps this run's rows in memory. Items of live workspaces come out `sent`/`preview`; those of dry-run
    workspaces `deferred`/`dry_run`, as a run records them."""
    return execute_queue(items, policies, NoOpAdapters(), now, "preview", kill_switch, log.DryRunLog())


def stripe_clients(registry: WorkspaceRegistry) -> dict[str, stripe.StripeClient]:
    """A Stripe client per workspace: the registry's key, or `[dunning_<workspace>.stripe] api_key` from
    dlt's secrets (a key allowed to pay invoices; the loading key may be read-only)."""
    clients = {}
    for workspace in registry.with_provider("stripe"):
        account = workspace.account("stripe")
        assert isinstance(account, StripeAccount)
        key = account.api_key.get_secret_value() if account.api_key else None
        key = key or dlt.secrets.get(f"dunning_{workspace.id}.stripe.api_key")
        if key:
            clients[workspace.id] = stripe.StripeClient(
                key, base_addresses={"api": account.api_base}, max_network_retries=2
            )
    return clients


def build_adapters(
    registry: WorkspaceRegistry,
    settings: Settings,
    smtp: tuple[str, int] | None = None,
    link_secret: bytes | None = None,
) -> Adapters:
    """Adapters configured from settings; `smtp` (host, port) overrides the configured server and
    `link_secret` the configured link-signing key."""
    host, port = smtp or (settings.smtp_host, settings.smtp_port)
    configured = settings.dunning_link_secret
    secret = link_secret or (configured.get_secret_value().encode() if configured is not None else None)
    links = (
        LinkSigner(
            secret,
            settings.dunning_link_base_url,
            timedelta(hours=settings.dunning_link_ttl_hours),
        )
        if secret is not None
        else None
    )
    webhook_secret = settings.dunning_webhook_secret
    return Adapters(
        stripe=StripeAdapter(stripe_clients(registry)),
        email=SmtpAdapter(
            SmtpConfig(
                host=host,
                port=port,
                sender=settings.dunning_from_address,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                starttls=settings.smtp_starttls,
            ),
            links,
        ),
        webhook=WebhookAdapter(
            settings.dunning_webhook_url,
            webhook_secret.get_secret_value().encode() if webhook_secret else None,
        ),
    )
