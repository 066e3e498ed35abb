"""`kb import`: bring articles in from another tool (and, later in this family, exports out)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb_engine.cli.console import db_session, echo_json, users
from kb_engine.cli.context import Context, articles_option, fail, pass_ctx
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
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
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
@click.option("--json", "as_json", is_flag=True, help="JSON output (the token included, once).")
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
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
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


COMMANDS = [import_cmd]
