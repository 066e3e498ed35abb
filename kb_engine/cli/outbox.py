"""`kb outbox`: deliver the notifications the ticket service queued; look after the failed ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb_engine.cli.context import Context, fail, json_option, pass_ctx
from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
from kb_engine.helpdesk.models import OutboxMessage
from kb_engine.helpdesk.outbox import OutboxSender, counts, retry_failed
from kb_engine.helpdesk.tickets.rules import iso


@contextmanager
def store(ctx: Context) -> Iterator[tuple[dict[str, Any], sessionmaker[Session]]]:
    settings = ctx.settings()
    engine = make_engine(settings["DATABASE_URL"])
    try:
        with store_errors():
            upgrade(engine)
            yield settings, make_session_factory(engine)
    finally:
        engine.dispose()


@click.group("outbox")
@click.option("--database", "database_url", help="Ticket store URL (overrides KB_DATABASE_URL).")
@pass_ctx
def outbox(ctx: Context, database_url: str | None) -> None:
    """Notifications to customers and teams: send them, list them, retry the failed ones.

    Example: kb outbox send
    """
    if database_url:
        ctx.overrides["DATABASE_URL"] = database_url


@outbox.command("send")
@click.option("--limit", type=int, default=500, show_default=True, help="At most this many messages.")
@json_option("Print the counts as JSON.")
@pass_ctx
def send_cmd(ctx: Context, limit: int, as_json: bool) -> None:
    """Send the messages that are due by SMTP (KB_SMTP_URL), once each; for cron or a systemd timer.

    Several senders (servers, cron jobs) can run at once: each message is claimed by one of them.

    \b
    Example: kb outbox send
    Example (crontab): * * * * * cd /srv/kb && .venv/bin/kb outbox send
    """
    with store(ctx) as (settings, sessions):
        if not settings["SMTP_URL"]:
            fail("KB_SMTP_URL is not set: nowhere to send the outbox (messages stay queued)", 2)
        sender = OutboxSender.from_settings(sessions, settings)
        total: dict[str, int] = {"sent": 0, "retried": 0, "failed": 0, "lost_claims": 0}
        while limit > 0:
            report = sender.send_due(limit=min(limit, 100))
            for key, value in report.to_dict().items():
                total[key] += value
            done = len(report.sent) + len(report.retried) + len(report.failed) + len(report.lost_claims)
            if done == 0:
                break
            limit -= done
    if as_json:
        click.echo(json.dumps(total))
    else:
        click.echo(
            f"sent {total['sent']}, to retry later {total['retried']}, failed {total['failed']}"
            + (f", taken over by another sender {total['lost_claims']}" if total["lost_claims"] else "")
        )


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed"]),
    help="Only messages in this state (default: all but sent).",
)
@click.option("--limit", type=int, default=50, show_default=True)
@json_option("JSON output.")
@pass_ctx
def list_cmd(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """List queued messages, newest first, with their attempts and last error.

    Example: kb outbox list --status failed
    """
    with store(ctx) as (_settings, sessions), sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        stmt = stmt.where(OutboxMessage.status == status if status else OutboxMessage.status != "sent")
        rows = [
            {
                "id": row.id,
                "status": row.status,
                "kind": row.kind,
                "to": row.recipient,
                "subject": row.subject,
                "attempts": row.attempts,
                "created_at": iso(row.created_at),
                "next_attempt_at": iso(row.next_attempt_at),
                "sent_at": iso(row.sent_at),
                "last_error": row.last_error,
            }
            for row in session.scalars(stmt)
        ]
        total = counts(session)
    if as_json:
        click.echo(json.dumps({"counts": total, "messages": rows}, ensure_ascii=False, indent=2))
        return
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(total.items())) or "the outbox is empty")
    for row in rows:
        error = f"  ({row['last_error']})" if row["last_error"] else ""
        click.echo(
            f"#{row['id']} {row['status']} {row['kind']} to {row['to']}, {row['attempts']} attempt(s): "
            f"{row['subject']}{error}"
        )


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@pass_ctx
def retry_cmd(ctx: Context, ids: tuple[int, ...]) -> None:
    """Queue failed messages again (all of them, or the ids given), e.g. once an address is fixed.

    Example: kb outbox retry 12 13
    """
    with store(ctx) as (_settings, sessions), sessions() as session:
        n = retry_failed(session, list(ids) or None)
        session.commit()
    click.echo(f"{n} message(s) queued again")


COMMANDS = (outbox,)
