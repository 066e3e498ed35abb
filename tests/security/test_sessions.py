"""Session cookie flags, a new session at login, server-side logout, idle and absolute timeouts, and the
login brute-force limit (per account, per address, shared by every worker process through the database)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.throttle import LoginThrottle
from tests.conftest import STAFF_PASSWORD, csrf_token, login_staff


def try_login(client, username: str, password: str):
    token = csrf_token(client, "/console/login")
    return client.post(
        "/console/login", data={"csrf_token": token, "username": username, "password": password}
    )


def test_session_cookie_is_secure_httponly_and_lax(app_config) -> None:
    from web import close_app, create_app

    app = create_app({**app_config, "SESSION_COOKIE_SECURE": True})
    try:
        # The test client only sends a Secure cookie back over https.
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        response = login_staff(app, client, "ana")
        cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        close_app(app)


def test_login_starts_a_new_session(app, client) -> None:
    before = csrf_token(client)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker before the login"
    login_staff(app, client, "ana")
    with client.session_transaction() as sess:
        assert "planted" not in sess
    assert csrf_token(client) != before
    stale = client.post("/console/tickets/KB-1/note", data={"csrf_token": before, "note": "x"})
    assert stale.status_code == 400  # the token of the old session no longer works


def test_logout_invalidates_the_session_on_the_server(app, client) -> None:
    login_staff(app, client, "ana")
    with client.session_transaction() as sess:
        stolen = dict(sess)
    client.post("/console/logout", data={"csrf_token": csrf_token(client)})
    replay = app.test_client()
    with replay.session_transaction() as sess:
        sess.update(stolen)
    assert replay.get("/console/").status_code == 302  # the copied cookie is dead


@pytest.mark.parametrize(
    ("idle", "age", "alive"),
    [(60, 3600, True), (31 * 60, 3600, False), (60, 13 * 3600, False)],
    ids=["in-use", "idle-timeout", "absolute-timeout"],
)
def test_sessions_expire_when_idle_and_after_a_maximum_age(app, client, idle, age, alive) -> None:
    login_staff(app, client, "ana")
    now = int(time.time())
    with client.session_transaction() as sess:
        sess["seen_at"], sess["login_at"] = now - idle, now - age
    response = client.get("/console/")
    assert (response.status_code == 200) is alive, response.status_code
    if not alive:
        assert "/console/login" in response.headers["Location"]


def test_a_session_without_timestamps_is_not_accepted(app, client) -> None:
    login_staff(app, client, "ana")
    with client.session_transaction() as sess:
        del sess["login_at"]
    assert client.get("/console/").status_code == 302


def test_account_is_locked_after_repeated_failures_even_with_the_right_password(app, client) -> None:
    login_staff(app, app.test_client(), "ana")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert try_login(client, "ana", "wrong password!").status_code == 401
    refused = try_login(client, "ana", STAFF_PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert try_login(client, "bob-unknown", "wrong password!").status_code == 401  # other accounts not


def test_address_is_limited_across_accounts(app_config) -> None:
    from web import close_app, create_app

    app = create_app({**app_config, "LOGIN_MAX_FAILURES_PER_ADDRESS": 6})
    try:
        client = app.test_client()
        for i in range(6):
            assert try_login(client, f"user{i}", "wrong password!").status_code == 401
        assert try_login(client, "someone-else", "wrong password!").status_code == 429
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert try_login(other, "someone-else", "wrong password!").status_code == 401
    finally:
        close_app(app)


def test_limit_is_shared_by_worker_processes(app_config) -> None:
    """Two app instances on one database stand for two gunicorn workers: failures on one count on both."""
    from web import close_app, create_app

    first, second = create_app(app_config), create_app(app_config)
    try:
        for _ in range(3):
            try_login(first.test_client(), "ana", "wrong password!")
        for _ in range(first.config["LOGIN_MAX_FAILURES"] - 3):
            try_login(second.test_client(), "ana", "wrong password!")
        assert try_login(first.test_client(), "ana", "wrong password!").status_code == 429
        assert try_login(second.test_client(), "ana", "wrong password!").status_code == 429
    finally:
        close_app(first)
        close_app(second)


def test_throttle_forgets_failures_after_the_window_and_on_success(app) -> None:
    now = dt.datetime(2026, 1, 1, 12, 0)
    with make_session_factory(app.extensions["kb_engine"])() as session:
        throttle = LoginThrottle(session, per_account=2, per_address=100, window_seconds=60)
        assert throttle.begin("Ana", "10.0.0.1", now).wait == 0
        assert throttle.begin("ana", "10.0.0.1", now + dt.timedelta(seconds=10)).wait == 0
        # Two failures: the address that failed waits until the oldest leaves the window...
        assert throttle.begin("ANA ", "10.0.0.1", now + dt.timedelta(seconds=20)).wait == 41
        session.rollback()
        # ...after it, it may try again; and an address that never failed may try at once.
        assert throttle.begin("ana", "10.0.0.3", now + dt.timedelta(seconds=20)).wait == 0
        attempt = throttle.begin("ana", "10.0.0.1", now + dt.timedelta(seconds=61))
        assert attempt.wait == 0
        throttle.succeeded(attempt, "ana", "10.0.0.1")
        assert throttle.begin("ana", "10.0.0.1", now + dt.timedelta(seconds=62)).wait == 0
