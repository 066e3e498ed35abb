"""Acknowledged tickets survive SIGKILL; a locked or full database answers 503, the form keeps the input."""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb_engine.helpdesk.db import make_engine
from tests.conftest import ROOT, csrf_token

ROUNDS = 4


def test_acknowledged_tickets_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "tickets.sqlite3"
    url = f"sqlite:///{path}"
    from kb_engine.helpdesk.db import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    rng = random.Random(20261124)
    acknowledged: list[str] = []
    for _ in range(ROUNDS):
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.tickets.create_worker", url, "100000", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Wait for the first acknowledged ticket, then kill at a random moment of the write loop.
        first = worker.stdout.readline() if worker.stdout else ""
        assert first.strip(), worker.stderr.read() if worker.stderr else ""
        time.sleep(rng.uniform(0.05, 0.6))
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        acknowledged += [first.strip(), *out.split()]
    assert len(acknowledged) > ROUNDS
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        stored = {row[0] for row in conn.execute("SELECT reference FROM ticket")}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged tickets lost"


def test_ticket_database_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 5000}


@pytest.fixture()
def quick_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s for a lock instead of 5 s, so that the test is quick."""
    monkeypatch.setattr("kb_engine.helpdesk.db.BUSY_TIMEOUT_MS", 200)


@pytest.mark.usefixtures("quick_busy_timeout")
def test_locked_database_answers_503_and_the_form_keeps_what_was_typed(app_config) -> None:
    from web import close_app, create_app

    app = create_app(app_config)
    client = app.test_client()
    token = csrf_token(client)
    described = client.post("/contact", data={"q": "my printer is on fire", "csrf_token": token})
    assert described.status_code == 303
    search_id = re.search(r"s=(\d+)", described.headers["Location"]).group(1)
    locker = sqlite3.connect(str(app_config["DATABASE_URL"]).removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        sent = client.post(
            "/contact/send",
            data={
                "s": search_id,
                "name": "Ana Lopes",
                "email": "ana@example.com",
                "details": "third floor, room 3.14",
                "csrf_token": token,
            },
        )
        html = sent.get_data(as_text=True)
        assert sent.status_code == 503
        assert "busy" in html and "try again" in html
        assert 'value="Ana Lopes"' in html and "ana@example.com" in html and "room 3.14" in html
        api = client.post("/api/v1/tickets", json={"query": "printer on fire", "email": "ana@example.com"})
        assert api.status_code == 503
        assert api.get_json()["error"]["code"] == "store_unavailable"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        close_app(app)
    # The lock gone, the same form goes through.
    app = create_app(app_config)
    try:
        client2 = app.test_client()
        with client.session_transaction() as old, client2.session_transaction() as new:
            new.update(old)
        resent = client2.post(
            "/contact/send",
            data={"s": search_id, "name": "Ana Lopes", "email": "ana@example.com", "csrf_token": token},
        )
        assert resent.status_code == 303
    finally:
        close_app(app)


def test_full_database_answers_503_and_loses_nothing(app_config) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL, what a full disk gives), raised by capping the
    file at its current size: the customer gets a clear 503 and keeps the form, the tickets already stored
    stay intact, and the same form goes through once there is room again."""
    from sqlalchemy import event

    from web import close_app, create_app

    path = str(app_config["DATABASE_URL"]).removeprefix("sqlite:///")
    app = create_app(app_config)
    engine = app.extensions["kb_engine"]
    client = app.test_client()
    token = csrf_token(client)
    before = client.post("/api/v1/tickets", json={"query": "vpn drops every hour", "email": "li@example.com"})
    assert before.status_code == 201
    stored_before = before.get_json()["reference"]
    described = client.post("/contact", data={"q": "my printer is on fire", "csrf_token": token})
    search_id = re.search(r"s=(\d+)", described.headers["Location"]).group(1)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)  # no free page to grow into

    def cap(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    event.listen(engine, "connect", cap)
    details = "third floor, room 3.14. " + "The printer smells of smoke. " * 250  # needs new pages
    form = {"s": search_id, "name": "Ana Lopes", "email": "ana@example.com", "details": details}
    try:
        sent = client.post("/contact/send", data={**form, "csrf_token": token})
        html = sent.get_data(as_text=True)
        assert sent.status_code == 503
        assert "full" in html and "nothing was lost" in html
        assert 'value="Ana Lopes"' in html and "ana@example.com" in html and "room 3.14" in html
        api = client.post(
            "/api/v1/tickets",
            json={"query": "printer on fire", "email": "ana@example.com", "details": details},
        )
        assert api.status_code == 503, api.get_json()
        assert api.get_json()["error"]["code"] == "store_unavailable"
        assert "full" in api.get_json()["error"]["message"]
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute(
            "SELECT count(*) FROM ticket WHERE reference = ?", (stored_before,)
        ).fetchone() == (1,)
    # Room again: the same form goes through.
    resent = client.post("/contact/send", data={**form, "csrf_token": token})
    assert resent.status_code == 303
    close_app(app)
