"""SMTP failures, by what the server could have received: nothing before the message content went out
(or a refusal of the message itself) is `failed` and sent on a later run; only a connection lost
between the content and the server's reply is `outcome_unknown`, never resent. Checked against what
misbehaving SMTP servers on 127.0.0.1 actually received (tests/actions/smtp_servers.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from revops.actions import log
from revops.actions.adapters import Adapters, LinkSigner, SmtpAdapter, SmtpConfig, WebhookAdapter, message_id
from revops.actions.executor import execute_queue
from revops.actions.policy import QueueItem
from revops_simulator.mailbox import free_port
from tests.actions.conftest import CLOCK, LINK_SECRET, Dunning, open_items, policy_for
from tests.actions.smtp_servers import HOST, DroppingSmtp, FaultySmtp, SilentSmtp

LOGIN = ("billing", "the-right-password")
SHORT_TIMEOUT_S = 1.0


def _item(n: int = 0) -> QueueItem:
    return QueueItem(
        idempotency_key=f"acme:in_{n}:payment_failed_email",
        workspace_id="acme",
        invoice_id=f"in_{n}",
        customer_id=f"cus_{n}",
        customer_email=f"customer{n}@example.test",
        policy_version="test.1",
        step_index=0,
        step_name="payment_failed_email",
        action="email",
        template="payment_failed",
        due_at=CLOCK - timedelta(hours=1),
        decline_code="insufficient_funds",
        decline_category="soft",
        is_retryable=True,
        attempts_in_window=1,
        amount_at_risk=1234,
        amount_at_risk_major=Decimal("12.34"),
        currency="USD",
    )


class _NoServer:
    """A port nothing listens on: the connection is refused."""

    def __init__(self) -> None:
        self.host, self.port = HOST, free_port(HOST)
        self.received = None

    def __enter__(self) -> _NoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


Server = Callable[[], AbstractContextManager[Any]]
# (server, SmtpConfig changes, expected (status, reason))
NOT_SENT: dict[str, tuple[Server, dict[str, Any], tuple[str, str]]] = {
    "connection refused": (_NoServer, {}, ("failed", "smtp_unreachable")),
    "no greeting before the timeout": (
        SilentSmtp,
        {"timeout_s": SHORT_TIMEOUT_S},
        ("failed", "smtp_unreachable"),
    ),
    "wrong password": (
        lambda: FaultySmtp(login=LOGIN),
        {"username": LOGIN[0], "password": "a-wrong-password"},
        ("failed", "smtp_auth_failed"),
    ),
    "EHLO and HELO refused": (
        lambda: FaultySmtp({"HELO": "554 5.7.1 go away"}),
        {},
        ("failed", "smtp_rejected"),
    ),
    "STARTTLS not offered": (FaultySmtp, {"starttls": True}, ("failed", "smtp_rejected")),
    "MAIL FROM 451": (lambda: FaultySmtp({"MAIL": "451 4.3.0 try later"}), {}, ("failed", "refused")),
    "RCPT TO 550": (lambda: FaultySmtp({"RCPT": "550 5.1.1 no such user"}), {}, ("failed", "refused")),
    "end of data 554": (
        lambda: FaultySmtp({"DATA": "554 5.6.0 content rejected"}),
        {},
        ("failed", "message_refused"),
    ),
    "end of data 451": (
        lambda: FaultySmtp({"DATA": "451 4.3.0 queue full"}),
        {},
        ("failed", "message_refused"),
    ),
}
UNKNOWN: dict[str, tuple[Server, dict[str, Any]]] = {
    "connection dropped after the message": (DroppingSmtp, {}),
    "no reply to the end of data before the timeout": (
        lambda: FaultySmtp(data_pause_s=3 * SHORT_TIMEOUT_S),
        {"timeout_s": SHORT_TIMEOUT_S},
    ),
}


def _config(server: Any, **changes: Any) -> SmtpConfig:
    return replace(SmtpConfig(server.host, server.port, "billing@acme.test"), **changes)


def _adapter(config: SmtpConfig) -> SmtpAdapter:
    return SmtpAdapter(config, LinkSigner(LINK_SECRET, "https://billing.acme.test/card", timedelta(hours=72)))


@pytest.mark.parametrize("case", NOT_SENT)
def test_failures_before_the_message_is_taken_are_not_sent(case: str) -> None:
    make_server, changes, expected = NOT_SENT[case]
    with make_server() as server:
        outcome = _adapter(_config(server, **changes)).perform(_item(), CLOCK)
    assert (outcome.status, outcome.reason) == expected, outcome
    assert server.received is None or server.received.message_ids == []
    assert LOGIN[1] not in outcome.detail and "a-wrong-password" not in outcome.detail


@pytest.mark.parametrize("case", UNKNOWN)
def test_a_connection_lost_after_the_message_went_out_is_outcome_unknown(case: str) -> None:
    make_server, changes = UNKNOWN[case]
    with make_server() as server:
        outcome = _adapter(_config(server, **changes)).perform(_item(), CLOCK)
        assert (outcome.status, outcome.reason) == ("skipped", "outcome_unknown"), outcome
    # The server did have the whole message: resending it could deliver a second copy.
    assert server.received.message_ids == [message_id(_item())]


def test_a_working_server_delivers() -> None:
    with FaultySmtp(login=LOGIN) as server:
        outcome = _adapter(_config(server, username=LOGIN[0], password=LOGIN[1])).perform(_item(), CLOCK)
    assert (outcome.status, outcome.reason, outcome.detail) == ("sent", "delivered", message_id(_item()))
    assert server.received.message_ids == [message_id(_item())]


def _adapters(dunning: Dunning, config: SmtpConfig) -> Adapters:
    adapters = dunning.adapters()
    return Adapters(stripe=adapters.stripe, email=_adapter(config), webhook=WebhookAdapter(None, None))


def test_emails_not_sent_are_sent_once_after_the_fault_is_fixed(dunning: Dunning) -> None:
    emails = [item for item in open_items(dunning.world) if item.action == "email"]
    policies = {"acme": policy_for("acme")}
    for case, (make_server, changes, expected) in NOT_SENT.items():
        with make_server() as server:
            report = execute_queue(
                emails, policies, _adapters(dunning, _config(server, **changes)), CLOCK, case
            )
        assert [(status, reason) for _, status, reason in report.results] == [expected] * len(emails), case
        assert server.received is None or server.received.message_ids == [], case
    assert dunning.mailbox.messages == []

    fixed = execute_queue(emails, policies, dunning.adapters(), CLOCK, "fixed")
    again = execute_queue(emails, policies, dunning.adapters(), CLOCK, "again")

    assert [(status, reason) for _, status, reason in fixed.results] == [("sent", "delivered")] * len(emails)
    assert again.results == []
    assert Counter(m.message_id for m in dunning.mailbox.messages) == {message_id(e): 1 for e in emails}
    assert Counter(m.invoice_id for m in dunning.mailbox.messages) == {e.invoice_id: 1 for e in emails}


def test_an_email_whose_outcome_is_unknown_is_never_resent(dunning: Dunning) -> None:
    emails = [item for item in open_items(dunning.world) if item.action == "email"]
    policies = {"acme": policy_for("acme")}
    with DroppingSmtp() as dropping:
        report = execute_queue(emails, policies, _adapters(dunning, _config(dropping)), CLOCK, "dropped")
    assert [(status, reason) for _, status, reason in report.results] == [
        ("skipped", "outcome_unknown")
    ] * len(emails)

    # The dropping server did take every message: resending would have been a second copy.
    assert Counter(dropping.received.message_ids) == {message_id(e): 1 for e in emails}

    later = execute_queue(emails, policies, dunning.adapters(), CLOCK, "later")

    assert later.results == []
    assert dunning.mailbox.messages == []
    latest = log.latest_attempts()
    assert {latest[e.idempotency_key].reason for e in emails} == {"outcome_unknown"}
