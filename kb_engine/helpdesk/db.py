"""Database client chosen by URL: SQLite by default (a file), PostgreSQL at scale.

SQLite is set up for a ticket store that must not lose an acknowledged write: WAL journal,
`synchronous=FULL`, foreign keys on, and a busy timeout so concurrent writers wait instead of failing.
The schema is owned by Alembic migrations (`kb db upgrade`, run automatically at start-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kb_engine.errors import StoreUnavailable

BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; creates the SQLite file's folder if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    """The Alembic configuration of kb-engine's migrations, for this engine's database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # ConfigParser interpolates "%": URL-encoded passwords and options (%3D...) must be escaped.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; safe from several processes)."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One migrator at a time when several app servers start together.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a locked, full or unreachable database into StoreUnavailable (HTTP 503), nothing else."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
        if "locked" in text or "busy" in text:
            key, reason = "store_busy", "the ticket database is busy (locked by another writer)"
        elif "full" in text or "disk" in text:
            key, reason = "store_full", "the ticket database is full"
        else:
            key, reason = "store_down", "the ticket database is unavailable"
        raise StoreUnavailable(f"{reason}; nothing was lost, please try again in a moment", key=key) from exc
