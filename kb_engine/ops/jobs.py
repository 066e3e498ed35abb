"""What a web server process runs in the background (`kb_engine.helpdesk.periodic`), from the settings:

| job | every | what cron would run instead |
|---|---|---|
| `outbox` | `KB_OUTBOX_POLL_SECONDS`, and at once when a request queued a message | `kb outbox send` |
| `automations` | `KB_AUTOMATIONS_EVERY_SECONDS` | `kb tickets automate` |
| `triage` | `KB_TRIAGE_RETRAIN_SECONDS` | `kb tickets triage --train` |
| `purge` | `KB_PURGE_EVERY_SECONDS` | `kb privacy purge` |

A setting of 0 leaves that job out (the outbox job also needs `KB_SMTP_URL` and `KB_OUTBOX_IN_PROCESS`;
the purge needs a retention). Triage and the purge first run a few minutes after the server starts (a
server restarted every day still retrains and purges), and triage not before its saved model is
`KB_TRIAGE_RETRAIN_SECONDS` old. The in-process purge does not compact the SQLite file (`kb privacy
purge` does: a VACUUM would hold the database while the server works).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kb_engine.helpdesk import automations, triage
from kb_engine.helpdesk.models import utcnow
from kb_engine.helpdesk.outbox import OutboxSender
from kb_engine.helpdesk.periodic import Job
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.ops import privacy

log = logging.getLogger(__name__)

START_DELAY = 300.0  # seconds after a server starts before its first retraining and purge


def server_jobs(
    sessions: sessionmaker[Session],
    settings: Mapping[str, Any],
    *,
    clock: Callable[[], dt.datetime] = utcnow,
) -> list[Job]:
    """The background jobs the settings ask for (see the module's doc)."""
    jobs = []
    if settings["SMTP_URL"] and settings["OUTBOX_IN_PROCESS"]:
        sender = OutboxSender.from_settings(sessions, settings)
        jobs.append(Job("outbox", float(settings["OUTBOX_POLL_SECONDS"]), lambda: send_all(sender), first=0))
    if settings["AUTOMATIONS_EVERY_SECONDS"] > 0:
        jobs.append(
            Job(
                "automations",
                float(settings["AUTOMATIONS_EVERY_SECONDS"]),
                lambda: automate(sessions, settings),
            )
        )
    every = float(settings["TRIAGE_RETRAIN_SECONDS"])
    if every > 0:
        model = Path(settings["INSTANCE_DIR"]) / triage.FILENAME
        age = time.time() - model.stat().st_mtime if model.exists() else None
        first = min(every, START_DELAY) if age is None else max(min(every, START_DELAY), every - age)
        jobs.append(Job("triage", every, lambda: retrain(sessions, settings, clock()), first=first))
    every = float(settings["PURGE_EVERY_SECONDS"])
    if every > 0 and (settings["RETAIN_SEARCH_DAYS"] > 0 or settings["RETAIN_TICKET_DAYS"] > 0):
        jobs.append(
            Job("purge", every, lambda: purge(sessions, settings, clock()), first=min(every, START_DELAY))
        )
    return jobs


def send_all(sender: OutboxSender) -> int:
    """Send what is due, batch after batch while batches go out; returns how many were sent."""
    total = 0
    while sent := len(sender.send_due().sent):
        total += sent
    return total


def automate(sessions: sessionmaker[Session], settings: Mapping[str, Any]) -> int:
    with sessions() as session:
        fired = automations.run(
            TicketService.from_settings(session, settings),
            automations.load_automations(Path(settings["ARTICLES_DIR"])),
        )
        session.commit()
    return len(fired)


def retrain(sessions: sessionmaker[Session], settings: Mapping[str, Any], now: dt.datetime) -> bool:
    """Train learned triage on the resolved tickets and save it (kept as it was when too few)."""
    with sessions() as session:
        model = triage.train_now(
            session,
            min_tickets=int(settings["TRIAGE_MIN_TICKETS"]),
            min_age=dt.timedelta(days=int(settings["TRIAGE_MIN_AGE_DAYS"])),
            threshold=float(settings["TRIAGE_THRESHOLD"]),
            now=now,
        )
    if model is None:
        log.info("learned triage not retrained: too few resolved tickets; the routing file decides")
        return False
    path = triage.save(model, Path(settings["INSTANCE_DIR"]))
    log.info("learned triage retrained on %s resolved tickets: %s", model.trained_on, path)
    return True


def purge(sessions: sessionmaker[Session], settings: Mapping[str, Any], now: dt.datetime) -> dict[str, int]:
    """Anonymise what is past retention (`kb privacy purge` without the file compaction)."""
    with sessions() as session:
        counts = privacy.purge(
            session,
            search_days=int(settings["RETAIN_SEARCH_DAYS"]),
            ticket_days=int(settings["RETAIN_TICKET_DAYS"]),
            now=now,
        )
        session.commit()
    if any(counts.values()):
        log.info("retention purge: %s", counts)
    return counts
