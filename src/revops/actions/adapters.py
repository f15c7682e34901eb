"""The side effects of dunning: Stripe calls, email over SMTP and a signed outbound webhook.

Each adapter carries out one queue item and says what happened. `Outcome.status` is `sent` when the
effect happened (a declined payment retry too: the attempt was made), `failed` when it certainly did
not (the item stays in the queue), `skipped` when it never will (the invoice is no longer open; an
email that may or may not have been delivered, which is never resent). An exception means the
outcome is unknown; the executor leaves the attempt `pending` and reconciles it on the next run
(docs/recovery.md, "Exactly once").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import httpx
import stripe

from revops.actions.links import sign_card_update_link
from revops.actions.policy import QueueItem

INVOICE_HEADER = "X-Revops-Invoice-Id"
TEMPLATE_HEADER = "X-Revops-Template"
KEY_HEADER = "X-Revops-Idempotency-Key"
WEBHOOK_SIGNATURE_HEADER = "Revops-Signature"


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str
    detail: str = ""


def stripe_idempotency_key(item: QueueItem) -> str:
    """Stripe's idempotency key for an item: the same on every attempt, so a retry replays."""
    return f"revops-dunning-{hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:40]}"


def message_id(item: QueueItem) -> str:
    """A deterministic Message-ID: the same email, however often it is built, is one message."""
    return f"<{hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:32]}@dunning.revops>"


class StripeAdapter:
    """Invoice actions through the real `stripe` SDK, one client per workspace."""

    def __init__(self, clients: Mapping[str, stripe.StripeClient]) -> None:
        self.clients = clients

    def perform(self, item: QueueItem, now: datetime) -> Outcome:
        client = self.clients.get(item.workspace_id)
        if client is None:
            return Outcome(
                "failed", "no_stripe_account", f"workspace {item.workspace_id!r} has no Stripe account"
            )
        options: stripe.RequestOptions = {"idempotency_key": stripe_idempotency_key(item)}
        try:
            if item.action == "retry":
                invoice = client.v1.invoices.pay(item.invoice_id, options=options)
            else:
                invoice = client.v1.invoices.mark_uncollectible(item.invoice_id, options=options)
        except stripe.CardError as error:
            return Outcome(
                "sent", "declined", f"{error.code}: {error.error.decline_code if error.error else ''}"
            )
        except stripe.InvalidRequestError as error:
            # The invoice is paid, void or written off by now: nothing left to do for this step.
            return Outcome("skipped", "invoice_not_open", str(error.user_message))
        return Outcome("sent", "paid" if invoice.status == "paid" else str(invoice.status), invoice.id)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 30.0


@dataclass(frozen=True)
class LinkSigner:
    secret: bytes
    base_url: str
    ttl: timedelta

    def link(self, item: QueueItem, now: datetime) -> str:
        return sign_card_update_link(
            self.secret, self.base_url, item.workspace_id, item.invoice_id, item.customer_id, now + self.ttl
        )


_SUBJECTS = {
    "payment_failed": "Your payment for invoice {invoice} did not go through",
    "card_update": "Please update your card to pay invoice {invoice}",
    "final_notice": "Final notice: invoice {invoice} is unpaid",
}


def render_email(item: QueueItem, sender: str, now: datetime, links: LinkSigner | None) -> EmailMessage:
    if item.template not in _SUBJECTS:
        raise ValueError(f"unknown email template {item.template!r}")
    if not item.customer_email:
        raise ValueError(f"customer {item.customer_id} has no email address")
    lines = [
        "Hello,",
        "",
        f"We could not collect {item.amount_at_risk_major:,} {item.currency} for invoice {item.invoice_id}.",
    ]
    if item.template in ("card_update", "final_notice"):
        if links is None:
            raise ValueError("card-update email needs REVOPS_DUNNING_LINK_SECRET to sign its link")
        lines += ["", "Update your card here (the link expires):", links.link(item, now)]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = item.customer_email
    message["Subject"] = _SUBJECTS[item.template].format(invoice=item.invoice_id)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(item)
    message[INVOICE_HEADER] = item.invoice_id
    message[TEMPLATE_HEADER] = item.template
    message[KEY_HEADER] = item.idempotency_key
    message.set_content("\n".join(lines) + "\n")
    return message


class _PhaseTrackingSMTP(smtplib.SMTP):
    """smtplib's client, noting when the message content starts: the server answered DATA with 354.

    Until then nothing the server could deliver has been sent, whatever goes wrong; from then until
    the reply to the end of data, a lost connection leaves the outcome unknown."""

    content_started = False
    _in_data = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def getreply(self) -> tuple[int, bytes]:
        code, reply = super().getreply()
        if self._in_data and code == 354:
            self.content_started = True
        return code, reply


def _smtp_error(error: BaseException) -> str:
    """The error as the log keeps it: the server's code and text, never a credential (none is in it)."""
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        return f"{error.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    return f"{type(error).__name__}: {error}"


