"""Security fixtures: the app of tests/conftest.py with the shipped routing, a ticket and a logged search."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import SHIPPED


@pytest.fixture()
def app_config(app_config: dict[str, object], tmp_path: Path, articles_dir: Path) -> dict[str, object]:
    """A private copy of the sample articles (authors' drafts are written there)."""
    articles = tmp_path / "articles"
    shutil.copytree(articles_dir, articles)
    for name in ("routing.yml", "canned-replies.yml"):
        shutil.copy(SHIPPED / name, articles / name)
    return {**app_config, "ARTICLES_DIR": str(articles)}


def db_path(app) -> str:
    return str(app.config["DATABASE_URL"]).removeprefix("sqlite:///")


def db_snapshot(app) -> list[str]:
    """Every row of every table, as SQL: two equal snapshots mean nothing was written."""
    with sqlite3.connect(db_path(app)) as conn:
        return list(conn.iterdump())


def make_ticket(app, **fields) -> tuple[str, str]:
    """A ticket created through the service, as the web app would; returns (reference, token)."""
    from kb_engine.db import make_session_factory
    from kb_engine.routing import load_routing
    from kb_engine.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService(
            session, routing=load_routing(Path(app.config["ARTICLES_DIR"]) / "routing.yml")
        )
        fields.setdefault("source", "agent")
        fields.setdefault("query", "my printer is offline")
        ticket = service.create(**fields)
        session.commit()
        return str(ticket.reference), str(ticket.token)
