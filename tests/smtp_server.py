"""A real SMTP server on loopback for the outbox tests (aiosmtpd), whose behaviour a test can change:
accept, answer 4xx or 5xx, drop the connection in the middle of a message, or run a hook on each message
(e.g. SIGKILL the sender between the server's acceptance and the sender's mark)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """The aiosmtpd handler: keeps every accepted message; `mode` says how to answer the next ones."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.mode = "accept"  # accept | tempfail | refuse | drop
        self.pause = 0.0  # seconds each message takes to accept (lets concurrent senders overlap)
        self.on_message: Callable[[EmailMessage], None] | None = None
        self.lock = threading.Lock()
        self.received = threading.Condition(self.lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.mode == "tempfail":
            return "451 4.3.0 Try again later"
        if self.mode == "refuse":
            return "550 5.1.1 No such user here"
        if self.mode == "drop":
            server.transport.abort()  # the connection goes away before the server answers
            return "421 4.4.2 Connection dropped"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.received.notify_all()
        if self.on_message is not None:
            self.on_message(message)
        return "250 2.0.0 OK: queued"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)

    def wait_for(self, count: int, timeout: float = 120.0) -> bool:
        """Wait until `count` messages arrived (a generous bound for a loaded machine, not a timing check)."""
        with self.received:
            return self.received.wait_for(lambda: len(self.messages) >= count, timeout)


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[str, Mailbox]]:
    """A running SMTP server: yields its `smtp://127.0.0.1:PORT` URL and its mailbox."""
    mailbox = Mailbox()
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()
