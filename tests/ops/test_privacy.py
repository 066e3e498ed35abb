"""Personal data: `kb privacy export`, `kb privacy erase` (nothing of the customer left in the database's
bytes, other customers untouched, counts kept, the erasure audited without the address) and `kb privacy
purge` with a fake clock (exactly what is past retention)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from kb_engine.cli.main import cli
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import AuditEntry, Feedback, Problem, SearchLog, Ticket, TicketEvent
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.ops import privacy

ADA = {
    "contact_name": "Ada Lovelace",
    "contact_email": "Ada.Lovelace@example.com",
    "contact_phone": "+33 6 12 34 56 78",
}
BOB = {
    "contact_name": "Bob Martin",
    "contact_email": "bob.martin@example.com",
    "contact_phone": "+33 7 98 76 54 32",
}


@pytest.fixture()
def desk(tmp_path: Path):
    db = tmp_path / "kb.sqlite3"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        service = TicketService(session)
        search = SearchLog(
            query="my vpn drops every hour since monday", lang="en", visitor="browser-ada", hits=[]
        )
        other = SearchLog(
            query="outlook asks for my password again", lang="en", visitor="browser-ada", hits=[]
        )
        session.add_all([search, other])
        session.flush()
        session.add(Feedback(article_id="en/vpn", kind="not_helpful", query=search.query, search_id=search.id,
                             visitor="browser-ada"))  # fmt: skip
        ada = service.create(source="contact_form", query="vpn drops every hour", details="I am Ada, desk 4",
                             search_id=search.id, **ADA)  # fmt: skip
        bob = service.create(source="api", query="vpn down for the whole floor", **BOB)
        service.add_note(bob, "agent-l1", "Ada (Ada.Lovelace@example.com, +33 6 12 34 56 78) has it too")
        service.merge(bob, ada, "agent-l1", "same outage")
        outage = Problem(title="VPN outage", query="vpn down", status="open", banner="The VPN is down.")
        session.add(outage)
        session.flush()
        service.watch_problem(outage, ADA["contact_email"], "en")  # "Email me when it is fixed"
        service.watch_problem(outage, BOB["contact_email"], "en")
        session.commit()
        refs = {"ada": ada.reference, "bob": bob.reference}
    engine.dispose()
    return {
        "url": url,
        "db": db,
        "refs": refs,
        "env": {"KB_DATABASE_URL": url, "KB_INSTANCE_DIR": str(tmp_path)},
    }


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_export_returns_every_ticket_and_search_of_the_customer(desk):
    result = CliRunner().invoke(cli, ["privacy", "export", "ada.lovelace@EXAMPLE.com"], env=desk["env"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [t["reference"] for t in data["tickets"]] == [desk["refs"]["ada"]]
    assert {s["query"] for s in data["searches"]} == {
        "my vpn drops every hour since monday",
        "outlook asks for my password again",
    }
    assert [f["kind"] for f in data["feedback"]] == ["not_helpful"]
    assert data["contacts_on_other_tickets"][0]["ticket"] == desk["refs"]["bob"]
    assert [w["lang"] for w in data["known_issue_watches"]] == ["en"]
    assert "Bob" not in result.output  # nothing of the other customer


def test_erase_leaves_no_trace_in_the_database_bytes_and_keeps_counts(desk):
    engine = make_engine(desk["url"])
    with make_session_factory(engine)() as session:
        before = (session.scalar(select(func.count()).select_from(Ticket)),
                  session.scalar(select(func.count()).select_from(SearchLog)))  # fmt: skip
    engine.dispose()
    assert b"Lovelace" in raw_bytes(desk["db"])

    result = CliRunner().invoke(
        cli, ["privacy", "erase", "ada.lovelace@example.com", "--yes"], env=desk["env"]
    )
    assert result.exit_code == 0, result.output
    assert "lovelace" not in result.output.lower()

    raw = raw_bytes(desk["db"]).lower()
    for trace in (b"ada.lovelace@example.com", b"lovelace", b"+33 6 12 34 56 78", b"33612345678", b"desk 4",
                  b"vpn drops every hour"):  # fmt: skip
        assert trace not in raw, trace
    assert b"bob.martin@example.com" in raw and b"bob martin" in raw  # the other customer is untouched

    engine = make_engine(desk["url"])
    with make_session_factory(engine)() as session:
        after = (session.scalar(select(func.count()).select_from(Ticket)),
                 session.scalar(select(func.count()).select_from(SearchLog)))  # fmt: skip
        assert after == before
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy_erase")).one()
        assert entry.target == privacy.subject("ada.lovelace@example.com")
        assert "example.com" not in json.dumps(entry.to_dict())
        bob = session.scalars(select(Ticket).where(Ticket.reference == desk["refs"]["bob"])).one()
        assert bob.contact_email == "bob.martin@example.com" and bob.query == "vpn down for the whole floor"
    engine.dispose()


def test_the_history_stays_append_only_apart_from_one_redaction(desk):
    engine = make_engine(desk["url"])
    with engine.begin() as conn:
        event_id = conn.execute(select(TicketEvent.id).limit(1)).scalar()
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE ticket_event SET message = 'rewritten' WHERE id = :i"), {"i": event_id})
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ticket_event SET message = NULL, redacted = 1 WHERE id = :i"), {"i": event_id}
        )
    with pytest.raises(DBAPIError), engine.begin() as conn:  # once only
        conn.execute(
            text("UPDATE ticket_event SET message = 'back', redacted = 1 WHERE id = :i"), {"i": event_id}
        )
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("DELETE FROM ticket_event WHERE id = :i"), {"i": event_id})
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, details) "
                "VALUES (CURRENT_TIMESTAMP, 'a', 'b', '{}')"
            )
        )
        conn.execute(text("DELETE FROM audit_log"))
    engine.dispose()


def test_purge_anonymises_exactly_what_is_past_retention(tmp_path):
    now = dt.datetime(2026, 12, 5, 12, 0)
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        session.add_all([
            SearchLog(query="old search words", at=now - dt.timedelta(days=91), hits=[]),
            SearchLog(query="recent search words", at=now - dt.timedelta(days=89), hits=[]),
        ])  # fmt: skip
        clock = [now - dt.timedelta(days=400)]
        service = TicketService(session, clock=lambda: clock[0])
        old = service.create(source="api", query="old printer jam", contact_email="old@example.com")
        service.close(old, "agent", "done")
        clock[0] = now - dt.timedelta(days=300)
        young = service.create(source="api", query="young printer jam", contact_email="young@example.com")
        service.close(young, "agent", "done")
        still_open = service.create(source="api", query="open since long", contact_email="open@example.com")
        session.commit()
        counts = privacy.purge(session, search_days=90, ticket_days=365, now=now)
        session.commit()
        assert counts == {"searches": 1, "feedback": 0, "tickets": 1, "events": counts["events"]}
        assert counts["events"] >= 2
        queries = dict(session.execute(select(SearchLog.id, SearchLog.query)).all())
        assert sorted(queries.values()) == ["[purged]", "recent search words"]
        session.refresh(old)
        session.refresh(young)
        session.refresh(still_open)
        assert old.contact_email is None and old.query == "[purged]" and old.status == "closed"
        assert young.contact_email == "young@example.com" and still_open.contact_email == "open@example.com"
        assert session.scalar(select(func.count()).select_from(Ticket)) == 3  # statistics keep every ticket
    engine.dispose()
