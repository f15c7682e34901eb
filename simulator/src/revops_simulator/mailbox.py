"""The simulated customers' mail servers: an SMTP server on 127.0.0.1 that receives dunning email.

Every message accepted is kept (`messages`, what tests check "no email twice" against) and, when it
is addressed to the customer of an invoice it names (`X-Revops-Invoice-Id`), reported to the world as
an `email_delivered` action, so the customer may react to it (simulator/business/billing.py).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import getaddresses
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from revops_simulator.actions import Action
from revops_simulator.world import World

INVOICE_HEADER = "X-Revops-Invoice-Id"
TEMPLATE_HEADER = "X-Revops-Template"


@dataclass(frozen=True)
class ReceivedEmail:
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    invoice_id: str | None
    template: str | None
    at: int
    """Simulation time of delivery (the world's clock)."""
    body: str


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mailbox.deliver(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content)
        return "250 Message accepted for delivery"


class Mailbox:
    """An SMTP server delivering to the world's customers; use as a context manager."""

    def __init__(self, world: World | None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self.port = port or free_port(host)
        self._lock = threading.Lock()
        self._messages: list[ReceivedEmail] = []
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    @property
    def messages(self) -> list[ReceivedEmail]:
        with self._lock:
            return list(self._messages)

    def deliver(self, sender: str, recipients: tuple[str, ...], content: bytes) -> None:
        message = message_from_bytes(content)
        invoice_id, template = message.get(INVOICE_HEADER), message.get(TEMPLATE_HEADER)
        at = int(self.world.now.timestamp()) if self.world is not None else 0
        payload = message.get_payload(decode=True) if not message.is_multipart() else b""
        received = ReceivedEmail(
            message_id=str(message.get("Message-ID", "")),
            sender=sender,
            recipients=recipients,
            subject=str(message.get("Subject", "")),
            invoice_id=invoice_id,
            template=template,
            at=at,
            body=payload.decode(errors="replace") if isinstance(payload, bytes) else "",
        )
        with self._lock:
            self._messages.append(received)
        if self.world is None or invoice_id is None:
            return
        found = self.world.find_invoice(invoice_id)
        addressed = {address.lower() for _, address in getaddresses(list(recipients))}
        if found is not None and found[1].customer.email.lower() in addressed:
            self.world.record(Action("email_delivered", found[0], invoice_id, at, template or ""))

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
