"""Access control over the whole URL map, and read-only GETs.

Every route of the app is listed by Flask's URL map, so a new page cannot slip past these tests: a staff
route missing from `REQUIRED` fails `test_every_staff_route_has_a_declared_rule`.
"""

from __future__ import annotations

import re

import pytest

from kb_engine.helpdesk.users import AGENT_ROLES, AUTHOR_ROLES, ROLES, TICKET_ROLES
from tests.conftest import csrf_token, login_staff
from tests.security.conftest import db_snapshot, make_ticket

# Staff blueprints, and the admins' personal-data endpoints of the privacy blueprint (its notice is public).
STAFF_PREFIXES = ("console.", "dashboard.", "authors.", "privacy.admin", "privacy.audit_json", "api_staff.")
ADMIN = ("admin",)
# Who may use each staff endpoint (every other role gets a 403, anonymous visitors the login page).
REQUIRED: dict[str, tuple[str, ...]] = {
    "console.queue": ROLES,
    "console.ticket": ROLES,
    "console.ticket_action": TICKET_ROLES,
    "console.search": ROLES,
    "console.article": ROLES,
    "console.canned": ROLES,
    "console.media": ROLES,
    "console.ticket_articles": ROLES,
    "console.compose": TICKET_ROLES,
    "console.queue_new": ROLES,
    "console.bulk": TICKET_ROLES,
    "console.problems": ROLES,
    "console.problem_action": TICKET_ROLES,
    "console.new_ticket": TICKET_ROLES,
    "console.create_ticket": TICKET_ROLES,
    "console.callers": TICKET_ROLES,
    "console.users": ADMIN,
    "console.user_action": ADMIN,
    "privacy.admin": ADMIN,
    "privacy.audit_json": ADMIN,
    "dashboard.page": ROLES,
    "dashboard.as_json": ROLES,
    "dashboard.as_csv": ROLES,
    "authors.home": AUTHOR_ROLES,
    "authors.gaps": AUTHOR_ROLES,
    "authors.draft": AUTHOR_ROLES,
    "authors.articles": AUTHOR_ROLES,
    "authors.article_feedback": AUTHOR_ROLES,
    "authors.preview": AUTHOR_ROLES,
    "authors.media": AUTHOR_ROLES,
    "authors.questions": AUTHOR_ROLES,
    "authors.decide": AUTHOR_ROLES,
    # The staff API takes a bearer token, never the console's cookie: without one every role gets 401
    # (tests/integrations/test_staff_api.py holds its role, tier and scope rules with tokens).
    "console.integrations": TICKET_ROLES,
    "console.create_api_token": TICKET_ROLES,
    "console.revoke_api_token": TICKET_ROLES,
    "console.add_webhook": ADMIN,
    "console.remove_webhook": ADMIN,
    "console.send_delivery_again": ADMIN,
    "api_staff.list_tickets": TICKET_ROLES,
    "api_staff.show": TICKET_ROLES,
    "api_staff.note": TICKET_ROLES,
    "api_staff.assign": TICKET_ROLES,
    "api_staff.escalate": TICKET_ROLES,
    "api_staff.resolve": TICKET_ROLES,
    "api_staff.close": TICKET_ROLES,
}


def _values(reference: str) -> dict[str, object]:
    return {
        "reference": reference,
        "lang": "en",
        "slug": "password-reset",
        "action": "note",
        "decision": "approve",
        "candidate_id": 1,
        "filename": "app.js",
        "name": "en/img/none.png",
        "problem_id": 1,
        "cid": "accounts",
        "username": "nobody-here",
        "token_id": 1,
        "endpoint_id": 1,
        "delivery_id": 1,
    }


def routes(app, reference: str, *, prefixes: tuple[str, ...] | None = None, methods=("GET", "POST")):
    """(endpoint, method, url) for every rule of the URL map, its arguments filled with real values."""
    values = _values(reference)
    out = []
    for rule in app.url_map.iter_rules():
        if prefixes is not None and not rule.endpoint.startswith(prefixes):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
        for method in sorted((rule.methods or set()) & set(methods)):
            out.append((rule.endpoint, method, url))
    return out


def call(client, method: str, url: str, token: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token, "note": "x", "title": "x", "lang": "en"})


def test_every_staff_route_has_a_declared_rule(app) -> None:
    staff = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith(STAFF_PREFIXES)}
    assert staff == set(REQUIRED), "declare who may use each new staff route in REQUIRED"


def test_logged_out_visitor_reaches_no_staff_route(app, client) -> None:
    reference, _ = make_ticket(app)
    token = csrf_token(client)  # a valid token, so that only the login check can refuse
    before = db_snapshot(app)
    for endpoint, method, url in routes(app, reference, prefixes=STAFF_PREFIXES):
        response = call(client, method, url, token)
        if url.endswith((".json", ".csv")) and method == "GET":
            assert response.status_code in (302, 401), (endpoint, url, response.status_code)
        else:
            assert response.status_code in (302, 303, 401), (endpoint, method, url, response.status_code)
        if response.status_code in (302, 303):
            assert "/console/login" in response.headers["Location"], (endpoint, url)
    assert db_snapshot(app) == before


@pytest.mark.parametrize("role", [*AGENT_ROLES, "author"])
def test_lower_roles_are_refused_what_they_may_not_use(app, client, role: str) -> None:
    reference, _ = make_ticket(app)
    login_staff(app, client, "member", role=role)
    token = csrf_token(client)
    before = db_snapshot(app)
    checked = 0
    for endpoint, method, url in routes(app, reference, prefixes=STAFF_PREFIXES):
        if role in REQUIRED[endpoint]:
            continue
        response = call(client, method, url, token)
        refused = 401 if endpoint.startswith("api_staff.") else 403  # a token API: the cookie is no token
        assert response.status_code == refused, (role, endpoint, method, url, response.status_code)
        checked += 1
    assert checked > 0
    assert db_snapshot(app) == before


@pytest.mark.parametrize("role", ["admin", None])
def test_no_get_route_changes_the_database(app, client, role: str | None) -> None:
    """Crawl every GET route of the map (customer, API, console, authors) and compare the database."""
    reference, ticket_token = make_ticket(app)
    client.post("/search", data={"q": "recipe for a chocolate cake", "csrf_token": csrf_token(client)})
    if role is not None:
        login_staff(app, client, "crawler", role=role)
    before = db_snapshot(app)
    seen = 0
    for endpoint, _method, url in routes(app, reference, methods=("GET",)):
        for query in ("", f"?t={ticket_token}&q=printer&s=1&solved=en/password-reset&answer=yes&ch=form"):
            response = client.get(url + query)
            response.close()  # static files are streamed from an open file
            assert response.status_code < 500, (endpoint, url, response.status_code)
            seen += 1
    assert seen > 40
    assert db_snapshot(app) == before
