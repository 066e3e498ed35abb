"""Staff accounts: Argon2 hashes, roles and the tiers they may act on, `kb users`."""

from __future__ import annotations

import json

import argon2
import pytest
from sqlalchemy.orm import Session

from kb_engine.cli.main import cli
from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk import users
from kb_engine.helpdesk.users import authenticate, create_user, may_act_on, set_active, tiers_for
from tests.conftest import login_staff

PASSWORD = "correct horse battery staple"


def test_production_hashes_are_argon2id_with_rfc_9106_low_memory_parameters(production_hasher) -> None:
    """The suite hashes with cheap parameters (tests/conftest.py: cheap_password_hashes); the product's are
    argon2-cffi's defaults, RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes)."""
    params = argon2.extract_parameters(production_hasher.hash(PASSWORD))
    assert params.type is argon2.Type.ID
    assert params.memory_cost >= 65536 and params.time_cost >= 3 and params.parallelism >= 4
    assert users._hasher is not production_hasher  # the cheap one stands in for it in this process


def test_password_is_stored_as_an_argon2_hash_and_checked(db: Session) -> None:
    user = create_user(db, "Ana", PASSWORD, "agent-L2")
    assert user.username == "ana"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert authenticate(db, "ana", PASSWORD) is user
    assert authenticate(db, "ana", PASSWORD + "x") is None
    assert authenticate(db, "nobody", PASSWORD) is None


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [("ana", "short", "agent-L1"), ("a b", PASSWORD, "agent-L1"), ("ana", PASSWORD, "superuser")],
)
def test_bad_accounts_are_refused(db: Session, username: str, password: str, role: str) -> None:
    with pytest.raises(InvalidQuery):
        create_user(db, username, password, role)


def test_username_is_unique(db: Session) -> None:
    create_user(db, "ana", PASSWORD, "agent-L1")
    with pytest.raises(InvalidQuery, match="already exists"):
        create_user(db, "ANA", PASSWORD, "agent-L1")


@pytest.mark.parametrize(
    ("role", "tiers"),
    [
        ("agent-L1", ("L1",)),
        ("agent-L2", ("L1", "L2")),
        ("agent-L3", ("L1", "L2", "L3", "L4")),
        ("author", ()),
        ("admin", ("L1", "L2", "L3", "L4")),
    ],
)
def test_each_role_acts_on_its_tier_and_those_below(role: str, tiers: tuple[str, ...]) -> None:
    assert tiers_for(role) == tiers
    for tier in ("L1", "L2", "L3", "L4"):
        assert may_act_on(role, tier) is (tier in tiers)


def test_disabled_account_cannot_log_in_and_its_sessions_end(db: Session) -> None:
    user = create_user(db, "ana", PASSWORD, "agent-L1")
    version = user.session_version
    set_active(db, "ana", False)
    assert authenticate(db, "ana", PASSWORD) is None
    assert user.session_version == version + 1


def test_kb_users_create_list_disable(runner, tmp_path) -> None:
    env = {"KB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "KB_INSTANCE_DIR": str(tmp_path)}
    created = runner.invoke(
        cli,
        ["users", "create", "omar", "--role", "agent-L3", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "created omar (agent-L3)" in created.output
    short = runner.invoke(
        cli, ["users", "create", "bob", "--role", "author", "--password-stdin"], input="abc\n", env=env
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    assert runner.invoke(cli, ["users", "disable", "omar"], env=env).exit_code == 0
    listed = runner.invoke(cli, ["users", "list", "--json"], env=env)
    assert [(u["username"], u["role"], u["active"]) for u in json.loads(listed.output)] == [
        ("omar", "agent-L3", False)
    ]


def test_staff_accounts_page_has_a_plain_title_and_the_history_once(app, client) -> None:
    login_staff(app, client, "root", role="admin")
    html = client.get("/console/admin/users").get_data(as_text=True)
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("Staff accounts") and "<" not in title
    assert html.count('id="user-history"') == 1
