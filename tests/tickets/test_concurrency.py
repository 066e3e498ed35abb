"""Several processes create tickets at the same moment: no reference is lost or given twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from kb_engine.helpdesk.models import Ticket, TicketEvent
from tests.conftest import ROOT

PROCESSES = 6
TICKETS_EACH = 20


def test_concurrent_ticket_creation_loses_and_duplicates_no_reference(
    db_url, engine, session, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.tickets.create_worker", db_url, str(TICKETS_EACH), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:  # every worker has imported and connected: start them together
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    go.touch()
    acknowledged: list[str] = []
    spans = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        acknowledged += out.split()
        spans.append((min(out.split()), max(out.split())))
    # The workers really ran at the same time: their references interleave.
    assert any(a[0] < b[1] and b[0] < a[1] for a in spans for b in spans if a is not b)
    assert len(acknowledged) == PROCESSES * TICKETS_EACH
    assert len(set(acknowledged)) == len(acknowledged)
    stored = session.scalars(select(Ticket.reference)).all()
    assert sorted(stored) == sorted(acknowledged)
    assert session.scalar(select(func.count()).where(TicketEvent.kind == "created")) == len(acknowledged)
