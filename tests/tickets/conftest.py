"""Ticket-store fixtures: every test runs on a real SQLite file and on a real PostgreSQL server.

PostgreSQL is the one `scripts/services.sh` starts (KB_TEST_POSTGRES_URL); each test gets a fresh schema,
brought up by the Alembic migrations (`kb_engine.helpdesk.db.upgrade`). Without the variable the PostgreSQL
runs are skipped, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.routing import load_routing
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import SHIPPED
from tests.databases import migrated_sqlite

PG_ENV = "KB_TEST_POSTGRES_URL"
START = dt.datetime(2026, 3, 2, 9, 0)


def postgres_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if url:
        return url
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{PG_ENV} is not set in CI: scripts/services.sh should have started PostgreSQL")
    pytest.skip(f"{PG_ENV} is not set (run the suite with scripts/test.sh to start PostgreSQL)")


@contextmanager
def fresh_postgres_schema(prefix: str) -> Iterator[str]:
    """A new, empty schema on the test PostgreSQL server, as a URL whose search_path points at it;
    dropped (with everything in it) on exit."""
    base = postgres_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def _new_postgres_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """The name of a new database on the test PostgreSQL server (a copy of `template` if given), dropped
    on exit even while sessions are still connected."""
    base = postgres_url()
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        try:
            yield name
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _database_url(name: str) -> str:
    return make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated to the newest revision once per session (per worker), that each
    test's database is created from (`CREATE DATABASE ... TEMPLATE`: a file copy instead of every migration
    again). The migrations from an empty database stay tested: tests/tickets/test_schema.py goes down to
    base and up again on PostgreSQL, and every fresh_postgres_schema starts empty."""
    with _new_postgres_database("kb_template") as name:
        template = make_engine(_database_url(name))
        try:
            upgrade(template)
        finally:
            template.dispose()  # no session may stay connected to a template
        yield name


@contextmanager
def migrated_postgres_database(template: str) -> Iterator[str]:
    """A new PostgreSQL database copied from `template`, as a URL; dropped on exit."""
    with _new_postgres_database("kb_test", template) as name:
        yield _database_url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A SQLAlchemy URL of a database at the newest migration, with no rows: a temp SQLite file, or a
    fresh PostgreSQL database (both copied from one migrated per session)."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "tickets.sqlite3")
        return
    with migrated_postgres_database(request.getfixturevalue("postgres_template")) as url:
        yield url


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as sess:
        yield sess


class Clock:
    """A clock the test moves by hand (naive UTC, like the models)."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def service(session: Session, clock: Clock) -> TicketService:
    """The ticket service with the shipped routing file and the test's clock."""
    return TicketService(session, routing=load_routing(SHIPPED / "routing.yml"), clock=clock)


@pytest.fixture(scope="session")
def embed(embedder):
    """The real model's query embedding, as the app passes it (`searcher.embedder.encode_queries`)."""
    return embedder.encode_queries


@pytest.fixture()
def app_config(app_config: dict[str, object], db_url: str) -> dict[str, object]:
    """The app of tests/conftest.py, on this test's database (SQLite file or PostgreSQL schema)."""
    return {**app_config, "DATABASE_URL": db_url}