class SmtpAdapter:
    """Email over SMTP. SMTP has no idempotency: an attempt is made at most once (docs/recovery.md).

    What went wrong decides what happens next (docs/recovery.md, "SMTP errors"): anything before the
    message content was sent — no connection or greeting, a refused login, any 4xx/5xx reply to
    EHLO/HELO, STARTTLS, MAIL FROM, RCPT TO or DATA itself — and a 4xx/5xx reply to the end of data
    (the server refused the message) mean it was not sent: `failed`, tried again next run. Only a
    connection lost or timed out after the content started and before the server's reply leaves the
    outcome unknown: `skipped` / `outcome_unknown`, never resent."""

    def __init__(self, config: SmtpConfig, links: LinkSigner | None) -> None:
        self.config, self.links = config, links

    def perform(self, item: QueueItem, now: datetime) -> Outcome:
        try:
            message = render_email(item, self.config.sender, now, self.links)
        except ValueError as error:
            return Outcome("failed", "unrenderable", str(error))
        try:
            smtp = _PhaseTrackingSMTP(self.config.host, self.config.port, timeout=self.config.timeout_s)
        except (smtplib.SMTPException, OSError) as error:
            # Refused, timed out, no greeting or a 4xx/5xx greeting: nothing was sent.
            return Outcome("failed", "smtp_unreachable", _smtp_error(error))
        try:
            if self.config.starttls:
                smtp.starttls()
            if self.config.username:
                smtp.login(self.config.username, self.config.password or "")
            refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            return Outcome("failed", "smtp_auth_failed", _smtp_error(error))
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
            return Outcome("failed", "refused", str(error))
        except smtplib.SMTPDataError as error:
            # A reply to DATA (before the content) or to the end of data: either way the server has not
            # taken the message.
            reason = "message_refused" if smtp.content_started else "smtp_rejected"
            return Outcome("failed", reason, _smtp_error(error))
        except (smtplib.SMTPException, OSError) as error:
            if smtp.content_started:
                # The content went out and no reply came back: the server may have taken the message.
                return Outcome("skipped", "outcome_unknown", _smtp_error(error))
            return Outcome("failed", "smtp_rejected", _smtp_error(error))
        finally:
            _quit_quietly(smtp)
        if refused:
            return Outcome("failed", "refused", json.dumps({k: str(v) for k, v in refused.items()}))
        return Outcome("sent", "delivered", str(message["Message-ID"]))


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """End the session; once the server has answered the message, a failing QUIT changes nothing."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def webhook_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">`, Stripe's scheme."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(
    secret: bytes, header: str, body: bytes, tolerance_s: int = 300, now: float | None = None
) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), header)


class WebhookAdapter:
    """A signed JSON POST; receivers dedupe on the event id, so resending after a crash is safe."""

    def __init__(self, url: str | None, secret: bytes | None, client: httpx.Client | None = None) -> None:
        self.url, self.secret = url, secret
        self.client = client or httpx.Client(timeout=30.0)

    def perform(self, item: QueueItem, now: datetime) -> Outcome:
        if not self.url or not self.secret:
            return Outcome("skipped", "webhook_not_configured")
        body = json.dumps(
            {
                "id": f"evt_{hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:24]}",
                "type": "dunning.step",
                "created": int(now.timestamp()),
                "data": {
                    "workspace_id": item.workspace_id,
                    "invoice_id": item.invoice_id,
                    "customer_id": item.customer_id,
                    "step": item.step_name,
                    "amount_at_risk": item.amount_at_risk,
                    "currency": item.currency,
                    "decline_category": item.decline_category,
                },
            },
            sort_keys=True,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            WEBHOOK_SIGNATURE_HEADER: webhook_signature(self.secret, int(time.time()), body),
        }
        response = self.client.post(self.url, content=body, headers=headers)
        if response.status_code >= 500:
            raise RuntimeError(f"webhook receiver answered {response.status_code}")
        if response.status_code >= 400:
            return Outcome("failed", f"http_{response.status_code}", response.text[:500])
        return Outcome("sent", f"http_{response.status_code}")


Performer = Callable[[QueueItem, datetime], Outcome]


class ActionAdapters(Protocol):
    def for_action(self, action: str) -> Performer: ...


@dataclass(frozen=True)
class Adapters:
    stripe: StripeAdapter
    email: SmtpAdapter
    webhook: WebhookAdapter

    def for_action(self, action: str) -> Performer:
        if action in ("retry", "mark_uncollectible"):
            return self.stripe.perform
        if action == "email":
            return self.email.perform
        if action == "webhook":
            return self.webhook.perform
        raise ValueError(f"unknown dunning action {action!r}")


class NoOpAdapters:
    """Adapters that act on nothing and report it done: a live run's decisions without its effects."""

    def for_action(self, action: str) -> Performer:
        return lambda item, now: Outcome("sent", "preview")
