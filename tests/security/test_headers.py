"""Security headers on every response (pages, errors, static files, API), CSRF on every form, safe next=."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token, login_staff
from tests.security.conftest import db_snapshot, make_ticket
from tests.security.test_access import routes


@pytest.mark.parametrize(
    "path",
    ["/", "/search?q=printer", "/static/app.js", "/no-such-page", "/api/v1/search", "/api/v1/nothing",
     "/console/", "/console/login", "/healthz", "/articles/en/nope", "/tickets/KB-0?t=bad"],
)  # fmt: skip
def test_every_response_has_the_security_headers(client, path: str) -> None:
    response = client.get(path)
    response.close()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_server_error_pages_have_the_headers_and_no_traceback(app, client) -> None:
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_every_state_changing_form_needs_the_csrf_token(app, client) -> None:
    """Every POST of the URL map, sent with a session but without a token, is refused and writes nothing."""
    reference, _ = make_ticket(app)
    login_staff(app, client, "admin", role="admin")
    before = db_snapshot(app)
    # The ticket API and the staff API (bearer token, issue 18) read no cookie: tested below.
    posts = [
        r
        for r in routes(app, reference, methods=("POST",))
        if not r[0].startswith(("api_tickets.", "api_staff."))
    ]
    assert len(posts) >= 10
    for endpoint, _method, url in posts:
        response = client.post(url, data={"note": "x", "q": "printer", "helped": "yes"})
        assert response.status_code == 400, (endpoint, url, response.status_code)
        assert "form expired" in response.get_data(as_text=True) or response.is_json
    assert db_snapshot(app) == before


def test_the_staff_api_reads_no_cookie_a_staff_session_gets_401(app, client) -> None:
    """The staff API is token-only: an admin's console cookie opens none of its writes and changes nothing."""
    reference, _ = make_ticket(app)
    login_staff(app, client, "admin", role="admin")
    posts = [r for r in routes(app, reference, methods=("POST",)) if r[0].startswith("api_staff.")]
    assert len(posts) >= 4
    before = db_snapshot(app)
    for endpoint, _method, url in posts:
        response = client.post(url, json={"note": "x", "reason": "x", "tier": "L2"})
        assert response.status_code == 401, (endpoint, response.status_code)
    assert db_snapshot(app) == before


def test_the_csrf_exempt_ticket_api_reads_no_cookie(app, client) -> None:
    """The ticket API skips the CSRF token because it acts on a JSON body and a ticket token only: a
    staff session cookie gives it no power, a cross-site form cannot post to it, and another site's page
    cannot send it JSON (no CORS for it, so the browser's preflight fails)."""
    reference, token = make_ticket(app, contact_email="li@example.com")
    login_staff(app, client, "admin", role="admin")
    posts = [r for r in routes(app, reference, methods=("POST",)) if r[0].startswith("api_tickets.")]
    assert len(posts) >= 2
    before = db_snapshot(app)
    for endpoint, _method, url in posts:
        # What a cross-site HTML form can send (urlencoded, cookie attached by the browser): refused.
        form = client.post(url, data={"query": "x", "email": "a@example.com", "message": "hi", "t": token})
        assert form.status_code in (400, 415, 422), (endpoint, form.status_code)
        # JSON with the admin's cookie but no ticket token: the cookie opens nothing.
        anonymous = client.post(url, json={"query": "", "message": "hi"})
        assert anonymous.status_code in (400, 404, 422), (endpoint, anonymous.status_code)
        assert "Set-Cookie" not in anonymous.headers and "Set-Cookie" not in form.headers
        preflight = client.options(
            url,
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert "Access-Control-Allow-Origin" not in preflight.headers, endpoint
    assert db_snapshot(app) == before
    # The same replies, answered with and without the staff cookie, are the same: the cookie is not read.
    with_cookie = client.get(f"/api/v1/tickets/{reference}?t={token}").get_json()
    without = app.test_client().get(f"/api/v1/tickets/{reference}?t={token}").get_json()
    assert with_cookie == without and with_cookie["reference"] == reference


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
     "http:/evil.example", " //evil.example", "/%2F%2Fevil.example"],
)  # fmt: skip
def test_login_refuses_open_redirects(app, client, target: str) -> None:
    from tests.conftest import STAFF_PASSWORD

    login_staff(app, app.test_client(), "ana")
    response = client.post(
        "/console/login",
        data={
            "csrf_token": csrf_token(client),
            "username": "ana",
            "password": STAFF_PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "evil" not in location or location.startswith("/%2F")
