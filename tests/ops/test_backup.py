"""`kb backup` while a writer keeps creating tickets, `kb restore` into a fresh instance (SQLite and
PostgreSQL): every acknowledged ticket comes back and its customer's status link works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from kb_engine.cli.main import cli
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import ROOT


def make_tickets(url: str, count: int) -> dict[str, str]:
    engine = make_engine(url)
    upgrade(engine)
    refs = {}
    with make_session_factory(engine)() as session:
        service = TicketService(session)
        for n in range(count):
            ticket = service.create(
                source="api", query=f"printer {n} offline", contact_email=f"c{n}@example.com"
            )
            session.commit()
            refs[str(ticket.reference)] = str(ticket.token)
    engine.dispose()
    return refs


def stored(url: str) -> dict[str, str]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rows = {str(r): str(t) for r, t in session.execute(select(Ticket.reference, Ticket.token))}
    engine.dispose()
    return rows


def kb(runner: CliRunner, env: dict[str, str], *args: str):
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def instance_env(tmp: Path, name: str, url: str | None = None) -> dict[str, str]:
    articles = tmp / f"articles-{name}"
    articles.mkdir(exist_ok=True)
    return {
        "KB_INSTANCE_DIR": str(tmp / f"instance-{name}"),
        "KB_DATABASE_URL": url or f"sqlite:///{tmp / f'instance-{name}' / 'kb.sqlite3'}",
        "KB_ARTICLES_DIR": str(articles),
        "KB_INDEX_DIR": str(tmp / f"index-{name}"),
    }


def test_a_backup_taken_while_tickets_pour_in_restores_every_acknowledged_ticket(tmp_path):
    source = instance_env(tmp_path, "live")
    (Path(source["KB_INSTANCE_DIR"])).mkdir(parents=True)
    (Path(source["KB_INSTANCE_DIR"]) / "secret_key").write_text("the-live-secret")
    (Path(source["KB_ARTICLES_DIR"]) / "canned-replies.yml").write_text("{}\n")
    acknowledged = make_tickets(source["KB_DATABASE_URL"], 20)
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.tickets.create_worker", source["KB_DATABASE_URL"], "400", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        while len(acknowledged) < 40:  # the writer is busy before the backup starts
            line = writer.stdout.readline()  # type: ignore[union-attr]
            assert line, "the writer stopped"
            acknowledged[line.strip()] = ""
        before_backup = dict(acknowledged)
        result = kb(CliRunner(), source, "backup", str(tmp_path / "backup"))
        assert result.exit_code == 0, result.output
    finally:
        writer.wait(120)
        writer.stdout.close()  # type: ignore[union-attr]
    target = instance_env(tmp_path, "fresh")
    result = kb(CliRunner(), target, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    restored = stored(target["KB_DATABASE_URL"])
    assert set(before_backup) <= set(restored)
    assert (Path(target["KB_INSTANCE_DIR"]) / "secret_key").read_text() == "the-live-secret"
    assert (Path(target["KB_ARTICLES_DIR"]) / "canned-replies.yml").exists()

    # The customer's private link works on the restored instance.
    from web import close_app, create_app

    reference = sorted(before_backup)[0]
    token = restored[reference]
    app = create_app(
        {**{k.removeprefix("KB_"): v for k, v in target.items()}, "MODEL": "hashing", "TESTING": True}
    )
    try:
        page = app.test_client().get(f"/tickets/{reference}?t={token}")
        assert page.status_code == 200
        assert reference in page.get_data(as_text=True)
    finally:
        close_app(app)


def test_restore_refuses_an_instance_that_already_has_tickets(tmp_path):
    source = instance_env(tmp_path, "a")
    make_tickets(source["KB_DATABASE_URL"], 2)
    assert kb(CliRunner(), source, "backup", str(tmp_path / "b")).exit_code == 0
    result = CliRunner().invoke(cli, ["restore", str(tmp_path / "b")], env=source)
    assert result.exit_code != 0
    assert "already holds tickets" in result.output
    assert len(stored(source["KB_DATABASE_URL"])) == 2  # nothing lost


@pytest.mark.postgres
def test_postgresql_backup_and_restore_with_pg_dump(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from tests.tickets.conftest import fresh_postgres_schema, postgres_url

    with fresh_postgres_schema("backup") as url:
        refs = make_tickets(url, 5)
        env = instance_env(tmp_path, "pg", url)
        result = kb(CliRunner(), env, "backup", str(tmp_path / "pgbackup"))
        assert result.exit_code == 0, result.output
        assert (tmp_path / "pgbackup" / "tickets.pgdump").stat().st_size > 0
        schema = str(make_url(url).query["options"]).split("search_path=")[1]
        admin = create_engine(postgres_url(), poolclass=NullPool)
        with admin.begin() as conn:  # the instance is lost: its whole schema dropped
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
        result = kb(CliRunner(), env, "restore", str(tmp_path / "pgbackup"))
        assert result.exit_code == 0, result.output
        assert stored(url) == refs
