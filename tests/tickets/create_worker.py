"""One of several processes creating tickets at once (run by test_concurrency.py).

Usage: python -m tests.tickets.create_worker DATABASE_URL COUNT START
START is a number (wait until that wall-clock time; 0: start at once) or a file path (print "ready" once
connected, then wait until that file exists: a barrier however slow the imports are). Then creates COUNT
tickets, one transaction each, and prints each reference once its transaction is committed (acknowledged
to the customer).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from sqlalchemy import select

from kb_engine.helpdesk.db import make_engine, make_session_factory
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import TicketService


def wait_for_start(start: str) -> None:
    try:
        time.sleep(max(0.0, float(start) - time.time()))
        return
    except ValueError:
        pass
    print("ready", flush=True)
    go = Path(start)
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)


def main(url: str, count: int, start: str) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:  # connected (and the schema read) before the start
        session.execute(select(Ticket.id).limit(1))
    wait_for_start(start)
    for i in range(count):
        with sessions() as session:
            ticket = TicketService(session).create(source="api", query=f"process {os.getpid()} ticket {i}")
            session.commit()
            print(ticket.reference, flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
