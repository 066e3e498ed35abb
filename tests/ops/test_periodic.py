"""The one background runner of a web server process (kb_engine.helpdesk.periodic, kb_engine.ops.jobs):
jobs on a fake clock, the jobs the settings ask for, and a real `kb serve` process that sends the outbox,
runs the automations, retrains learned triage and purges what is past retention, against a real SMTP
server (aiosmtpd) on loopback."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import urllib.request
from pathlib import Path

import pytest

from kb_engine.config import load_settings
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import SearchLog
from kb_engine.helpdesk.periodic import Job, PeriodicRunner
from kb_engine.helpdesk.routing import load_routing
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.ops.jobs import server_jobs
from kb_engine.ops.privacy import PURGED
from tests.conftest import SHIPPED
from tests.production import small_index
from tests.smtp_server import free_port, smtp_server
from tests.test_watch import eventually
from tests.tickets import triage_history


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jobs_run_at_their_own_pace_a_failure_is_retried_and_wake_runs_one_now() -> None:
    ticks, ran = Ticks(), []

    def broken() -> None:
        ran.append("broken")
        raise RuntimeError("database is busy")

    runner = PeriodicRunner(
        [
            Job("often", 10, lambda: ran.append("often"), first=0),
            Job("daily", 86400, lambda: ran.append("daily")),
            Job("broken", 60, broken, first=0),
        ],
        clock=ticks,
    )
    assert runner.run_due() == ["often", "broken"]  # due at the start; the daily one is not
    assert runner.run_due() == []  # nothing is due twice
    ticks.now += 10
    assert runner.run_due() == ["often"]
    ticks.now += 60
    assert runner.run_due() == ["often", "broken"]  # the failure did not stop it, nor the others
    runner.wake("daily")
    assert runner.run_due() == ["daily"]
    assert ran.count("daily") == 1 and ran.count("broken") == 2


def settings_for(tmp_path: Path, **overrides: object) -> dict[str, object]:
    return load_settings(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "ARTICLES_DIR": str(tmp_path / "articles"),
            **overrides,
        },
        environ={},
    )


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({}, ["automations", "triage", "purge"]),
        ({"SMTP_URL": "smtp://127.0.0.1:2525"}, ["outbox", "automations", "triage", "purge"]),
        (
            {"SMTP_URL": "smtp://127.0.0.1:2525", "OUTBOX_IN_PROCESS": False},
            ["automations", "triage", "purge"],
        ),
        ({"AUTOMATIONS_EVERY_SECONDS": 0, "TRIAGE_RETRAIN_SECONDS": 0, "PURGE_EVERY_SECONDS": 0}, []),
        ({"RETAIN_SEARCH_DAYS": 0, "RETAIN_TICKET_DAYS": 0}, ["automations", "triage"]),  # nothing to purge
    ],
)
def test_the_settings_choose_the_jobs(tmp_path: Path, overrides: dict[str, object], names: list[str]) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        jobs = server_jobs(make_session_factory(engine), settings_for(tmp_path, **overrides))
    finally:
        engine.dispose()
    assert [job.name for job in jobs] == names


def seed(db: Path, now: dt.datetime) -> str:
    """A history learned triage can learn from, a customer silent for 4 days on a question, and a search
    older than the 90 days searches are kept; returns the waiting ticket's reference."""
    from tests.tickets.conftest import Clock

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        clock = Clock(now - dt.timedelta(days=80))
        service = TicketService(session, routing=load_routing(SHIPPED / "routing.yml"), clock=clock)
        triage_history.generate(service, clock)
        clock.now = now - dt.timedelta(days=4)
        waiting = service.create(
            source="contact_form", query="VPN refuses my password", lang="en", contact_email="vic@example.com"
        )
        service.ask_customer(waiting, "lena", "Which VPN client version do you use?")
        session.add(SearchLog(at=now - dt.timedelta(days=100), query="salary of Vic Ramos", lang="en"))
        session.commit()
        reference = waiting.reference
    engine.dispose()
    return reference


def test_a_served_app_sends_automates_retrains_and_purges_in_the_background(
    tmp_path: Path, kb_process
) -> None:
    articles, index = small_index(tmp_path)
    shutil.copy(SHIPPED / "automations.yml", articles / "automations.yml")
    db = tmp_path / "kb.sqlite3"
    reference = seed(db, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    model = tmp_path / "instance" / "triage.joblib"
    port = free_port()
    with smtp_server() as (url, mailbox):
        proc = kb_process(
            "serve", "--port", str(port),
            env={
                "KB_MODEL": "hashing", "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(index),
                "KB_INSTANCE_DIR": str(tmp_path / "instance"), "KB_DATABASE_URL": f"sqlite:///{db}",
                "KB_SMTP_URL": url, "KB_OUTBOX_POLL_SECONDS": "3600", "KB_AUTOMATIONS_EVERY_SECONDS": "1",
                "KB_TRIAGE_RETRAIN_SECONDS": "1", "KB_PURGE_EVERY_SECONDS": "1",
            },
        )  # fmt: skip

        def subjects() -> list[str]:
            assert proc.poll() is None, proc.log_path.read_text()
            return [str(m["Subject"]) for m in list(mailbox.messages)]

        # The automation "waiting 3 days: remind them" fired, and its email went out.
        eventually(lambda: f"[{reference}] We are waiting for your answer" in subjects(), "the reminder")
        eventually(model.exists, "learned triage retrained by the server")
        with sqlite3.connect(db) as conn:
            eventually(
                lambda: conn.execute("SELECT count(*) FROM search_log WHERE query = ?", (PURGED,)).fetchone()[
                    0
                ],
                "the old search purged",
            )
            assert conn.execute(
                "SELECT count(*) FROM search_log WHERE query LIKE '%Vic Ramos%'"
            ).fetchone() == (0,)
        # A request that queues a message wakes the sender: no waiting for the hour-long poll.
        body = json.dumps({"query": "printer offline", "email": "ana@example.com"}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/tickets", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            opened = json.load(response)["reference"]
        eventually(lambda: f"[{opened}] We received your request" in subjects(), "the confirmation")
    counts = mailbox.ids()
    assert all(n == 1 for n in counts.values())  # nothing twice
    assert "Traceback" not in proc.log_path.read_text()
