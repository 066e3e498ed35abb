"""`kb export`: tickets, searches and feedback since a date, CSV with formula cells neutralised, JSONL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import AuditEntry, Feedback, SearchLog
from kb_engine.helpdesk.tickets import TicketService


@pytest.fixture()
def database(tmp_path: Path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'tickets.sqlite3'}"
    monkeypatch.setenv("KB_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        old = dt.datetime(2026, 10, 1, 9, 0)
        new = dt.datetime(2026, 11, 20, 9, 0)
        TicketService(session, clock=lambda: old).create(source="contact_form", query="old one")
        TicketService(session, clock=lambda: new).create(
            source="contact_form",
            query='=HYPERLINK("http://evil.example","click")',
            contact_email="eve@example.com",
        )
        TicketService(session, clock=lambda: new).create(
            source="contact_form", query="l'imprimante; -2+3 ne marche pas"
        )
        session.add(SearchLog(at=new, query="@SUM(A1:A9)", lang="en", answered=True, confidence=0.91,
                              hits=[{"id": "en/printer-offline"}], channel="web", visitor="v1"))  # fmt: skip
        session.add(Feedback(at=new, article_id="en/printer-offline", kind="solved", query="+33 6 12"))
        session.commit()
    engine.dispose()
    return url


def test_tickets_csv_since_a_date_with_formulas_neutralised(runner, database: str) -> None:
    result = runner.invoke(cli, ["export", "tickets", "--since", "2026-11-01"])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["query"] for r in table] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "l'imprimante; '-2+3 ne marche pas",
    ]
    assert table[0]["status"] == "new" and table[0]["created_at"] == "2026-11-20T09:00:00"
    assert "eve@example.com" not in result.stdout  # no contact details in exports
    assert "2 tickets exported" in result.stderr


def test_searches_and_feedback_as_jsonl_keep_values(runner, database: str, tmp_path: Path) -> None:
    out = tmp_path / "searches.jsonl"
    result = runner.invoke(
        cli, ["export", "searches", "--since", "2026-11-01", "--format", "jsonl", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    [line] = out.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["query"] == "@SUM(A1:A9)" and record["top_article"] == "en/printer-offline"
    assert "visitor" not in record and record["answered"] is True
    feedback = runner.invoke(cli, ["export", "feedback", "--since", "2026-11-01", "--format", "csv"])
    assert list(csv.DictReader(io.StringIO(feedback.stdout)))[0]["query"] == "'+33 6 12"
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        assert [e.target for e in session.query(AuditEntry).filter_by(action="export")] == [
            "searches",
            "feedback",
        ]
    engine.dispose()


def test_empty_export_has_the_header_and_bad_dates_are_clear(runner, database: str) -> None:
    empty = runner.invoke(cli, ["export", "tickets", "--since", "2030-01-01"])
    assert empty.exit_code == 0 and empty.stdout.splitlines()[0].startswith("reference,created_at,")
    bad = runner.invoke(cli, ["export", "tickets", "--since", "last tuesday"])
    assert bad.exit_code == 2 and "--since takes a date" in bad.output
    window = runner.invoke(
        cli, ["export", "tickets", "--since", "2026-09-01", "--until", "2026-11-01", "--format", "jsonl"]
    )
    assert [json.loads(x)["query"] for x in window.stdout.splitlines()] == ["old one"]
