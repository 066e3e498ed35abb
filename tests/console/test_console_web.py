"""The agent console: login, roles and tiers, queue, ticket actions, agent search, canned replies."""

from __future__ import annotations

import pytest

from tests.conftest import STAFF_PASSWORD, csrf_token, login_staff
from tests.console.conftest import open_ticket, ticket_row

CONSOLE_PAGES = ["/console/", "/console/search?q=vpn", "/console/canned", "/console/dashboard"]
AUTHOR_PAGES = ["/authors/gaps", "/authors/articles", "/authors/questions"]


def act(client, reference: str, action: str, **form):
    token = csrf_token(client, f"/console/tickets/{reference}")
    return client.post(f"/console/tickets/{reference}/{action}", data={"csrf_token": token, **form})


@pytest.mark.parametrize("path", CONSOLE_PAGES + AUTHOR_PAGES + ["/console/dashboard.csv"])
def test_every_staff_page_needs_login(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")


def test_json_clients_get_401_not_a_login_page(client) -> None:
    assert client.get("/console/dashboard.json").status_code == 401


def test_login_refuses_wrong_password_and_missing_csrf(app, client) -> None:
    login_staff(app, app.test_client(), "ana")
    token = csrf_token(client, "/console/login")
    wrong = client.post(
        "/console/login", data={"csrf_token": token, "username": "ana", "password": "nope" * 4}
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.get_data(as_text=True)
    no_csrf = client.post("/console/login", data={"username": "ana", "password": STAFF_PASSWORD})
    assert no_csrf.status_code == 400
    assert client.get("/console/").status_code == 302


def test_login_redirects_only_to_this_site(app, client) -> None:
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.users import create_user

    with make_session_factory(app.extensions["kb_engine"])() as session:
        create_user(session, "ana", STAFF_PASSWORD, "agent-L1")
        session.commit()
    for target, expected in (
        ("/console/search?q=x", "/console/search?q=x"),
        ("//evil.example/", "/console/"),
    ):
        c = app.test_client()
        token = csrf_token(c, "/console/login")
        response = c.post(
            "/console/login",
            data={"csrf_token": token, "username": "ana", "password": STAFF_PASSWORD, "next": target},
        )
        assert response.headers["Location"] == expected


def test_logout_ends_every_session_of_the_account(app, client) -> None:
    login_staff(app, client, "ana")
    other = app.test_client()
    token = csrf_token(other, "/console/login")
    other.post("/console/login", data={"csrf_token": token, "username": "ana", "password": STAFF_PASSWORD})
    assert other.get("/console/").status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    assert client.get("/console/").status_code == 302
    assert other.get("/console/").status_code == 302  # the other browser's cookie is dead too


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_console_pages_render_and_are_not_cached(app, client, path: str) -> None:
    login_staff(app, client, "ana")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", AUTHOR_PAGES)
def test_authors_pages_are_for_authors_and_admins(app, client, path: str) -> None:
    login_staff(app, client, "ana", "agent-L3")
    assert client.get(path).status_code == 403
    author = app.test_client()
    login_staff(app, author, "bea", "author")
    assert author.get(path).status_code == 200


def test_queue_lists_by_priority_with_filters(app, client) -> None:
    urgent = open_ticket(app, query="ransomware on the file server, everyone is blocked", category="files")
    normal = open_ticket(app, query="printer jams on floor 2", category="printing", lang="en")
    security = open_ticket(app, query="phishing email received", category="security")
    login_staff(app, client, "ana")
    html = client.get("/console/").get_data(as_text=True)
    assert html.index(urgent) < html.index(normal)
    assert security in html  # L2 tickets are visible to L1, read only
    only_l2 = client.get("/console/?tier=L2").get_data(as_text=True)
    assert security in only_l2 and normal not in only_l2
    printing = client.get("/console/?category=printing").get_data(as_text=True)
    assert normal in printing and urgent not in printing


def test_agent_takes_notes_escalates_and_the_next_tier_resolves(app, client) -> None:
    reference = open_ticket(
        app, query="VPN drops every 5 minutes", category="network", contact_email="ana@example.com"
    )
    login_staff(app, client, "lena", "agent-L1")
    assert act(client, reference, "take").status_code == 303
    assert act(client, reference, "note", note="gateway logs show TLS errors").status_code == 303
    page = client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert "gateway logs show TLS errors" in page and "ana@example.com" in page
    assert act(client, reference, "escalate", reason="gateway certificate").status_code == 303
    data = ticket_row(app, reference)
    assert (data["tier"], data["assignee"]) == ("L2", None)
    # L1 can no longer act on it, whatever the form says.
    refused = act(client, reference, "resolve", article="en/vpn-cannot-connect")
    assert refused.status_code == 403
    l2 = app.test_client()
    login_staff(app, l2, "omar", "agent-L2")
    page = l2.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert "gateway certificate" in page  # the escalation packet
    assert act(l2, reference, "resolve", article="en/vpn-cannot-connect").status_code == 303
    data = ticket_row(app, reference)
    assert data["status"] == "resolved" and data["resolution_article"] == "en/vpn-cannot-connect"
    kinds = [(e["actor"], e["kind"]) for e in data["history"]]
    assert ("lena", "taken") in kinds and ("lena", "escalated") in kinds and ("omar", "resolved") in kinds


def test_invalid_action_shows_the_reason_and_changes_nothing(app, client) -> None:
    reference = open_ticket(app, query="laptop will not start")
    login_staff(app, client, "ana", "agent-L1")
    response = act(client, reference, "escalate", reason="")
    assert response.status_code == 400 and "give a reason" in response.get_data(as_text=True)
    assert ticket_row(app, reference)["tier"] == "L1"
    act(client, reference, "resolve", note="replaced the charger")
    again = act(client, reference, "resolve", note="again")
    assert again.status_code == 409 and "already resolved" in again.get_data(as_text=True)


def test_assign_only_to_an_agent_of_that_tier(app, client) -> None:
    reference = open_ticket(app, query="phishing email received", category="security")  # L2
    login_staff(app, client, "omar", "agent-L2")
    login_staff(app, app.test_client(), "lena", "agent-L1")
    refused = act(client, reference, "assign", assignee="lena")
    assert refused.status_code == 400 and "cannot work on an L2 ticket" in refused.get_data(as_text=True)
    assert act(client, reference, "assign", assignee="omar").status_code == 303
    assert ticket_row(app, reference)["assignee"] == "omar"


def test_merge_from_the_ticket_page(app, client) -> None:
    first = open_ticket(app, query="VPN is down", contact_email="a@example.com")
    second = open_ticket(app, query="cannot reach the VPN", contact_email="b@example.com")
    login_staff(app, client, "ana", "agent-L1")
    asked = act(client, first, "merge", others_text=second, reason="same outage")
    assert asked.status_code == 200 and "Please confirm" in asked.get_data(as_text=True)
    assert ticket_row(app, second)["merged_into"] is None  # nothing merged before the confirmation
    confirmed = act(client, first, "merge", others_text=second, reason="same outage", confirm="yes")
    assert confirmed.status_code == 303
    data = ticket_row(app, first)
    assert {c["email"] for c in data["contacts"]} == {"a@example.com", "b@example.com"}
    assert ticket_row(app, second)["merged_into"] == first


def test_authors_cannot_act_on_tickets(app, client) -> None:
    reference = open_ticket(app, query="printer jams")
    login_staff(app, client, "bea", "author")
    assert client.get(f"/console/tickets/{reference}").status_code == 200  # reading is fine
    assert act(client, reference, "take").status_code == 403


def test_ticket_page_shows_history_suggestions_and_filled_canned_reply(app, client) -> None:
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.models import SearchLog
    from kb_engine.insights import analytics

    with make_session_factory(app.extensions["kb_engine"])() as session:
        session.add(SearchLog(query="wifi keeps dropping", answered=False, visitor="v1"))
        search = SearchLog(query="my password stopped working", answered=False, visitor="v1")
        session.add(search)
        session.flush()
        analytics.record_feedback(session, "en/password-reset", "view", search=search, visitor="v1")
        search_id = search.id
        session.commit()
    earlier = open_ticket(app, query="mailbox is full", contact_email="Ana@Example.com", contact_name="Ana")
    reference = open_ticket(
        app,
        query="my password stopped working",
        source="search_miss",
        search_id=search_id,
        contact_email="ana@example.com",
        contact_name="Ana",
    )
    login_staff(app, client, "lena", "agent-L1")
    page = client.get(f"/console/tickets/{reference}?canned=try-article").get_data(as_text=True)
    assert earlier in page  # the same customer's earlier ticket
    assert "wifi keeps dropping" in page  # the same browser's earlier search
    assert "Reset a forgotten password" in page  # suggested article
    assert "Hello Ana," in page and reference in page and "/articles/en/password-reset" in page


def test_agent_search_shows_internal_articles_and_scores_and_logs_nothing(app, client) -> None:
    login_staff(app, client, "ana", "agent-L1")
    html = client.get("/console/search?q=escalation+procedure+for+agents").get_data(as_text=True)
    assert "internal" in html and 'data-field="confidence"' in html
    assert client.get("/console/articles/en/escalation-procedure").status_code == 200
    assert client.get("/articles/en/escalation-procedure").status_code == 404  # never to customers
    from tests.test_web import db_rows

    assert db_rows(app, "SELECT count(*) FROM search_log") == [(0,)]


def test_ticket_actions_need_csrf(app, client) -> None:
    reference = open_ticket(app, query="printer jams")
    login_staff(app, client, "ana", "agent-L1")
    assert client.post(f"/console/tickets/{reference}/take").status_code == 400
    assert ticket_row(app, reference)["assignee"] is None
