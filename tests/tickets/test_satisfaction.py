"""Satisfaction (CSAT) on SQLite and PostgreSQL: once per ticket, only once resolved, from the resolution
email's link and the status page (English and French), and the dashboard's CSAT per tier, team, category."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk import satisfaction
from kb_engine.helpdesk.models import OutboxMessage, Satisfaction
from tests.apps import app_ticket
from tests.conftest import csrf_token, login_staff


def resolved(service, **fields):
    ticket = service.create(
        source="contact_form", query="printer", lang="en", contact_email="a@example.com", **fields
    )
    service.resolve(ticket, "alice", note="new toner")
    return ticket


def test_one_answer_per_ticket_and_only_once_resolved(session, service, clock):
    ticket = service.create(source="contact_form", query="printer", lang="en", contact_email="a@example.com")
    with pytest.raises(InvalidTransition, match="not resolved yet"):
        satisfaction.rate(session, ticket, "good")
    service.resolve(ticket, "alice", note="new toner")
    with pytest.raises(InvalidQuery):
        satisfaction.rate(session, ticket, "great")
    answer, new = satisfaction.rate(session, ticket, "bad", now=clock.now)
    assert new and answer.rating == "bad" and answer.tier == "L1"
    again, new = satisfaction.rate(session, ticket, "good", "took two days", now=clock.now)
    assert (
        not new and again.rating == "bad" and again.comment == "took two days"
    )  # rating kept, comment added
    third, _ = satisfaction.rate(session, ticket, "good", "another comment")
    assert third.comment == "took two days"
    session.commit()
    assert len(list(session.scalars(select(Satisfaction)))) == 1


def test_resolution_email_asks_with_one_link_per_answer(session, service):
    ticket = resolved(service)
    session.commit()
    (email,) = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "resolved"))
    links = re.findall(r"\S+/satisfaction\?\S+", email.body)
    assert [link.split("r=")[1].split("&")[0] for link in links] == ["good", "bad"]
    assert all(f"/tickets/{ticket.reference}/satisfaction?t={ticket.token}" in link for link in links)


def test_summary_per_tier_team_category_and_week(session, service, clock):
    for category, rating in [("email", "good"), ("email", "bad"), ("security", "good"), ("network", "good")]:
        ticket = resolved(service, category=category)
        satisfaction.rate(session, ticket, rating, "fine" if rating == "good" else "slow", now=clock.now)
    session.commit()
    data = satisfaction.summary(session, clock.now - dt.timedelta(days=1), clock.now + dt.timedelta(days=1))
    assert (data["answers"], data["good"], data["csat"]) == (4, 3, 0.75)
    assert {r["key"]: r["csat"] for r in data["by_category"]} == {
        "email": 0.5,
        "network": 1.0,
        "security": 1.0,
    }
    assert {r["key"]: r["answers"] for r in data["by_tier"]} == {"L1": 3, "L2": 1}
    assert {r["key"] for r in data["by_team"]} == {"messaging", "security", "network"}
    assert data["by_week"] == [{"key": "2026-W10", "answers": 4, "good": 3, "csat": 0.75}]
    assert [c["comment"] for c in data["comments"]][:1] == ["fine"] and len(data["comments"]) == 4


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_status_page_buttons_and_email_link(app, client, lang):
    reference, token = app_ticket(app, contact_email="a@example.com", lang=lang)
    client.get(f"/?lang={lang}")
    status = client.get(f"/tickets/{reference}?t={token}").get_data(as_text=True)
    assert 'name="rating" value="good"' not in status  # not resolved yet: no question
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        service.resolve(service.get(reference), "alice", note="fixed")
        session.commit()
    page = client.get(f"/tickets/{reference}?t={token}").get_data(as_text=True)
    question = (
        "Êtes-vous satisfait(e) du traitement de votre demande ?"
        if lang == "fr"
        else "Are you satisfied with"
    )
    assert question in page and 'value="good"' in page and 'value="bad"' in page
    # The email's link shows the answer ready to send; opening it records nothing.
    link = client.get(f"/tickets/{reference}/satisfaction?t={token}&r=bad&ch=email").get_data(as_text=True)
    assert 'value="bad" checked' in link
    assert "data-rated" not in client.get(f"/tickets/{reference}?t={token}").get_data(as_text=True)
    assert client.get(f"/tickets/{reference}/satisfaction?t=wrong&r=bad").status_code == 404
    form = {"csrf_token": csrf_token(client, f"/tickets/{reference}?t={token}"), "t": token, "ch": "email"}
    sent = client.post(
        f"/tickets/{reference}/satisfaction", data={**form, "rating": "bad", "comment": "slow"}
    )
    assert sent.status_code == 303
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert 'data-rated="bad"' in page and 'value="good"' not in page
    again = client.post(f"/tickets/{reference}/satisfaction", data={**form, "rating": "good"})
    assert again.status_code == 303
    bad = client.post(f"/tickets/{reference}/satisfaction", data={**form, "rating": "maybe"})
    assert bad.status_code == 400
    with make_session_factory(app.extensions["kb_engine"])() as session:
        (answer,) = session.scalars(select(Satisfaction))
        assert (answer.rating, answer.comment, answer.channel) == ("bad", "slow", "email")


def test_dashboard_shows_csat_and_comments(app, client):
    reference, token = app_ticket(app, contact_email="a@example.com", category="email")
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        ticket = service.get(reference)
        service.resolve(ticket, "alice", note="fixed")
        satisfaction.rate(session, ticket, "good", "quick and kind")
        session.commit()
    login_staff(app, client, "boss", "admin")
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert 'id="csat"' in page and "100%" in page and "quick and kind" in page
    assert 'data-csat-by="category"' in page
