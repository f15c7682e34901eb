"""SMTP servers on 127.0.0.1 that misbehave on purpose, each keeping every message it accepted.

`FaultySmtp` is aiosmtpd with chosen replies to EHLO/HELO, MAIL FROM, RCPT TO or the end of data, an
optional login check, and an optional pause before answering the end of data of a message it has
taken (a client with a shorter timeout gives up before the reply). `DroppingSmtp` speaks
SMTP by hand up to the end of data and then closes the connection without answering. `SilentSmtp`
accepts connections and never greets.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from revops_simulator.mailbox import free_port

HOST = "127.0.0.1"


@dataclass
class Received:
    message_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, content: bytes) -> None:
        with self.lock:
            self.message_ids.append(str(message_from_bytes(content)["Message-ID"]))


class _Handler:
    def __init__(self, server: FaultySmtp) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: Any, session: Any, envelope: Any, hostname: str, responses: list
    ) -> Any:
        if "HELO" in self.server.replies:
            return [self.server.replies["HELO"]]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, smtp: Any, session: Any, envelope: Any, hostname: str) -> str:
        if "HELO" in self.server.replies:
            return self.server.replies["HELO"]
        session.host_name = hostname
        return f"250 {smtp.hostname}"

    async def handle_MAIL(self, smtp: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        if "MAIL" in self.server.replies:
            return self.server.replies["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, smtp: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        if "RCPT" in self.server.replies:
            return self.server.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        if "DATA" in self.server.replies:
            return self.server.replies["DATA"]
        # Taken: a slow server answers late, or never, to a client that has given up and gone.
        self.server.received.add(envelope.content)
        if self.server.data_pause_s:
            await asyncio.sleep(self.server.data_pause_s)
        return "250 Message accepted for delivery"


class FaultySmtp:
    """aiosmtpd answering `replies` ({"HELO"|"MAIL"|"RCPT"|"DATA": "<code> <text>"}) instead of 250."""

    def __init__(
        self,
        replies: dict[str, str] | None = None,
        login: tuple[str, str] | None = None,
        data_pause_s: float = 0.0,
    ) -> None:
        self.replies = replies or {}
        self.data_pause_s = data_pause_s
        self.received = Received()
        self.host, self.port = HOST, free_port(HOST)
        auth: dict[str, Any] = {}
        if login is not None:
            expected = LoginPassword(login[0].encode(), login[1].encode())
            auth = {
                "authenticator": lambda server, session, envelope, mechanism, data: AuthResult(
                    success=data == expected, handled=False
                ),
                "auth_require_tls": False,
            }
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **auth)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class _ThreadedServer:
    """A listening socket on 127.0.0.1 whose connections `serve` handles, one thread each."""

    def __init__(self) -> None:
        self.received = Received()
        self._socket = socket.create_server((HOST, 0))
        self.host, self.port = HOST, self._socket.getsockname()[1]
        self._threads: list[threading.Thread] = []

    def serve(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed
                return
            thread = threading.Thread(target=self.serve, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._socket.close()


class DroppingSmtp(_ThreadedServer):
    """Takes the whole message after DATA, then hangs up instead of answering it."""

    def serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as lines:
            connection.sendall(b"220 dropping.test ESMTP\r\n")
            for line in lines:
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    connection.sendall(b"250 dropping.test\r\n")
                elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                    connection.sendall(b"250 OK\r\n")
                elif command == b"DATA":
                    connection.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    content = []
                    for data_line in lines:
                        if data_line == b".\r\n":
                            self.received.add(b"".join(content))
                            return  # the message is in; no reply, the connection closes
                        content.append(data_line)
                else:
                    connection.sendall(b"221 Bye\r\n")
                    return


class SilentSmtp(_ThreadedServer):
    """Accepts the connection and never says a word: the client's timeout runs out before any greeting."""

    def serve(self, connection: socket.socket) -> None:
        with connection:
            connection.recv(1)  # until the client gives up and closes
