"""Dashboard numbers on a real SQLite database with constructed searches, feedback and tickets."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import Feedback, SearchLog, Ticket
from kb_engine.insights.dashboard import Period, dashboard, funnel, search_quality, tickets_summary, to_rows
from tests.conftest import csrf_token, login_staff

DAY = dt.datetime(2026, 3, 2, 9, 0)
PERIOD = Period.days(dt.date(2026, 3, 1), dt.date(2026, 3, 7))
NOW = dt.datetime(2026, 3, 20)


def search(
    db: Session,
    query: str,
    *,
    answered: bool,
    hits: int = 1,
    visitor: str | None = None,
    client: str | None = None,
    at=DAY,
):
    row = SearchLog(
        query=query,
        answered=answered,
        hits=[{"id": "en/a", "title": "A", "score": 0.9}] * hits,
        visitor=visitor,
        client=client,
        at=at,
    )
    db.add(row)
    db.flush()
    return row


def feedback(db: Session, row: SearchLog, kind: str, at=None) -> None:
    db.add(Feedback(article_id="en/a", kind=kind, search_id=row.id, visitor=row.visitor, at=at or row.at))


def ticket(db: Session, n: int, *, search_id=None, at=DAY, tier="L1", priority=3, **times) -> Ticket:
    row = Ticket(
        reference=f"KB-{n:06d}",
        token=f"t{n}",
        source="search_miss",
        tier=tier,
        priority=priority,
        search_id=search_id,
        created_at=at,
        **times,
    )
    db.add(row)
    db.flush()
    return row


def test_funnel_counts_each_stage_and_the_self_service_rate(db: Session) -> None:
    deflected = search(db, "forgot password", answered=True, visitor="v1")
    feedback(db, deflected, "view")
    feedback(db, deflected, "solved")
    came_back = search(db, "vpn down", answered=True, visitor="v2")
    feedback(db, came_back, "view")
    feedback(db, came_back, "solved")
    later = search(db, "vpn still down", answered=False, visitor="v2", at=DAY + dt.timedelta(days=3))
    ticket(db, 1, search_id=later.id, at=later.at)  # within 7 days: not deflected
    opened_only = search(db, "printer", answered=False, visitor="v3")
    feedback(db, opened_only, "view")
    search(db, "cake recipe", answered=False, hits=0, visitor="v4")
    search(db, "outside the period", answered=True, visitor="v5", at=DAY - dt.timedelta(days=10))
    db.commit()
    result = funnel(db, PERIOD, now=NOW)
    assert result["stages"] == {"searches": 5, "answered": 2, "opened": 3, "solved": 2, "no_ticket_7d": 1}
    assert result["self_service_rate"] == 0.2
    assert result["rates"]["answered"] == 0.4
    assert result["window_open"] == 0


def test_a_ticket_after_seven_days_does_not_undo_a_deflection(db: Session) -> None:
    solved = search(db, "mailbox full", answered=True, visitor="v1")
    feedback(db, solved, "solved")
    much_later = search(db, "mailbox full again", answered=False, visitor="v1", at=DAY + dt.timedelta(days=8))
    ticket(db, 1, search_id=much_later.id, at=much_later.at)
    db.commit()
    assert funnel(db, PERIOD, now=NOW)["stages"]["no_ticket_7d"] == 1
    recent = funnel(db, PERIOD, now=DAY + dt.timedelta(days=2))
    assert recent["window_open"] == 1


def test_zero_result_low_confidence_and_top_queries(db: Session) -> None:
    for _ in range(3):
        search(db, "Forgot  Password", answered=True)
    search(db, "cake recipe", answered=False, hits=0)
    search(db, "strange noise", answered=False, hits=2)
    db.commit()
    result = search_quality(db, PERIOD)
    assert (result["zero_result_rate"], result["low_confidence_rate"]) == (0.2, 0.2)
    assert result["top_queries"][0] == {
        "query": "forgot password",
        "visitors": 3,
        "count": 3,
        "answered_rate": 1.0,
    }


def test_top_queries_count_distinct_visitors_not_searches(db: Session) -> None:
    for i in range(12):  # one client repeating itself, a new browser session each time
        search(db, "buy followers", answered=False, visitor=f"bot{i}", client="c-bot")
    for i in range(3):
        search(db, "vpn down", answered=True, visitor=f"v{i}", client=f"c{i}")
    search(db, "vpn down", answered=True, visitor="v0", client="c0")  # the same customer again
    search(db, "printer jam", answered=True, visitor="v7")  # logged before clients were recorded
    search(db, "printer jam", answered=True, visitor="v7")
    for i in range(2):  # two colleagues behind one office address: one visitor, two browser sessions
        search(db, "mailbox full", answered=True, visitor=f"office{i}", client="c-office")
    db.commit()
    top = search_quality(db, PERIOD)["top_queries"]
    assert [(q["query"], q["visitors"], q["count"]) for q in top] == [
        ("vpn down", 3, 4),
        ("buy followers", 1, 12),
        ("mailbox full", 1, 2),
        ("printer jam", 1, 2),
    ]


def test_tickets_by_tier_priority_and_times_against_targets(db: Session) -> None:
    ticket(db, 1, tier="L1", priority=1, first_response_at=DAY + dt.timedelta(minutes=30),
           resolved_at=DAY + dt.timedelta(hours=2))  # fmt: skip
    ticket(db, 2, tier="L2", priority=3, first_response_at=DAY + dt.timedelta(days=2))  # response late
    ticket(db, 3, tier="L2", priority=2)  # never answered, long past its 4 h target
    ticket(db, 4, tier="L1", priority=3, at=DAY - dt.timedelta(days=30))  # outside the period
    db.commit()
    result = tickets_summary(db, PERIOD, now=NOW)
    assert result["total"] == 3
    assert result["by_tier_priority"]["L1"] == {"1": 1, "2": 0, "3": 0, "4": 0}
    assert result["by_tier_priority"]["L2"] == {"1": 0, "2": 1, "3": 1, "4": 0}
    response = result["first_response"]
    assert (response["count"], response["within_target"], response["late_and_waiting"]) == (2, 1, 1)
    assert response["within_target_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert response["median_hours"] == pytest.approx(24.25)
    assert result["resolution"]["within_target"] == 1


def test_csv_rows_cover_every_section(db: Session) -> None:
    row = search(db, "=HYPERLINK(1)", answered=True, visitor="v1")
    feedback(db, row, "solved")
    db.commit()
    rows = to_rows(dashboard(db, PERIOD, now=NOW))
    sections = {section for section, _metric, _value in rows}
    assert {
        "funnel",
        "search",
        "top_query",
        "tickets",
        "first_response",
        "resolution",
        "daily_searches",
    } <= sections
    assert ("funnel", "self_service_rate", 1.0) in rows


def test_dashboard_page_json_and_csv_export(app, client) -> None:
    login_staff(app, client, "ana", "agent-L1")
    token = csrf_token(client, "/")
    client.post("/search", data={"q": "I forgot my password", "csrf_token": token})
    client.post("/search", data={"q": "=cmd|' /C calc'!A0", "csrf_token": token})
    page = client.get("/console/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-dashboard=" in html and "<script>" not in html
    data = client.get("/console/dashboard.json").get_json()
    assert data["funnel"]["stages"]["searches"] == 2
    exported = client.get("/console/dashboard.csv")
    assert exported.mimetype == "text/csv" and "attachment" in exported.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert table[0] == ["section", "metric", "value"]
    assert ["funnel", "searches", "2"] in table
    assert not any(cells[1].startswith("=") for cells in table)  # no spreadsheet formulas
    assert client.get("/console/dashboard?from=2026-13-01").status_code == 400


def test_clarifying_question_figures_say_what_was_picked_and_whether_asking_helped(db: Session) -> None:
    chose = [search(db, f"printer {i}", answered=True) for i in range(3)]
    for row, value in zip(chose, ("macos", "macos", "phone"), strict=True):
        row.clarify, row.facet = "platform", value
    ignored = search(db, "cache", answered=True)
    ignored.clarify = "platform"
    kept = search(db, "vpn", answered=True)
    kept.facet = "phone"
    plain = search(db, "password", answered=True)
    search(db, "coffee", answered=False)  # a miss is not in the "not asked" comparison
    for row in (chose[0], chose[1], plain):
        feedback(db, row, "solved")
    db.commit()
    data = dashboard(db, PERIOD, now=NOW)["clarify"]
    assert data["searches"] == 7 and data["asked"] == 4 and data["answered_rate"] == 0.75
    assert data["picked"] == {"macos": 2, "phone": 1}
    assert data["answered_question"] == {"searches": 3, "solved": 2, "solved_rate": 0.6667}
    assert data["ignored_question"]["solved_rate"] == 0.0
    assert data["not_asked"] == {"searches": 1, "solved": 1, "solved_rate": 1.0}
    assert data["kept_choice"]["searches"] == 1
    rows = to_rows(dashboard(db, PERIOD, now=NOW))
    assert ("clarify_picked", "macos", 2) in rows and ("clarify", "asked", 4) in rows
