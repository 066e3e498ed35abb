"""Console fixtures: the app of tests/conftest.py with the shipped routing and canned replies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.apps import app_ticket
from tests.conftest import SHIPPED


@pytest.fixture()
def app_config(app_config: dict[str, object], tmp_path: Path, articles_dir: Path) -> dict[str, object]:
    """A private copy of the sample articles (drafts and learned questions are written there)."""
    articles = tmp_path / "articles"
    shutil.copytree(articles_dir, articles)
    for name in ("routing.yml", "canned-replies.yml"):
        shutil.copy(SHIPPED / name, articles / name)
    return {**app_config, "ARTICLES_DIR": str(articles)}


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Session]:
    """A session on a migrated ticket store of its own (a real SQLite file), disposed after the test."""
    from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    try:
        upgrade(engine)
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def open_ticket(app, **fields):
    """A ticket created through the service, as the web app would; returns its reference."""
    return app_ticket(app, **fields)[0]


def ticket_row(app, reference: str):
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService(session)
        return service.describe(service.get(reference), history=True)
