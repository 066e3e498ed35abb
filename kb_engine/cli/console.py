"""`kb users`, `kb gaps` and `kb questions`: staff accounts, content gaps and learned questions.

Thin shells over `kb_engine.helpdesk.users`, `kb_engine.insights.gaps` and `kb_engine.insights.questions`,
like the support console.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from kb_engine.cli.context import Context, json_option
from kb_engine.cli.tickets import actor_option, default_actor
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
from kb_engine.helpdesk.users import ROLES

pass_ctx = click.make_pass_decorator(Context, ensure=True)


@contextmanager
def db_session(ctx: Context) -> Iterator[Session]:
    """A session on the configured database (migrated first); commits when the command succeeds."""
    engine = make_engine(ctx.settings()["DATABASE_URL"])
    try:
        with store_errors():
            upgrade(engine)
            with make_session_factory(engine)() as session:
                yield session
                session.commit()
    finally:
        engine.dispose()


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


# -- kb users ---------------------------------------------------------------------------------------------
@click.group("users")
@pass_ctx
def users(ctx: Context) -> None:
    """Staff accounts of the support console: create, list, disable.

    Example: kb users create ana --role agent-L2
    """


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_ctx
def users_create(ctx: Context, username: str, role: str, password_stdin: bool) -> None:
    """Create an account (the password is asked twice, or read from stdin).

    Example: kb users create ana --role agent-L2
    Example: printf '%s\\n' "$PASSWORD" | kb users create bot --role author --password-stdin
    """
    from kb_engine.helpdesk.users import create_user

    password = read_password(password_stdin)
    with db_session(ctx) as session:
        user = create_user(session, username, password, role)
        audit.record(session, f"cli:{default_actor()}", "user_create", user.username, role=user.role)
        click.echo(f"created {user.username} ({user.role})")


@users.command("list")
@json_option()
@pass_ctx
def users_list(ctx: Context, as_json: bool) -> None:
    """Every account with its role, whether it is active, and its recent failed logins (lock-outs).

    Example: kb users list --json
    """
    from kb_engine.helpdesk.throttle import LoginThrottle
    from kb_engine.helpdesk.users import list_users

    with db_session(ctx) as session:
        lockouts = LoginThrottle.from_settings(session, ctx.settings()).lockouts()
        none = {"failed_logins": 0, "locked_for_addresses": 0}
        rows: list[dict[str, Any]] = [
            {
                "username": u.username,
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at,
                **lockouts.get(u.username, none),
            }
            for u in list_users(session)
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "active" if row["active"] else "disabled"
        if row["locked_for_addresses"]:
            n = row["locked_for_addresses"]
            state += f", locked for {n} address{'es' if n > 1 else ''} ({row['failed_logins']} failed logins)"
        elif row["failed_logins"]:
            state += f", {row['failed_logins']} failed login{'s' if row['failed_logins'] > 1 else ''}"
        click.echo(f"{row['username']:<24} {row['role']:<9} {state}")
    click.echo(f"{len(rows)} accounts")


def _set_active(ctx: Context, username: str, active: bool) -> None:
    from kb_engine.helpdesk.users import set_active

    with db_session(ctx) as session:
        user = set_active(session, username, active)
        audit.record(session, f"cli:{default_actor()}", f"user_{'enable' if active else 'disable'}", username)
        click.echo(f"{'enabled' if active else 'disabled'} {user.username}")


@users.command("disable")
@click.argument("username")
@pass_ctx
def users_disable(ctx: Context, username: str) -> None:
    """Disable an account: it cannot log in, and its open sessions end at once.

    Example: kb users disable ana
    """
    _set_active(ctx, username, False)


@users.command("enable")
@click.argument("username")
@pass_ctx
def users_enable(ctx: Context, username: str) -> None:
    """Enable a disabled account again.

    Example: kb users enable ana
    """
    _set_active(ctx, username, True)


@users.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_ctx
def users_password(ctx: Context, username: str, password_stdin: bool) -> None:
    """Set a new password; the account's open sessions end.

    Example: kb users password ana
    """
    from kb_engine.helpdesk.users import set_password

    password = read_password(password_stdin)
    with db_session(ctx) as session:
        user = set_password(session, username, password)
        audit.record(session, f"cli:{default_actor()}", "user_password", username)
        click.echo(f"new password set for {user.username}")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@pass_ctx
def users_role(ctx: Context, username: str, role: str) -> None:
    """Change an account's role; its open sessions end.

    Example: kb users role ana agent-L3
    """
    from kb_engine.helpdesk.users import set_role

    with db_session(ctx) as session:
        user = set_role(session, username, role)
        audit.record(session, f"cli:{default_actor()}", "user_role", username, role=role)
        click.echo(f"{user.username} is now {user.role}")


# -- kb gaps ----------------------------------------------------------------------------------------------
@click.command("gaps")
@click.option("--days", type=int, default=30, show_default=True, help="How far back to look.")
@click.option("--min-customers", type=int, default=1, show_default=True)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder (KB_INDEX_DIR).")
@json_option()
@pass_ctx
def gaps_cmd(
    ctx: Context, days: int, min_customers: int, limit: int, index_dir: Path | None, as_json: bool
) -> None:
    """Content gaps: missed searches grouped into topics, most customers first, with the closest article.

    Example: kb gaps --days 7 --json
    """
    from kb_engine.cli.context import open_searcher
    from kb_engine.insights.gaps import find_gaps

    settings = ctx.settings(INDEX_DIR=index_dir)
    searcher = open_searcher(settings)
    embedder = searcher.embedder
    if embedder is None:
        raise click.ClickException("content gaps need the embedding model, which could not be loaded")
    with db_session(ctx) as session:
        found = find_gaps(
            session,
            embedder.encode_queries,
            searcher,
            days=days,
            min_customers=min_customers,
            limit=limit,
        )
    if as_json:
        echo_json([g.to_dict() for g in found])
        return
    for gap in found:
        closest = gap.closest_article
        near = f"{closest['id']} ({closest['score']:.2f})" if closest else "-"
        scope = " [out of scope]" if gap.out_of_scope else ""
        click.echo(
            f"{gap.customers:>4} customers  {gap.searches:>4} searches  {gap.title}{scope}  "
            f"[{gap.lang or '?'}] closest: {near}"
        )
        for example in gap.examples:
            click.echo(f"       “{example}”")
        if gap.tickets:
            click.echo(
                f"       tickets: {', '.join(gap.tickets[:10])}{' …' if len(gap.tickets) > 10 else ''}"
            )
    click.echo(f"{len(found)} topics over the last {days} days")


# -- kb questions -----------------------------------------------------------------------------------------
@click.group("questions")
@pass_ctx
def questions(ctx: Context) -> None:
    """Customers' phrasings that led to "solved": approve them as learned questions, or reject them.

    Example: kb questions list
    """


@questions.command("list")
@click.option("--status", type=click.Choice(("pending", "approved", "rejected")), default="pending")
@click.option("--limit", type=int, default=None)
@json_option()
@pass_ctx
def questions_list(ctx: Context, status: str, limit: int | None, as_json: bool) -> None:
    """Candidates, the most frequent first.

    Example: kb questions list --json
    """
    from kb_engine.insights.questions import list_candidates

    with db_session(ctx) as session:
        rows = [
            {"id": c.id, "article": c.article_id, "query": c.query, "count": c.count, "status": c.status}
            for c in list_candidates(session, status, limit=limit)
        ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"#{row['id']:<5} {row['count']:>4}×  {row['article']:<32} {row['query']}")
    click.echo(f"{len(rows)} {status} candidates")


@questions.command("approve")
@click.argument("candidate_ids", nargs=-1, type=int, required=True)
@actor_option
@pass_ctx
def questions_approve(ctx: Context, candidate_ids: tuple[int, ...], actor: str) -> None:
    """Approve candidates: each query is appended to articles/learned-questions.yml for its article.

    Example: kb questions approve 12 15
    """
    from kb_engine.insights.questions import approve

    articles_dir = Path(ctx.settings()["ARTICLES_DIR"])
    with db_session(ctx) as session:
        for candidate_id in candidate_ids:
            candidate = approve(session, candidate_id, actor, articles_dir)
            click.echo(f"approved #{candidate.id}: {candidate.article_id} ← “{candidate.query}”")


@questions.command("reject")
@click.argument("candidate_ids", nargs=-1, type=int, required=True)
@actor_option
@pass_ctx
def questions_reject(ctx: Context, candidate_ids: tuple[int, ...], actor: str) -> None:
    """Reject candidates (they are not proposed again).

    Example: kb questions reject 13
    """
    from kb_engine.insights.questions import reject

    with db_session(ctx) as session:
        for candidate_id in candidate_ids:
            candidate = reject(session, candidate_id, actor)
            click.echo(f"rejected #{candidate.id}: “{candidate.query}”")


COMMANDS = (users, gaps_cmd, questions)
__all__ = ["COMMANDS", "default_actor"]
