"""`kb backup` and `kb restore`: a consistent copy of what an instance cannot rebuild, taken while it serves.

A backup folder holds:
- the ticket store: SQLite through its online backup API (a consistent snapshot while writers go on), or
  PostgreSQL through `pg_dump --format=custom` (restored with `pg_restore`);
- the instance's secret key (sessions and CSRF tokens stay valid after a restore);
- the approved customers' questions and the canned replies (also in the articles folder's git history);
- the served index's manifest (which build, model and fitted parameters were live);
- `backup.json`: when, from what, the schema revision and the ticket count.

The articles are in git and the index is rebuilt from them with `kb index`: neither is copied.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from kb_engine.content.canned import FILENAME as CANNED_FILE
from kb_engine.content.learned import LEARNED_FILE
from kb_engine.errors import KBError
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import Ticket
from kb_engine.search.index_files import current_build

MANIFEST = "backup.json"
SQLITE_FILE = "tickets.sqlite3"
PG_FILE = "tickets.pgdump"
SECRET_FILE = "secret_key"
INDEX_MANIFEST = "index-manifest.json"


class BackupError(KBError):
    code = "backup"


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def _libpq(url: str) -> tuple[str, str | None]:
    """The libpq URI of a SQLAlchemy PostgreSQL URL, and the schema its search_path option names."""
    parsed = make_url(url).set(drivername="postgresql")
    uri = parsed.render_as_string(hide_password=False)
    options = " ".join(parse_qs(urlsplit(uri).query).get("options", []))
    schema = None
    for part in options.split():
        if part.startswith("-csearch_path="):
            schema = part.split("=", 1)[1].split(",")[0]
    return uri, schema


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    if candidates:
        return str(candidates[-1])
    raise BackupError(f"{name} not found: install the PostgreSQL client (Debian package postgresql-client)")


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: pages copied in steps, restarted by SQLite if a writer changes them, so the
    copy is one consistent state however busy the source is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=256)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy of {source} failed SQLite's integrity check")
    finally:
        src.close()
        dst.close()


def _counts(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        if "ticket" not in inspect(engine).get_table_names():
            return {"tickets": 0, "revision": None}
        with make_session_factory(engine)() as session:
            tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
            revision = (
                session.connection().exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            )
        return {"tickets": int(tickets), "revision": revision}
    finally:
        engine.dispose()


def backup(settings: dict[str, Any], dest: Path) -> dict[str, Any]:
    """Copy the instance into `dest` (a new or empty folder); returns what `backup.json` records."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    url = settings["DATABASE_URL"]
    record: dict[str, Any] = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": make_url(url).get_backend_name(),
        "files": [],
    }
    sqlite = _sqlite_path(url)
    if sqlite is not None:
        if not sqlite.exists():
            raise BackupError(f"no ticket database at {sqlite}")
        _copy_sqlite(sqlite, dest / SQLITE_FILE)
        record["files"].append(SQLITE_FILE)
        record.update(_counts(f"sqlite:///{dest / SQLITE_FILE}"))
    else:
        uri, schema = _libpq(url)
        command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest / PG_FILE}"]
        if schema:
            command.append(f"--schema={schema}")
        done = subprocess.run([*command, f"--dbname={uri}"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-500:]}")
        record["files"].append(PG_FILE)
        record["schema"] = schema
        record.update(_counts(url))
    instance = Path(settings["INSTANCE_DIR"])
    articles = Path(settings["ARTICLES_DIR"])
    for source, name in (
        (instance / "secret_key", SECRET_FILE),
        (articles / LEARNED_FILE, LEARNED_FILE),
        (articles / CANNED_FILE, CANNED_FILE),
    ):
        if source.is_file():
            shutil.copy2(source, dest / name)
            record["files"].append(name)
    try:
        shutil.copy2(current_build(Path(settings["INDEX_DIR"])) / "manifest.json", dest / INDEX_MANIFEST)
        record["files"].append(INDEX_MANIFEST)
    except (KBError, OSError):
        record["index"] = "no index published: rebuild it with `kb index` after a restore"
    (dest / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def restore(settings: dict[str, Any], src: Path) -> dict[str, Any]:
    """Restore a backup folder into this instance, whose ticket store must be empty (no tickets)."""
    src = Path(src)
    try:
        record: dict[str, Any] = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a kb-engine backup ({MANIFEST} unreadable: {exc})") from exc
    url = settings["DATABASE_URL"]
    if _counts(url)["tickets"]:
        raise BackupError("this instance already holds tickets: restore into an empty instance")
    sqlite = _sqlite_path(url)
    if record["database"] == "sqlite":
        if sqlite is None:
            raise BackupError("this backup is of a SQLite store: restore it into a SQLite instance")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite}{suffix}").unlink(missing_ok=True)
        _copy_sqlite(src / SQLITE_FILE, sqlite)
    else:
        if sqlite is not None:
            raise BackupError("this backup is of a PostgreSQL store: restore it into a PostgreSQL instance")
        uri, _schema = _libpq(url)
        done = subprocess.run(
            [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={uri}", str(src / PG_FILE)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    engine = make_engine(url)
    try:
        upgrade(engine)  # a backup from an older release is brought to this one's schema
    finally:
        engine.dispose()
    instance = Path(settings["INSTANCE_DIR"])
    articles = Path(settings["ARTICLES_DIR"])
    for name, target in ((SECRET_FILE, instance / "secret_key"), (LEARNED_FILE, articles / LEARNED_FILE),
                         (CANNED_FILE, articles / CANNED_FILE)):  # fmt: skip
        if (src / name).is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, target)
            if name == SECRET_FILE:
                target.chmod(0o600)
    return {**record, "restored": _counts(url)}
