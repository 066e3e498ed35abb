"""Recurring incidents per customer on SQLite and PostgreSQL: the third ticket about the same thing from one
customer within the window is flagged with links to the earlier ones and its priority rises; another
customer, another subject or an older ticket does not count; "make it a problem" links them."""

from __future__ import annotations

import numpy as np
import pytest

from kb_engine.helpdesk.models import SearchLog
from kb_engine.helpdesk.recurring import RecurringRules, flag_recurring, make_problem, recurring_of
from tests.apps import app_ticket
from tests.conftest import csrf_token, login_staff

VOCAB = ["vpn", "drops", "disconnects", "printer", "jam", "password", "expired", "outlook", "crash"]


def embed(texts):
    """Bag of words over a small vocabulary, L2-normalised: same words, same thing (no model needed)."""
    rows = np.array(
        [[float(w in t.lower().split()) for w in VOCAB] + [1e-3] for t in texts], dtype=np.float32
    )
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def open_(service, query, email="ann@example.com", **kw):
    return service.create(source="contact_form", query=query, lang="en", contact_email=email, **kw)


def test_third_time_in_the_window_is_flagged_and_raised(session, service, clock):
    first = open_(service, "vpn drops")
    clock.advance(days=10)
    open_(service, "printer jam")  # another subject
    open_(service, "vpn drops", email="bob@example.com")  # another customer
    second = open_(service, "vpn disconnects drops")
    assert flag_recurring(service, second, embed) == []  # twice is not yet recurring
    clock.advance(days=15)
    third = open_(service, "VPN drops", email="Ann@Example.com")
    before = service.priority_of(third).level
    same = flag_recurring(service, third, embed)
    assert [t.reference for t in same] == [first.reference, second.reference]
    flag = recurring_of(service, third)
    assert flag["earlier"] == [first.reference, second.reference]
    assert "3 times in 30 days" in flag["note"]
    assert service.priority_of(third).level == before - 1
    clock.advance(days=6)  # the first is now older than 30 days
    fourth = open_(service, "vpn drops")
    assert [t.reference for t in flag_recurring(service, fourth, embed)] == [
        second.reference,
        third.reference,
    ]
    problem = make_problem(service, fourth, "alice")
    assert sorted(t.reference for t in problem.tickets) == sorted(
        [second.reference, third.reference, fourth.reference]
    )
    assert problem.status == "proposed"


def test_same_browser_counts_and_settings_change_the_rule(session, service, clock):
    tickets = []
    for _ in range(2):
        search = SearchLog(query="outlook crash", visitor="browser-1", at=clock.now)
        session.add(search)
        session.flush()
        tickets.append(
            service.create(source="search_miss", query="outlook crash", lang="en", search_id=search.id)
        )
    assert flag_recurring(service, tickets[1], embed) == []
    assert len(flag_recurring(service, tickets[1], embed, RecurringRules(min_tickets=2))) == 1


def test_console_shows_the_flag_and_makes_a_problem(app, client):
    refs = [app_ticket(app, query="vpn drops", contact_email="ann@example.com")[0] for _ in range(3)]
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        assert flag_recurring(service, service.get(refs[2]), embed)
        session.commit()
    login_staff(app, client, "lena", "agent-L1")
    page = client.get(f"/console/tickets/{refs[2]}").get_data(as_text=True)
    assert 'data-recurring="3"' in page and refs[0] in page and "Make it a problem" in page
    token = csrf_token(client, f"/console/tickets/{refs[2]}")
    made = client.post(f"/console/recurring/{refs[2]}/problem", data={"csrf_token": token})
    assert made.status_code == 303
    page = client.get(f"/console/tickets/{refs[2]}").get_data(as_text=True)
    assert "Linked to problem" in page and "Make it a problem" not in page


@pytest.mark.parametrize("path", ["/console/recurring/KB-000001/problem"])
def test_make_a_problem_needs_an_agent(app, client, path):
    assert client.post(path).status_code in (302, 400, 401)
