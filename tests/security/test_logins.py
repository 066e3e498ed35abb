"""Logins under attack: no check-then-record race, lock-outs that do not stop the real user (and are logged),
and staff passwords that are not common, breached, the username or a repetition."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk import users
from kb_engine.helpdesk.db import make_session_factory
from tests.conftest import STAFF_PASSWORD, csrf_token


def _client(app: Any, address: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client: Any, username: str, password: str) -> Any:
    token = csrf_token(client, "/console/login")
    return client.post(
        "/console/login", data={"csrf_token": token, "username": username, "password": password}
    )


def _account(app: Any, username: str = "ana", role: str = "admin") -> None:
    with make_session_factory(app.extensions["kb_engine"])() as session:
        users.create_user(session, username, STAFF_PASSWORD, role)
        session.commit()


def test_parallel_wrong_logins_check_no_more_passwords_than_the_limit(make_app, monkeypatch) -> None:
    app = make_app(LOGIN_MAX_FAILURES=5, LOGIN_MAX_FAILURES_PER_ADDRESS=100)
    _account(app)
    checks: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's name
            checks.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", CountingHasher())
    clients = [_client(app, "198.51.100.20") for _ in range(24)]
    tokens = [csrf_token(c, "/console/login") for c in clients]
    barrier = threading.Barrier(24)
    statuses: list[int] = []

    def attack(i: int) -> None:
        barrier.wait()
        response = clients[i].post(
            "/console/login",
            data={"csrf_token": tokens[i], "username": "ana", "password": f"guess number {i}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attack, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checks) <= 5, len(checks)
    assert statuses.count(401) == len(checks)
    assert set(statuses) <= {401, 429, 503}


def test_a_lock_out_does_not_stop_the_real_user_from_elsewhere(make_app, caplog) -> None:
    app = make_app(LOGIN_MAX_FAILURES=5)
    _account(app, "admin")
    attacker = _client(app, "203.0.113.50")
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert _login(attacker, "admin", "wrong password!").status_code == 401
        # The attacker is refused without a password check, even with the right password.
        assert _login(attacker, "admin", STAFF_PASSWORD).status_code == 429
    assert any("lock-out" in r.getMessage() and "'admin'" in r.getMessage() for r in caplog.records)
    # Admins see it.
    from kb_engine.cli.main import cli

    listed = CliRunner().invoke(
        cli, ["users", "list", "--json"], env={"KB_DATABASE_URL": app.config["DATABASE_URL"]}
    )
    assert listed.exit_code == 0, listed.output
    admin = next(row for row in json.loads(listed.stdout) if row["username"] == "admin")
    assert admin["failed_logins"] == 5 and admin["locked_for_addresses"] == 1
    # The admin, from an address that did not fail, logs in, and sees the lock-out on the staff accounts page.
    real = _client(app, "192.0.2.10")
    assert _login(real, "admin", STAFF_PASSWORD).status_code == 303
    page = real.get("/console/admin/users").get_data(as_text=True)
    assert "locked for 1 address after 5 failed logins" in page
    # And the attacker is still locked out afterwards (the admin's success cleared only their own).
    assert _login(attacker, "admin", "another guess!!").status_code == 429


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("ana", "password1234", "common password"),
        ("ana", "123456789012", "common"),
        ("ana", "aaaaaaaaaaaa", "repeats"),
        ("ana", "abcabcabcabc", "repeats"),
        ("ana", "qwertyuiop12", "too easy to guess"),
        ("bernadette", "Bernadette2026!", "contains the username"),
        ("ana", "short", "at least 12"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(username: str, password: str, reason: str) -> None:
    with pytest.raises(InvalidQuery, match=reason):
        users.check_password(password, username)


def test_strong_passwords_are_accepted() -> None:
    for password in (STAFF_PASSWORD, "liquid-marble-otter-42", "Tangerine Viaduct 1987"):
        assert users.check_password(password, "ana") == password


@pytest.mark.parametrize(
    "command", [["users", "create", "ana", "--role", "admin"], ["users", "password", "ana"]]
)
def test_kb_users_refuses_a_common_password_and_says_why(tmp_path, command: list[str]) -> None:
    from kb_engine.cli.main import cli

    env = {"KB_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "KB_INSTANCE_DIR": str(tmp_path)}
    runner = CliRunner()
    if command[1] == "password":
        made = runner.invoke(
            cli,
            ["users", "create", "ana", "--role", "admin", "--password-stdin"],
            input=STAFF_PASSWORD + "\n",
            env=env,
        )
        assert made.exit_code == 0, made.output
    result = runner.invoke(cli, [*command, "--password-stdin"], input="password1234\n", env=env)
    assert result.exit_code != 0
    assert "very common password" in result.output
