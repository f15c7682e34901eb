"""A simulated world with open failed payments, its Stripe API and its customers' SMTP server, and a
temporary warehouse holding the dunning log: what the executor acts on in these tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from revops.actions.adapters import (
    Adapters,
    LinkSigner,
    SmtpAdapter,
    SmtpConfig,
    StripeAdapter,
    WebhookAdapter,
)
from revops.actions.executor import stripe_clients
from revops.actions.lease import WorkspaceLease, ensure_lease_table, live_claims
from revops.actions.policy import Policy, QueueItem, Step
from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables
from revops_simulator import SimulatorServer, World
from revops_simulator.actions import ActionLog
from revops_simulator.mailbox import Mailbox
from revops_simulator.registry import simulator_registry
from tests.support import isolated_warehouse

SEED, SCALE = 7, 0.25
CLOCK = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
LINK_SECRET = b"test-link-secret"


@dataclass
class Dunning:
    home: Path
    world: World
    server: SimulatorServer
    mailbox: Mailbox

    @property
    def action_log_path(self) -> Path:
        return self.home / "actions.jsonl"

    def adapters(self) -> Adapters:
        return adapters_for(self.world, self.server, self.mailbox.host, self.mailbox.port)


def adapters_for(world: World, server: SimulatorServer, smtp_host: str, smtp_port: int) -> Adapters:
    registry = simulator_registry(world, server)
    return Adapters(
        stripe=StripeAdapter(stripe_clients(registry)),
        email=SmtpAdapter(
            SmtpConfig(smtp_host, smtp_port, "billing@acme.test"),
            LinkSigner(LINK_SECRET, "https://billing.acme.test/card", timedelta(hours=72)),
        ),
        webhook=WebhookAdapter(None, None),
    )


def policy_for(workspace_id: str, **changes: object) -> Policy:
    """A live policy with no holdout, no quiet hours (start == end) and a generous cap."""
    fields: dict[str, object] = {
        "workspace_id": workspace_id,
        "version": "test.1",
        "effective_from": datetime(2026, 1, 1, tzinfo=UTC),
        "live": True,
        "timezone": ZoneInfo("UTC"),
        "quiet_start": time(0, 0),
        "quiet_end": time(0, 0),
        "daily_cap": 100,
        "holdout_basis_points": 0,
        "holdout_salt": "test",
        "retry_max_attempts": 8,
        "retry_window_days": 14,
        "steps": (
            Step(0, "payment_failed_email", "email", 0, "payment_failed"),
            Step(1, "retry_day_2", "retry", 2, None, ("soft",)),
        ),
    }
    fields.update(changes)
    return Policy(**fields)  # type: ignore[arg-type]


def open_items(world: World, workspace_id: str = "acme") -> list[QueueItem]:
    """An email and a retry for every open failed payment of the workspace, due now."""
    items = []
    for episode in world.recovery_truth(workspace_id):
        if episode.outcome != "open":
            continue
        found = world.find_invoice(episode.invoice_id)
        assert found is not None
        email = found[1].customer.email
        for step, action, template in (
            ("payment_failed_email", "email", "payment_failed"),
            ("retry_day_2", "retry", None),
        ):
            items.append(
                QueueItem(
                    idempotency_key=f"{workspace_id}:{episode.invoice_id}:{step}",
                    workspace_id=workspace_id,
                    invoice_id=episode.invoice_id,
                    customer_id=episode.customer_id,
                    customer_email=email,
                    policy_version="test.1",
                    step_index=0 if action == "email" else 1,
                    step_name=step,
                    action=action,
                    template=template,
                    due_at=CLOCK - timedelta(hours=1),
                    decline_code=episode.decline_code,
                    decline_category="soft",
                    is_retryable=True,
                    attempts_in_window=episode.attempt_count,
                    amount_at_risk=episode.amount_at_risk,
                    amount_at_risk_major=Decimal(episode.amount_at_risk) / 100,
                    currency=episode.currency,
                )
            )
    assert items, "the test world has no open failed payment"
    return items


LEASE_TTL_S = 30.0
"""Longer than any one action takes here (the simulator regenerates its world after each email)."""


def end_killed_runs_leases(workspace_id: str = "acme") -> None:
    """Release the leases SIGKILLed runs left, as their TTL would, without waiting for it."""
    with connect() as client:
        ensure_lease_table(client)
        claims = live_claims(client, workspace_id)
    for claim in claims:
        WorkspaceLease(workspace_id, claim.claim_id, claim.holder, 0, claim.revision).release()


@pytest.fixture
def dunning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dunning]:
    home = tmp_path / "revops"
    monkeypatch.setenv("REVOPS_DUNNING_LEASE_TTL_S", str(LEASE_TTL_S))  # also the subprocesses' TTL
    with isolated_warehouse(home):
        ensure_raw_tables()
        world = World(SEED, CLOCK, SCALE, ActionLog(home / "actions.jsonl"))
        with SimulatorServer(world) as server, Mailbox(world) as mailbox:
            yield Dunning(home, world, server, mailbox)
