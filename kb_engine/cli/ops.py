"""`kb backup`, `kb restore` and `kb privacy`: running an instance for real (shells over kb_engine.ops)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb_engine.cli.context import Context, pass_ctx
from kb_engine.ops import backup as backups


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what the backup holds as JSON.")
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


COMMANDS = (backup_cmd, restore_cmd)
