"""One of several processes creating tickets at once (run by test_concurrency.py).

Usage: python -m tests.tickets.create_worker DATABASE_URL COUNT START_AT
Waits until the wall-clock time START_AT, creates COUNT tickets, one transaction each, and prints each
reference once its transaction is committed (acknowledged to the customer).
"""

from __future__ import annotations

import os
import sys
import time

from kb_engine.db import make_engine, make_session_factory
from kb_engine.tickets import TicketService


def main(url: str, count: int, start_at: float) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(count):
        with sessions() as session:
            ticket = TicketService(session).create(source="api", query=f"process {os.getpid()} ticket {i}")
            session.commit()
            print(ticket.reference, flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
