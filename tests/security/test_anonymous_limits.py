"""Limits on what anonymous visitors create (tickets through the API and the contact form, tickets opened by
search misses, replies, feedback), counted per address and per email in the database; 429 with
`Retry-After`; the customer's page keeps what was typed; one sender alone never makes or grows a problem."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.models import Problem, SearchLog, Ticket
from kb_engine.insights.dashboard import Period, search_quality
from tests.conftest import csrf_token
from tests.tickets.conftest import fresh_postgres_schema

LIMITS = {
    "LIMIT_TICKETS_PER_ADDRESS": 3,
    "LIMIT_TICKETS_PER_EMAIL": 2,
    "LIMIT_MISSES_PER_ADDRESS": 2,
    "LIMIT_REPLIES_PER_ADDRESS": 3,
    "LIMIT_FEEDBACK_PER_ADDRESS": 4,
}


def _client(app: Any, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _count(app: Any, model: Any = Ticket) -> int:
    with make_session_factory(app.extensions["kb_engine"])() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _api_ticket(client: Any, email: str, query: str = "the printer on floor 2 is offline") -> Any:
    return client.post("/api/v1/tickets", json={"query": query, "email": email})


def test_api_tickets_are_limited_per_address_with_429_and_retry_after(make_app) -> None:
    app = make_app(**LIMITS)
    spammer = _client(app, "198.51.100.1")
    statuses = [_api_ticket(spammer, f"u{i}@example.com").status_code for i in range(6)]
    assert statuses == [201, 201, 201, 429, 429, 429]
    refused = _api_ticket(spammer, "late@example.com")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert _count(app) == 3
    # Another customer, below every limit, is not affected.
    assert _api_ticket(_client(app, "198.51.100.2"), "ada@example.com").status_code == 201
    assert _count(app) == 4


def test_api_tickets_are_limited_per_email_whatever_the_address(make_app) -> None:
    app = make_app(**LIMITS)
    statuses = [
        _api_ticket(_client(app, f"203.0.113.{i}"), "Same@Example.com ".strip()).status_code for i in range(4)
    ]
    assert statuses == [201, 201, 429, 429]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_contact_form_over_the_limit_keeps_what_was_typed(make_app, lang: str) -> None:
    app = make_app(**{**LIMITS, "LIMIT_TICKETS_PER_ADDRESS": 1})
    client = _client(app, "198.51.100.9")
    client.get(f"/?lang={lang}")
    token = csrf_token(client)
    statuses = []
    for attempt in range(2):
        described = client.post("/contact", data={"csrf_token": token, "q": f"printer jam number {attempt}"})
        search_id = re.search(r"s=(\d+)", described.headers["Location"]).group(1)
        sent = client.post(
            "/contact/send",
            data={
                "csrf_token": token,
                "s": search_id,
                "name": "Zoë Martin",
                "email": "zoe@example.com",
                "details": "Tray 2 jams on every page since Monday",
            },
        )
        statuses.append(sent.status_code)
    assert statuses == [303, 429]
    assert int(sent.headers["Retry-After"]) >= 1
    page = sent.get_data(as_text=True)
    assert "Tray 2 jams on every page since Monday" in page and "zoe@example.com" in page
    expected = "Veuillez réessayer dans" if lang == "fr" else "Please try again in"
    assert expected in page
    assert _count(app) == 1


def test_replies_are_limited_per_address_and_the_status_page_keeps_the_message(make_app) -> None:
    app = make_app(**LIMITS)
    created = _api_ticket(_client(app, "198.51.100.3"), "li@example.com").get_json()
    reference, token = created["reference"], created["token"]
    api = _client(app, "198.51.100.4")
    statuses = [
        api.post(
            f"/api/v1/tickets/{reference}/replies", json={"t": token, "message": f"more {i}"}
        ).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 201]
    refused = api.post(f"/api/v1/tickets/{reference}/replies", json={"t": token, "message": "again"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    page = api.post(
        f"/tickets/{reference}/reply",
        data={"csrf_token": csrf_token(api), "t": token, "message": "Still broken after the reboot"},
    )
    assert page.status_code == 429
    assert "Still broken after the reboot" in page.get_data(as_text=True)
    history = api.get(f"/api/v1/tickets/{reference}?t={token}").get_json()["history"]
    assert sum(1 for e in history if e["kind"] == "customer_reply") == 3


def test_search_misses_over_the_limit_still_answer_without_a_new_ticket(make_app) -> None:
    app = make_app(**LIMITS)
    client = _client(app, "198.51.100.5")
    token = csrf_token(client)
    for i in range(4):
        response = client.post("/search", data={"csrf_token": token, "q": f"zzqx unknown thing {i}"})
        assert response.status_code == 303
        assert client.get(response.headers["Location"]).status_code == 200
    assert _count(app) == 2


def test_article_feedback_is_limited_per_address(make_app) -> None:
    app = make_app(**LIMITS)
    client = _client(app, "198.51.100.6")
    token = csrf_token(client)
    statuses = [
        client.post(
            "/articles/en/password-reset/feedback", data={"csrf_token": token, "helped": "yes"}
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [303, 303, 303, 303, 429]


def test_one_sender_alone_never_makes_or_grows_a_problem(make_app) -> None:
    app = make_app(LIMIT_TICKETS_PER_ADDRESS=50, LIMIT_TICKETS_PER_EMAIL=50, PROBLEM_MIN_TICKETS=3)
    spammer = _client(app, "198.51.100.7")
    for i in range(6):
        assert _api_ticket(spammer, f"bot{i}@example.com", "the vpn drops every minute").status_code == 201
    assert _count(app, Problem) == 0
    # Three different customers about the same thing: a problem is proposed...
    for i in range(3):
        assert (
            _api_ticket(
                _client(app, f"192.0.2.{i}"), f"c{i}@example.com", "the vpn drops every minute"
            ).status_code
            == 201
        )
    with make_session_factory(app.extensions["kb_engine"])() as session:
        problems = list(session.scalars(select(Problem)))
        assert len(problems) == 1
        linked = len(problems[0].tickets)
    # ...and more tickets from a customer it already has do not grow it.
    for i in range(3):
        _api_ticket(_client(app, "192.0.2.0"), f"again{i}@example.com", "the vpn drops every minute")
    with make_session_factory(app.extensions["kb_engine"])() as session:
        assert len(session.scalars(select(Problem)).one().tickets) == linked


def test_one_client_repeating_a_query_does_not_top_the_dashboard(make_app) -> None:
    app = make_app(LIMIT_MISSES_PER_ADDRESS=50)

    def search(address: str, query: str) -> None:
        client = _client(app, address)  # a fresh client each time: no cookie, a new session
        response = client.post("/search", data={"csrf_token": csrf_token(client), "q": query})
        assert response.status_code == 303

    for _ in range(8):
        search("198.51.100.66", "cheap pills online")
    for i in range(3):
        search(f"192.0.2.{i + 10}", "vpn drops every minute")
    with make_session_factory(app.extensions["kb_engine"])() as session:
        top = search_quality(session, Period.last_days(1))["top_queries"]
        logged = list(session.scalars(select(SearchLog)))
    assert [(q["query"], q["visitors"], q["count"]) for q in top] == [
        ("vpn drops every minute", 3, 3),
        ("cheap pills online", 1, 8),
    ]
    # Distinct visitors without personal data: the address is kept only as a keyed hash.
    assert len({row.client for row in logged}) == 4
    assert all(row.client and "198.51" not in row.client and "192.0" not in row.client for row in logged)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings for the app's database: its own SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield {}
        return
    with fresh_postgres_schema("limits") as url:
        yield {"DATABASE_URL": url}


def test_parallel_tickets_from_one_address_never_pass_the_limit(make_app, database) -> None:
    app = make_app(**LIMITS, **database)
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def post(i: int) -> None:
        client = _client(app, "198.51.100.8")
        barrier.wait()
        statuses.append(_api_ticket(client, f"p{i}@example.com").status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(app) <= 3
    assert statuses.count(201) == _count(app)
    assert set(statuses) <= {201, 429, 503}
