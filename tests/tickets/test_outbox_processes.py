"""The outbox sender as separate processes (`kb outbox send`), against a real SMTP server on loopback:
killed with SIGKILL between the server's acceptance and its mark, and two senders sharing one database."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.models import OutboxMessage, utcnow
from kb_engine.helpdesk.notifications import Notifier
from kb_engine.helpdesk.outbox import OutboxSender
from kb_engine.helpdesk.tickets import TicketService
from tests.smtp_server import smtp_server

ROOT = Path(__file__).resolve().parents[2]


def queue(session, n: int) -> None:
    service = TicketService(session, notifier=Notifier(public_url="https://help.example.com"))
    for i in range(n):
        service.create(
            source="contact_form",
            query=f"problem number {i}",
            lang="en",
            contact_email=f"user{i}@example.com",
        )
    session.commit()


def start_sender(db_url: str, smtp_url: str, *, capture: bool = True) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KB_DATABASE_URL": db_url,
        "KB_SMTP_URL": smtp_url,
        "KB_CONFIG": os.devnull,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kb_engine", "outbox", "send", "--json"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
    )


def statuses(session) -> Counter[str]:
    session.expire_all()
    return Counter(session.scalars(select(OutboxMessage.status)))


def test_sigkill_between_send_and_mark_loses_nothing_and_repeats_only_that_message(db_url, engine, session):
    queue(session, 4)
    with smtp_server() as (smtp_url, mailbox):
        victim: list[subprocess.Popen[str]] = []

        def kill_the_sender(message) -> None:
            if len(mailbox.messages) == 1:  # the server has the first message; the sender has not marked it
                victim[0].send_signal(signal.SIGKILL)
                victim[0].wait()

        mailbox.on_message = kill_the_sender
        victim.append(start_sender(db_url, smtp_url, capture=False))
        assert victim[0].wait(timeout=300) == -signal.SIGKILL
        mailbox.on_message = None
        assert statuses(session) == {"sending": 1, "pending": 3}

        # Another sender at once: the three untouched messages go; the one in doubt waits for its lease.
        sessions = make_session_factory(engine)
        now = utcnow()
        sender = OutboxSender(sessions, smtp_url=smtp_url, clock=lambda: now)
        assert len(sender.send_due().sent) == 3
        assert statuses(session) == {"sent": 3, "sending": 1}
        later = now + sender.lease + dt.timedelta(seconds=1)
        sender.clock = lambda: later
        assert len(sender.send_due().sent) == 1
        assert statuses(session) == {"sent": 4}
        ids = mailbox.ids()
    (first,) = [mid for mid, n in ids.items() if n > 1] or [None]
    # Nothing lost; only the message in flight at the kill went twice, with its one Message-ID.
    assert len(ids) == 4 and sorted(ids.values()) == [1, 1, 1, 2]
    assert first == mailbox.messages[0]["Message-ID"]


@pytest.mark.parametrize("senders", [2])
def test_two_senders_on_one_database_send_each_message_exactly_once(db_url, session, senders):
    total = 40
    queue(session, total)
    with smtp_server() as (smtp_url, mailbox):
        mailbox.pause = 0.1  # so that the two senders overlap (their start-up takes seconds)
        processes = [start_sender(db_url, smtp_url) for _ in range(senders)]
        outputs = [p.communicate(timeout=600) for p in processes]
        assert [p.returncode for p in processes] == [0] * senders, outputs
        ids = mailbox.ids()
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    assert sum(r["sent"] for r in reports) == total
    assert len(ids) == total and set(ids.values()) == {1}
    assert statuses(session) == {"sent": total}
