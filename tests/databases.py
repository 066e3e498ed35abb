"""Ticket databases for tests: a copy of one migrated SQLite file instead of running every migration again.

Creating a schema with the Alembic migrations costs ~60 committed DDL statements on SQLite (each one synced
to disk: `synchronous=FULL`), which hundreds of app and store fixtures paid once each. They copy a file
migrated once per process instead; the app still runs `upgrade` at start (a no-op on the copy). The
migrations themselves are tested from an empty database (tests/tickets/test_schema.py and every CLI test that
starts on a new file).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None or not _template.exists():
        from kb_engine.helpdesk.db import make_engine, upgrade

        folder = Path(tempfile.mkdtemp(prefix="kb-sqlite-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # the last connection checkpoints the WAL into the file and removes it
        assert not path.with_name(path.name + "-wal").exists()
        _template = path
    return _template


def migrated_sqlite(path: Path) -> str:
    """The URL of a new SQLite file at `path`, already at the newest migration (and otherwise empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template(), path)
    return f"sqlite:///{path}"
