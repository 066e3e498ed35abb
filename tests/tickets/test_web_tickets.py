"""Customer side of tickets in the web app, on SQLite and PostgreSQL: status page, replies, known issues."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from kb_engine.helpdesk.models import Problem, Ticket, TicketEvent
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import csrf_token

PAYROLL = (
    "the payroll app shows error 502",
    "payroll application is down with a 502 error",
    "payroll app gives bad gateway 502",
)


def counts(session) -> tuple[int, int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Ticket)),
        session.scalar(select(func.count()).select_from(TicketEvent)),
        session.scalar(select(func.count()).select_from(Problem)),
    )


def status_url(ticket: Ticket) -> str:
    return f"/tickets/{ticket.reference}?t={ticket.token}"


def reply(client, ticket: Ticket, message: str, *, token: str | None = None):
    return client.post(
        f"/tickets/{ticket.reference}/reply",
        data={"csrf_token": csrf_token(client), "t": token or ticket.token, "message": message},
    )


def test_status_page_shows_status_and_public_history_but_no_internal_note(client, session) -> None:
    service = TicketService(session)
    ticket = service.create(source="contact_form", query="VPN refuses my password", contact_email="a@x.org")
    service.take(ticket, "bob")
    service.add_note(ticket, "bob", "INTERNAL: user typed the old password")
    service.ask_customer(ticket, "bob", "Did you change your password recently?")
    session.commit()
    html = client.get(status_url(ticket)).get_data(as_text=True)
    assert "Waiting for your answer" in html
    assert "Support asked: Did you change your password recently?" in html
    assert "INTERNAL" not in html and "bob" not in html
    assert 'name="message"' in html and 'name="csrf_token"' in html


def test_customer_reply_reopens_a_waiting_ticket(client, session) -> None:
    service = TicketService(session)
    ticket = service.create(source="contact_form", query="VPN refuses my password", contact_email="a@x.org")
    service.ask_customer(ticket, "bob", "Which laptop?")
    session.commit()
    response = reply(client, ticket, "The grey Dell, tag 4471")
    assert response.status_code == 303 and ticket.token in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your message was sent." in page and "You replied: The grey Dell, tag 4471" in page
    session.expire_all()
    assert session.get(Ticket, ticket.id).status == "open"
    assert [e.kind for e in service.history(ticket)][-1] == "customer_reply"


def test_reply_with_a_wrong_token_or_without_csrf_is_refused(client, app, session) -> None:
    ticket = TicketService(session).create(source="contact_form", query="x", contact_email="a@x.org")
    session.commit()
    before = counts(session)
    assert reply(client, ticket, "hello", token="guessed").status_code == 404
    no_csrf = client.post(f"/tickets/{ticket.reference}/reply", data={"t": ticket.token, "message": "hello"})
    assert no_csrf.status_code == 400
    assert client.get(f"/tickets/{ticket.reference}?t=guessed").status_code == 404
    assert counts(session) == before


def test_reply_to_a_closed_ticket_is_refused_with_a_clear_message(client, session) -> None:
    service = TicketService(session)
    ticket = service.create(source="contact_form", query="x", contact_email="a@x.org")
    service.close(ticket, "bob", "resolved by phone")
    session.commit()
    before = counts(session)
    response = reply(client, ticket, "one more thing")
    assert response.status_code == 409
    assert "closed and cannot take replies" in response.get_data(as_text=True)
    assert counts(session) == before


def test_merged_customer_sees_the_surviving_tickets_status(client, session) -> None:
    service = TicketService(session)
    first = service.create(source="contact_form", query="VPN down", contact_email="a@x.org")
    second = service.create(source="contact_form", query="VPN is down here too", contact_email="b@x.org")
    service.merge(first, second, "bob")
    service.escalate(first, "bob", "gateway")
    session.commit()
    html = client.get(status_url(second)).get_data(as_text=True)
    assert f'joined with request <span class="reference">{first.reference}' in html
    assert re.search(r'class="status">A technician is on it<', html)
    assert "passed to a specialist team" in html
    assert reply(client, second, "still down").status_code == 303
    session.expire_all()
    assert [e.kind for e in session.get(Ticket, first.id).events][-1] == "customer_reply"


def test_known_issue_banner_shows_on_matching_searches_while_the_problem_is_open(
    client, session, embed
) -> None:
    service = TicketService(session)
    for query in PAYROLL:
        service.create(source="search_miss", query=query)
    (problem,) = service.propose_problems(embed)
    session.commit()
    assert "Known issue" not in client.get("/search?q=payroll+app+error+502").get_data(as_text=True)
    service.confirm_problem(problem, "lead", title="Payroll application outage")
    session.commit()
    before = counts(session)
    results = client.get("/search?q=payroll+app+error+502").get_data(as_text=True)
    assert "Known issue: Payroll application outage. We are on it." in results
    assert "Known issue" not in client.get("/search?q=printer+offline").get_data(as_text=True)
    assert "Payroll application outage" in client.get("/").get_data(as_text=True)
    assert counts(session) == before  # GET pages never write
    service.resolve_problem(problem, "lead", "Payroll server restarted")
    session.commit()
    assert "Known issue" not in client.get("/search?q=payroll+app+error+502").get_data(as_text=True)


def test_misses_typed_in_the_search_box_propose_a_problem(client, session) -> None:
    for i, query in enumerate(PAYROLL):
        page = client.post(
            "/search",
            data={"q": query, "csrf_token": csrf_token(client)},
            follow_redirects=True,
            environ_overrides={"REMOTE_ADDR": f"192.0.2.{i + 1}"},  # a problem needs different customers
        )
        assert "Still need help?" in page.get_data(as_text=True)
    session.expire_all()
    problems = session.scalars(select(Problem)).all()
    assert len(problems) == 1 and problems[0].status == "proposed"
    assert sorted(t.query for t in problems[0].tickets) == sorted(PAYROLL)


def test_problem_rules_are_settings(app_config, session) -> None:
    """Two similar misses are not a problem by default (3 needed), but are with KB_PROBLEM_MIN_TICKETS=2;
    with a similarity threshold no pair of texts reaches, nothing groups at all."""
    from web import close_app, create_app

    customers = itertools.count(1)  # each miss from its own address: a problem needs different customers

    def misses(config: dict[str, object], queries: tuple[str, ...]) -> None:
        app = create_app(config)
        try:
            client = app.test_client()
            for query in queries:
                client.post(
                    "/search",
                    data={"q": query, "csrf_token": csrf_token(client)},
                    environ_overrides={"REMOTE_ADDR": f"203.0.113.{next(customers)}"},
                )
        finally:
            close_app(app)

    misses(app_config, PAYROLL[:2])
    assert session.scalars(select(Problem)).all() == []
    misses({**app_config, "PROBLEM_MIN_TICKETS": 2, "TICKET_SIMILARITY": 1.01}, PAYROLL[2:])
    session.expire_all()
    assert session.scalars(select(Problem)).all() == []
    misses({**app_config, "PROBLEM_MIN_TICKETS": 2}, ("the payroll app is down, 502 bad gateway",))
    session.expire_all()
    problems = session.scalars(select(Problem)).all()
    assert len(problems) == 1 and len(problems[0].tickets) >= 2


def test_api_opens_a_ticket_that_its_token_follows_and_replies_to(client, session) -> None:
    created = client.post(
        "/api/v1/tickets",
        json={
            "query": "payroll app gives bad gateway 502",
            "email": "ana@example.com",
            "availability": "today",
        },
    )
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["reference"].startswith("KB-") and data["status"] == "new" and data["token"]
    assert data["status_url"].endswith(f"/tickets/{data['reference']}?t={data['token']}")
    ticket = session.scalar(select(Ticket).where(Ticket.reference == data["reference"]))
    assert ticket.source == "api" and [c.email for c in ticket.contacts] == ["ana@example.com"]
    url = f"/api/v1/tickets/{data['reference']}"
    assert client.get(url, query_string={"t": "guessed-but-well-formed-0123"}).status_code == 404
    assert client.get(url, query_string={"t": "é"}).status_code == 422  # not even a token
    followed = client.get(url, query_string={"t": data["token"]}).get_json()
    assert "token" not in followed and followed["history"][0]["text"] == "We received your request."
    replied = client.post(f"{url}/replies", json={"t": data["token"], "message": "It works again"})
    assert replied.status_code == 201
    assert replied.get_json()["history"][-1]["text"] == "You replied: It works again"


def test_api_ticket_needs_a_way_to_reach_the_customer(client, session) -> None:
    for body in ({"query": "payroll down"}, {"query": "payroll down", "phone": "  ", "email": None}):
        response = client.post("/api/v1/tickets", json=body)
        error = response.get_json()["error"]
        assert response.status_code == 422 and "email address or a phone" in error["fields"]["_schema"][0]
    assert client.post("/api/v1/tickets", json={"email": "a@b.org"}).status_code == 422
    assert client.post("/api/v1/tickets", json={"email": "a@b.org", "query": " \t"}).status_code == 422
    assert counts(session)[0] == 0
