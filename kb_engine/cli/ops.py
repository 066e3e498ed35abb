"""`kb backup`, `kb restore` and `kb privacy`: running an instance for real (shells over kb_engine.ops)."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kb_engine.cli.context import Context, json_option, pass_ctx
from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
from kb_engine.ops import backup as backups
from kb_engine.ops import privacy


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@json_option("Print what the backup holds as JSON.")
@pass_ctx
def backup_cmd(ctx: Context, dest: Path, as_json: bool) -> None:
    """Copy the ticket store, secret key, approved questions, canned replies and index manifest into DEST,
    consistently, while the server keeps serving (the articles are in git; `kb index` rebuilds the index).

    Example: kb backup /srv/backups/kb-2026-12-05
    """
    record = backups.backup(ctx.settings(), dest)
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    files = ", ".join(record["files"])
    click.echo(f"backed up {record['tickets']} tickets ({record['database']}) into {dest}: {files}")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
def restore_cmd(ctx: Context, src: Path) -> None:
    """Restore a `kb backup` folder into this (empty) instance, then bring its schema up to date.

    Example: kb restore /srv/backups/kb-2026-12-05 && kb index
    """
    record = backups.restore(ctx.settings(), src)
    click.echo(f"restored {record['restored']['tickets']} tickets from {src} (taken {record['created_at']}); "
               "run `kb index` to rebuild the search index from the articles")  # fmt: skip


@contextmanager
def _session(ctx: Context) -> Iterator[tuple[Session, Engine]]:
    engine = make_engine(ctx.settings()["DATABASE_URL"])
    try:
        upgrade(engine)
        with store_errors(), make_session_factory(engine)() as session:
            yield session, engine
    finally:
        engine.dispose()


def _actor() -> str:
    return "cli:" + (os.environ.get("USER") or getpass.getuser())


@click.group("privacy")
def privacy_group() -> None:
    """Personal data: what the desk holds about a customer (export), forgetting them (erase), retention.

    Example: kb privacy export ada@example.com > ada.json
    """


@privacy_group.command("export")
@click.argument("email")
@pass_ctx
def privacy_export(ctx: Context, email: str) -> None:
    """Print as JSON every ticket, message, search and feedback held about EMAIL (audited).

    Example: kb privacy export ada@example.com
    """
    with _session(ctx) as (session, _engine):
        data = privacy.export(session, email, _actor())
        session.commit()
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@privacy_group.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def privacy_erase(ctx: Context, email: str, yes: bool) -> None:
    """Anonymise EMAIL everywhere (tickets, history, searches, feedback, outbox...); counts stay (audited).

    Example: kb privacy erase ada@example.com --yes
    """
    if not yes:
        click.confirm(f"Erase everything held about {email}? This cannot be undone", abort=True)
    with _session(ctx) as (session, engine):
        counts = privacy.erase(session, email, _actor())
        session.commit()
    privacy.compact(engine)
    click.echo("erased: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


@privacy_group.command("purge")
@pass_ctx
def privacy_purge(ctx: Context) -> None:
    """Anonymise what is past retention (KB_RETAIN_SEARCH_DAYS, KB_RETAIN_TICKET_DAYS); for cron.

    Example: kb privacy purge
    """
    settings = ctx.settings()
    with _session(ctx) as (session, engine):
        counts = privacy.purge(
            session, search_days=settings["RETAIN_SEARCH_DAYS"], ticket_days=settings["RETAIN_TICKET_DAYS"]
        )
        session.commit()
    if any(counts.values()):
        privacy.compact(engine)
    click.echo("purged: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


COMMANDS = (backup_cmd, restore_cmd, privacy_group)
