"""`kb import`: bring articles in from another tool (and, later in this family, exports out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kb_engine.cli.console import db_session, echo_json, users
from kb_engine.cli.context import Context, articles_option, fail, json_option, pass_ctx
from kb_engine.cli.tickets import default_actor


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "kind",
    required=True,
    type=click.Choice(["zendesk", "freshdesk", "confluence", "html", "docx"]),
    help="What the source is.",
)
@articles_option
@click.option("--dry-run", is_flag=True, help="Write nothing: import into a temporary copy and report.")
@json_option("The report as JSON.")
@click.option(
    "--lang", default=None, help="Language of every article (Confluence, HTML, Word; default detected)."
)
@click.option("--category", default=None, help="Category when the source has none (Confluence, HTML, Word).")
@click.option(
    "--audience", type=click.Choice(["public", "internal"]), default="public", show_default=True,
    help="Audience of Confluence, HTML and Word articles (Zendesk and Freshdesk say it themselves).",
)  # fmt: skip
@pass_ctx
def import_cmd(
    ctx: Context,
    source: Path,
    kind: str,
    articles_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    lang: str | None,
    category: str | None,
    audience: str,
) -> None:
    """Import articles from Zendesk, Freshdesk, Confluence, or a folder of HTML or Word files.

    Writes articles/<lang>/<slug>.md with front matter (`source:` keeps the original id and URL, so a
    re-import updates the same file), copies images to articles/images/, then runs kb lint on what it
    wrote. Exit 1 when lint finds errors in the result.

    \b
    Example: kb import export/zendesk --from zendesk --dry-run
    Example: kb import IT-space.zip --from confluence --lang en --json
    """
    from kb_engine.integrations.importing import import_articles

    settings = ctx.settings(ARTICLES_DIR=articles_dir)
    report = import_articles(
        source,
        kind,
        Path(settings["ARTICLES_DIR"]),
        languages=tuple(settings["LANGUAGES"]),
        dry_run=dry_run,
        lang=lang,
        category=category,
        audience=audience,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for label, paths in (("new", report.written), ("updated", report.updated)):
            for path in paths:
                click.echo(f"{label}: {path}")
        for renamed in report.renamed:
            click.echo(f"renamed: {renamed}")
        for skipped in report.skipped:
            click.echo(f"skipped: {skipped.source}: {skipped.reason}")
        for path, items in report.dropped.items():
            for item in items:
                click.echo(f"dropped: {path}: {item}")
        if report.categories_added:
            click.echo(f"categories added to categories.yml: {', '.join(report.categories_added)}")
        for level in ("errors", "warnings"):
            for problem in report.lint.get(level, []):
                line = f":{problem['line']}" if problem.get("line") else ""
                click.echo(
                    f"{problem['path']}{line}: {level[:-1]}: {problem['reason']}", err=level == "errors"
                )
        click.echo(report.summary())
    if not report.ok:
        fail("kb lint found errors in the imported articles (listed above)")


# -- kb users token: staff API tokens ------------------------------------------------------------------
@users.group("token")
def token() -> None:
    """Personal tokens for the staff API (/api/v1/staff): create (shown once), list, revoke.

    Example: kb users token create ana "jira sync" --scope tickets:read,tickets:write
    """


@token.command("create")
@click.argument("username")
@click.argument("name")
@click.option(
    "--scope", "scopes", default="tickets:read", show_default=True, help="tickets:read,tickets:write"
)
@click.option("--days", type=int, default=90, show_default=True, help="Days until it expires (1-366).")
@json_option("JSON output (the token included, once).")
@pass_ctx
def token_create(ctx: Context, username: str, name: str, scopes: str, days: int, as_json: bool) -> None:
    """Create a token acting as USERNAME (an agent or admin); it is printed once, only its hash is kept.

    Example: kb users token create ana "jira sync" --scope tickets:read,tickets:write --days 30
    """
    from kb_engine.helpdesk import audit
    from kb_engine.integrations.tokens import create_token, token_to_dict

    with db_session(ctx) as session:
        row, raw = create_token(session, username, name, scopes, days=days)
        audit.record(
            session, default_actor(), "token_create", username, name=name, scopes=row.scopes, days=days
        )
        data = {**token_to_dict(row, username), "token": raw}
    if as_json:
        echo_json(data)
        return
    click.echo(raw)
    click.echo(
        f"token {data['id']} for {username} ({', '.join(data['scopes'])}), expires {data['expires_at']}: "
        "copy it now, it is not shown again",
        err=True,
    )


@token.command("list")
@click.option("--user", "username", default=None, help="Only this account's tokens.")
@json_option("JSON output.")
@pass_ctx
def token_list(ctx: Context, username: str | None, as_json: bool) -> None:
    """List tokens (never the tokens themselves: their first characters, scopes, state, last use).

    Example: kb users token list --user ana
    """
    from kb_engine.integrations.tokens import list_tokens, token_to_dict

    with db_session(ctx) as session:
        rows = [token_to_dict(row, user) for row, user in list_tokens(session, username)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']:>4} {row['user']:<16} {row['name']:<24} {row['prefix']}… "
            f"{','.join(row['scopes']):<26} "
            f"{row['state']:<8} expires {row['expires_at']} last used {row['last_used_at'] or 'never'}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(ctx: Context, token_id: int) -> None:
    """Revoke a token at once (its next request gets 401).

    Example: kb users token revoke 3
    """
    from kb_engine.helpdesk import audit
    from kb_engine.integrations.tokens import revoke_token

    with db_session(ctx) as session:
        row = revoke_token(session, token_id)
        audit.record(session, default_actor(), "token_revoke", str(token_id), name=row.name)
    click.echo(f"token {token_id} revoked")


# -- kb webhooks ------------------------------------------------------------------------------------------
@click.group("webhooks")
def webhooks() -> None:
    """Signed webhooks: declare endpoints, read the delivery log, send again, deliver from cron.

    Example: kb webhooks add https://hooks.example.com/kb --event ticket.escalated --event ticket.closed
    """


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="An event to send (repeatable); default all of them.")
@click.option("--secret", default=None, help="The signing secret (default: a random one, printed once).")
@json_option("JSON output (the secret included, once).")
@pass_ctx
def webhooks_add(ctx: Context, url: str, events: tuple[str, ...], secret: str | None, as_json: bool) -> None:
    """Declare an endpoint: https on a public host (KB_WEBHOOKS_ALLOW_PRIVATE allows others).

    Example: kb webhooks add https://jira.example.com/hooks/kb --event ticket.escalated
    """
    from kb_engine.helpdesk import audit
    from kb_engine.integrations.webhooks import EVENTS, add_endpoint

    settings = ctx.settings()
    with db_session(ctx) as session:
        row = add_endpoint(
            session, url, list(events) or list(EVENTS), default_actor(),
            allow_private=bool(settings["WEBHOOKS_ALLOW_PRIVATE"]), secret=secret,
        )  # fmt: skip
        audit.record(session, default_actor(), "webhook_add", row.url, events=row.events)
        data: dict[str, Any] = {"id": row.id, "url": row.url, "events": row.events, "secret": row.secret}
    if as_json:
        echo_json(data)
        return
    click.echo(f"endpoint {data['id']}: {data['url']} ({', '.join(data['events'])})")
    click.echo(f"signing secret (shown once): {data['secret']}")


@webhooks.command("list")
@json_option("JSON output.")
@pass_ctx
def webhooks_list(ctx: Context, as_json: bool) -> None:
    """The endpoints, with their events and whether they are active.

    Example: kb webhooks list
    """
    from kb_engine.integrations.webhooks import list_endpoints

    with db_session(ctx) as session:
        rows: list[dict[str, Any]] = [
            {"id": e.id, "url": e.url, "events": e.events, "active": e.active}
            for e in list_endpoints(session)
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "active" if row["active"] else "removed"
        click.echo(f"{row['id']:>3} {state:<8} {row['url']}  {', '.join(row['events'])}")


@webhooks.command("remove")
@click.argument("endpoint_id", type=int)
@pass_ctx
def webhooks_remove(ctx: Context, endpoint_id: int) -> None:
    """Stop sending to an endpoint (kept with its delivery log).

    Example: kb webhooks remove 2
    """
    from kb_engine.helpdesk import audit
    from kb_engine.integrations.webhooks import remove_endpoint

    with db_session(ctx) as session:
        row = remove_endpoint(session, endpoint_id)
        audit.record(session, default_actor(), "webhook_remove", row.url)
    click.echo(f"endpoint {endpoint_id} removed")


@webhooks.command("deliveries")
@click.option("--endpoint", "endpoint_id", type=int, default=None, help="Only this endpoint's deliveries.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option("JSON output.")
@pass_ctx
def webhooks_deliveries(ctx: Context, endpoint_id: int | None, limit: int, as_json: bool) -> None:
    """The delivery log, newest first: event, status, attempts, next try, last error.

    Example: kb webhooks deliveries --endpoint 1
    """
    from kb_engine.integrations.webhooks import deliveries
    from kb_engine.integrations.webhooks.endpoints import delivery_to_dict

    with db_session(ctx) as session:
        rows = [delivery_to_dict(r) for r in deliveries(session, endpoint_id=endpoint_id, limit=limit)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        when = f"next try {r['next_attempt_at']}" if r["next_attempt_at"] else (r["sent_at"] or "")
        error = f"  {r['last_error']}" if r["last_error"] else ""
        click.echo(f"{r['id']:>5} {r['event']:<20} {r['status']:<8} {r['attempts']} attempt(s) {when}{error}")


@webhooks.command("send-again")
@click.argument("delivery_ids", type=int, nargs=-1, required=True)
@pass_ctx
def webhooks_send_again(ctx: Context, delivery_ids: tuple[int, ...]) -> None:
    """Queue deliveries again now (failed ones, or ones a receiver lost).

    Example: kb webhooks send-again 41 42
    """
    from kb_engine.integrations.webhooks import send_again

    with db_session(ctx) as session:
        for delivery_id in delivery_ids:
            send_again(session, delivery_id)
    click.echo(f"{len(delivery_ids)} delivery(ies) queued again")


@webhooks.command("send")
@json_option("The counts as JSON.")
@pass_ctx
def webhooks_send(ctx: Context, as_json: bool) -> None:
    """Deliver the webhooks that are due (for cron when the web servers do not: KB_OUTBOX_IN_PROCESS=0).

    Example: kb webhooks send
    """
    from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
    from kb_engine.integrations.webhooks.delivery import WebhookSender

    settings = ctx.settings()
    engine = make_engine(settings["DATABASE_URL"])
    try:
        with store_errors():
            upgrade(engine)
            report = WebhookSender.from_settings(make_session_factory(engine), settings).send_due(limit=1000)
    finally:
        engine.dispose()
    if as_json:
        echo_json(report.to_dict())
        return
    data = report.to_dict()
    click.echo(f"{data['sent']} delivered, {data['retried']} to retry, {data['failed']} failed")


# -- kb export --------------------------------------------------------------------------------------------
@click.command("export")
@click.argument("kind", type=click.Choice(["tickets", "searches", "feedback"]))
@click.option("--since", required=True, help="From this date (YYYY-MM-DD, or a date and time; UTC).")
@click.option("--until", default=None, help="Up to this date, excluded (default: now).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (default: standard output).")  # fmt: skip
@pass_ctx
def export_cmd(ctx: Context, kind: str, since: str, until: str | None, fmt: str, output: Path | None) -> None:
    """Export tickets, searches or feedback for a reporting tool, as CSV (formulas neutralised) or JSONL.

    \b
    Example: kb export tickets --since 2026-11-01 --format csv -o tickets.csv
    Example: kb export searches --since 2026-12-01 --format jsonl | jq .query
    """
    import sys

    from kb_engine.helpdesk import audit
    from kb_engine.integrations.exports import parse_since, rows, write

    start = parse_since(since)
    end = parse_since(until) if until else None
    with db_session(ctx) as session:
        if output is not None:
            from kb_engine.content.files import atomic_file

            with atomic_file(output, "w", perms=0o600) as fh:
                count = write(fh, kind, rows(session, kind, start, end), fmt)
        else:
            count = write(sys.stdout, kind, rows(session, kind, start, end), fmt)
        audit.record(
            session, default_actor(), "export", kind, since=since, until=until, format=fmt, rows=count
        )
    click.echo(f"{count} {kind} exported", err=True)


COMMANDS = [import_cmd, webhooks, export_cmd]
