"""Fixtures of the integrations tests: the app over the fast hashing index, staff accounts and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps import served_app

STAFF_PASSWORD = "correct horse battery staple"


@pytest.fixture()
def staff_app(tmp_path: Path, articles_dir: Path, hashing_index: Path) -> Iterator[Any]:
    with served_app(tmp_path, articles_dir, hashing_index) as app:
        yield app


def sessions(app: Any) -> Any:
    from kb_engine.helpdesk.db import make_session_factory

    return make_session_factory(app.extensions["kb_engine"])


@pytest.fixture()
def make_token(staff_app: Any) -> Callable[..., str]:
    """A user of `role` (created once per name) and a new token for them: returns the token."""

    def make(username: str, role: str, scopes: str = "tickets:read,tickets:write", days: int = 30) -> str:
        from sqlalchemy import select

        from kb_engine.helpdesk.models import User
        from kb_engine.helpdesk.users import create_user
        from kb_engine.integrations.tokens import create_token

        with sessions(staff_app)() as session:
            if session.scalar(select(User).where(User.username == username)) is None:
                create_user(session, username, STAFF_PASSWORD, role)
            _, raw = create_token(session, username, f"token {scopes} {days}", scopes, days=days)
            session.commit()
        return raw

    return make
