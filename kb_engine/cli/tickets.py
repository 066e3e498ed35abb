"""`kb tickets`: the ticket queue and lifecycle at a terminal, for agents and scripts.

A thin shell over `kb_engine.helpdesk.tickets.TicketService`, like the web app: every change is recorded in
the ticket's history under `--actor` (default: $USER).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from kb_engine.cli.context import Context, json_option
from kb_engine.helpdesk.db import make_engine, make_session_factory, store_errors, upgrade
from kb_engine.helpdesk.models import Problem, Ticket
from kb_engine.helpdesk.similarity import Embed
from kb_engine.helpdesk.tickets import SOURCES, STATUSES, TIERS, TicketService, problem_to_dict

# The same Context object as the `kb` group's (found by its class in click's context chain).
pass_ctx = click.make_pass_decorator(Context, ensure=True)


def default_actor() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"


actor_option = click.option(
    "--actor", default=default_actor, show_default="$USER", help="Who is doing this (kept in the history)."
)
reference_argument = click.argument("reference")


@contextmanager
def ticket_service(ctx: Context) -> Iterator[TicketService]:
    """A service on the configured ticket store; commits when the command succeeds."""
    settings = ctx.settings()
    engine = make_engine(settings["DATABASE_URL"])
    try:
        with store_errors():
            upgrade(engine)
            with make_session_factory(engine)() as session:
                yield TicketService.from_settings(session, settings)
                session.commit()
    finally:
        engine.dispose()


def embed_function(ctx: Context) -> Embed:
    """The configured model's query embedding (loaded on first use; KB_MODEL=hashing is model-free)."""
    from kb_engine.search.embedding import embedder_from_settings

    return embedder_from_settings(ctx.settings()).encode_queries


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def change(
    ctx: Context, reference: str, actor: str, verb: str, apply: Callable[[TicketService, Ticket], Any]
) -> None:
    """Body of a one-ticket command: load the ticket, apply the change, say where the ticket stands."""
    with ticket_service(ctx) as service:
        ticket = service.get(reference)
        apply(service, ticket)
        click.echo(
            f"{ticket.reference} {verb} by {actor}: {ticket.status}, {ticket.tier}, {ticket.team or '-'}"
        )


@click.group("tickets")
@click.option("--database", "database_url", help="Ticket store URL (overrides KB_DATABASE_URL).")
@pass_ctx
def tickets(ctx: Context, database_url: str | None) -> None:
    """Work the ticket queue: list, show, take, escalate, merge, resolve...

    Example: kb tickets list --tier L2
    """
    if database_url:
        ctx.overrides["DATABASE_URL"] = database_url


@tickets.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Default: new, open.")
@click.option("--tier", type=click.Choice(TIERS))
@click.option("--team")
@click.option("--assignee")
@click.option("--limit", type=int, default=None)
@click.option("--no-model", is_flag=True, help="Group anonymous misses by identical wording (no model load).")
@json_option()
@pass_ctx
def list_cmd(
    ctx: Context,
    statuses: tuple[str, ...],
    tier: str | None,
    team: str | None,
    assignee: str | None,
    limit: int | None,
    no_model: bool,
    as_json: bool,
) -> None:
    """The queue, highest priority first; anonymous misses about the same thing are one line.

    Example: kb tickets list --team network --json
    """
    with ticket_service(ctx) as service:
        entries = service.queue(
            None if no_model else embed_function(ctx),
            statuses=statuses or ("new", "open"),
            tier=tier,
            team=team,
            assignee=assignee,
            limit=limit,
        )
        if as_json:
            echo_json([e.to_dict() for e in entries])
            return
        for entry in entries:
            lead = entry.lead
            click.echo(
                f"P{entry.priority.level}  {lead.reference}  {lead.status:<19} {lead.tier} "
                f"{(lead.team or '-'):<16} {(lead.assignee or '-'):<10} {entry.label[:70]}"
            )
        click.echo(f"{len(entries)} entries")


@tickets.command("create")
@click.option("--query", required=True, help="The customer's problem, in their words.")
@click.option("--category", help="Article category, for routing (articles/routing.yml).")
@click.option("--lang", help="Language of the query (en, fr...).")
@click.option("--name", help="Customer's name.")
@click.option("--email", help="Customer's email.")
@click.option("--phone", help="Customer's phone.")
@click.option("--availability", help="When the customer can be reached, e.g. 'mornings'.")
@click.option("--details", help="More detail.")
@click.option("--source", type=click.Choice(SOURCES), default="agent", show_default=True)
@actor_option
@json_option()
@pass_ctx
def create_cmd(
    ctx: Context,
    query: str,
    category: str | None,
    lang: str | None,
    name: str | None,
    email: str | None,
    phone: str | None,
    availability: str | None,
    details: str | None,
    source: str,
    actor: str,
    as_json: bool,
) -> None:
    """Open a ticket for a customer (a phone call, a visit...), routed and prioritised like any other.

    Example: kb tickets create --query "Printer on floor 2 jams" --email ana@example.com --category printing
    """
    with ticket_service(ctx) as service:
        ticket = service.create(
            source=source,
            query=query,
            lang=lang,
            category=category,
            actor=actor,
            contact_name=name,
            contact_email=email,
            contact_phone=phone,
            availability=availability,
            details=details,
        )
        link = f"{ctx.settings()['PUBLIC_URL'].rstrip('/')}/tickets/{ticket.reference}?t={ticket.token}"
        if as_json:
            echo_json({**service.describe(ticket), "status_url": link})
            return
        click.echo(
            f"{ticket.reference} created: {ticket.status}, {ticket.tier}, {ticket.team or '-'}, "
            f"P{service.priority_of(ticket).level}"
        )
        click.echo(f"customer's link: {link}")


@tickets.command("show")
@reference_argument
@click.option("--packet", is_flag=True, help="Print the escalation packet (what the next tier gets).")
@json_option()
@pass_ctx
def show_cmd(ctx: Context, reference: str, packet: bool, as_json: bool) -> None:
    """One ticket with its contacts and full history (including merged tickets).

    Example: kb tickets show KB-000042 --json
    """
    with ticket_service(ctx) as service:
        ticket = service.get(reference)
        if packet:
            echo_json(service.escalation_packet(ticket))
            return
        data = service.describe(ticket, history=True)
        if as_json:
            echo_json(data)
            return
        click.echo(
            f"{data['reference']}  {data['status']}  {data['tier']} {data['team'] or '-'}  "
            f"assignee {data['assignee'] or '-'}  P{data['priority']} ({'; '.join(data['priority_reasons'])})"
        )
        click.echo(f"source {data['source']} · category {data['category']} · created {data['created_at']}")
        click.echo(f"query: {data['query']}")
        if data["details"]:
            click.echo(f"details: {data['details']}")
        shown = ", ".join(f"{h['id']} ({h['score']})" for h in data["shown"])
        click.echo(f"articles shown: {shown or '-'}")
        for c in data["contacts"]:
            click.echo(
                f"contact: {c['name'] or '-'} <{c['email'] or '-'}> {c['phone'] or ''} "
                f"({c['availability'] or 'any time'}) from {c['from']}"
            )
        if data["merged_into"]:
            click.echo(f"merged into {data['merged_into']}")
        click.echo("history:")
        for e in data["history"]:
            click.echo(f"  {e['at']}  {e['ticket']}  {e['actor']:<10} {e['kind']:<18} {e['message'] or ''}")


@tickets.command("take")
@reference_argument
@actor_option
@pass_ctx
def take_cmd(ctx: Context, reference: str, actor: str) -> None:
    """Take a ticket: assigned to you, status open.

    Example: kb tickets take KB-000042 --actor ana
    """
    change(ctx, reference, actor, "taken", lambda s, t: s.take(t, actor))


@tickets.command("assign")
@reference_argument
@click.argument("assignee")
@actor_option
@pass_ctx
def assign_cmd(ctx: Context, reference: str, assignee: str, actor: str) -> None:
    """Assign a ticket to an agent.

    Example: kb tickets assign KB-000042 bob
    """
    change(ctx, reference, actor, f"assigned to {assignee}", lambda s, t: s.assign(t, actor, assignee))


@tickets.command("note")
@reference_argument
@click.argument("text")
@actor_option
@pass_ctx
def note_cmd(ctx: Context, reference: str, text: str, actor: str) -> None:
    """Add an internal note (never shown to the customer).

    Example: kb tickets note KB-000042 "Gateway logs show TLS errors"
    """
    change(ctx, reference, actor, "noted", lambda s, t: s.add_note(t, actor, text))


@tickets.command("ask")
@reference_argument
@click.argument("question")
@actor_option
@pass_ctx
def ask_cmd(ctx: Context, reference: str, question: str, actor: str) -> None:
    """Ask the customer a question (shown on their status page); the ticket waits on them.

    Example: kb tickets ask KB-000042 "Does it fail at home too?"
    """
    change(ctx, reference, actor, "asked", lambda s, t: s.ask_customer(t, actor, question))


@tickets.command("escalate")
@reference_argument
@click.option("--reason", required=True, help="Why the next tier is needed.")
@click.option("--team", help="Team at the next tier (default: from articles/routing.yml).")
@click.option("--vendor", help="Outside vendor (needed for L4).")
@click.option("--vendor-ref", help="The vendor's reference (needed for L4).")
@actor_option
@json_option()
@pass_ctx
def escalate_cmd(
    ctx: Context,
    reference: str,
    reason: str,
    team: str | None,
    vendor: str | None,
    vendor_ref: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Escalate to the next tier with a reason; prints the escalation packet.

    Example: kb tickets escalate KB-000042 --reason "gateway certificate" --team network
    Example: kb tickets escalate KB-000042 --reason "firmware bug" --vendor Acme --vendor-ref ACME-17
    """
    with ticket_service(ctx) as service:
        ticket = service.get(reference)
        packet = service.escalate(ticket, actor, reason, team=team, vendor=vendor, vendor_ref=vendor_ref)
        if as_json:
            echo_json(packet)
            return
        click.echo(
            f"{ticket.reference} escalated {packet['escalation']['from']} → {ticket.tier}, team {ticket.team}"
        )
        click.echo(
            f"packet: {len(packet['articles_tried'])} articles tried, {len(packet['contacts'])} contacts, "
            f"{len(packet['conversation'])} messages, {len(packet['notes'])} notes"
        )


@tickets.command("transfer")
@reference_argument
@click.option("--team")
@click.option("--to", "assignee", help="Agent to hand over to.")
@click.option("--reason")
@actor_option
@pass_ctx
def transfer_cmd(
    ctx: Context, reference: str, team: str | None, assignee: str | None, reason: str | None, actor: str
) -> None:
    """Hand a ticket to another team or agent at the same tier.

    Example: kb tickets transfer KB-000042 --team messaging --reason "mail relay"
    """
    change(
        ctx,
        reference,
        actor,
        "transferred",
        lambda s, t: s.transfer(t, actor, team=team, assignee=assignee, reason=reason),
    )


@tickets.command("priority")
@reference_argument
@click.argument("level", type=click.Choice(["1", "2", "3", "4", "auto"]))
@click.option("--reason", required=True)
@actor_option
@pass_ctx
def priority_cmd(ctx: Context, reference: str, level: str, reason: str, actor: str) -> None:
    """Override a ticket's priority (1 critical … 4 low), or `auto` to go back to the rule.

    Example: kb tickets priority KB-000042 1 --reason "whole sales team"
    """
    value = None if level == "auto" else int(level)
    change(ctx, reference, actor, "reprioritised", lambda s, t: s.set_priority(t, actor, value, reason))


@tickets.command("merge")
@click.argument("survivor")
@click.argument("others", nargs=-1, required=True)
@click.option("--reason")
@actor_option
@pass_ctx
def merge_cmd(ctx: Context, survivor: str, others: tuple[str, ...], reason: str | None, actor: str) -> None:
    """Merge tickets into SURVIVOR: every customer's contact and history is kept on it.

    Example: kb tickets merge KB-000040 KB-000041 KB-000042 --reason "same VPN outage"
    """
    with ticket_service(ctx) as service:
        target = service.get(survivor)
        for reference in others:
            service.merge(target, service.get(reference), actor, reason)
        click.echo(f"{target.reference} now has {len(target.contacts)} contacts; merged {', '.join(others)}")


@tickets.command("similar")
@reference_argument
@click.option("--limit", type=int, default=5, show_default=True)
@json_option()
@pass_ctx
def similar_cmd(ctx: Context, reference: str, limit: int, as_json: bool) -> None:
    """Open tickets about the same thing (candidates for merging).

    Example: kb tickets similar KB-000042
    """
    with ticket_service(ctx) as service:
        found = service.find_similar(service.get(reference), embed_function(ctx), limit=limit)
        if as_json:
            echo_json([{"reference": t.reference, "score": s, "query": t.query} for t, s in found])
            return
        for ticket, score in found:
            click.echo(f"{ticket.reference}  {score:.2f}  {ticket.query[:80]}")


@tickets.command("resolve")
@reference_argument
@click.option("--article", help="Id of the article that solved it, e.g. en/vpn-cannot-connect.")
@click.option("--note", help="What fixed it.")
@actor_option
@pass_ctx
def resolve_cmd(ctx: Context, reference: str, article: str | None, note: str | None, actor: str) -> None:
    """Resolve a ticket with the article that solved it and/or a note on the fix.

    Example: kb tickets resolve KB-000042 --article en/vpn-cannot-connect
    """
    change(ctx, reference, actor, "resolved", lambda s, t: s.resolve(t, actor, article=article, note=note))


@tickets.command("close")
@reference_argument
@click.option("--reason")
@actor_option
@pass_ctx
def close_cmd(ctx: Context, reference: str, reason: str | None, actor: str) -> None:
    """Close a ticket for good.

    Example: kb tickets close KB-000042 --reason "confirmed fixed by the customer"
    """
    change(ctx, reference, actor, "closed", lambda s, t: s.close(t, actor, reason))


@tickets.command("reopen")
@reference_argument
@click.option("--reason", required=True)
@actor_option
@pass_ctx
def reopen_cmd(ctx: Context, reference: str, reason: str, actor: str) -> None:
    """Reopen a resolved ticket.

    Example: kb tickets reopen KB-000042 --reason "broke again after the update"
    """
    change(ctx, reference, actor, "reopened", lambda s, t: s.reopen(t, actor, reason))


# -- problems ---------------------------------------------------------------------------------------------
@tickets.group("problems", invoke_without_command=True)
@json_option()
@click.pass_context
def problems_group(click_ctx: click.Context, as_json: bool) -> None:
    """Recurring incidents: list them (default), propose, confirm, reject, resolve.

    Example: kb tickets problems --json
    """
    if click_ctx.invoked_subcommand is not None:
        return
    with ticket_service(click_ctx.find_object(Context) or Context()) as service:
        show_problems(service.problems(("proposed", "open")), as_json)


def show_problems(problems: list[Problem], as_json: bool) -> None:
    if as_json:
        echo_json([problem_to_dict(p) for p in problems])
        return
    for p in problems:
        click.echo(f"#{p.id}  {p.status:<9} {len(p.tickets):>3} tickets  {p.title[:80]}")
    if not problems:
        click.echo("no proposed or open problems")


@problems_group.command("propose")
@click.option("--window-hours", type=float, default=2.0, show_default=True)
@click.option("--min-tickets", type=int, default=3, show_default=True)
@json_option()
@pass_ctx
def propose_cmd(ctx: Context, window_hours: float, min_tickets: int, as_json: bool) -> None:
    """Propose problems from bursts of similar recent tickets (the web app does it as tickets arrive).

    Example: kb tickets problems propose --window-hours 1
    """
    with ticket_service(ctx) as service:
        found = service.propose_problems(
            embed_function(ctx), window=dt.timedelta(hours=window_hours), min_tickets=min_tickets
        )
        show_problems(found, as_json)


def problem_change(ctx: Context, problem_id: int, apply: Callable[[TicketService, Problem], Any]) -> None:
    """Body of a one-problem command: load the problem, apply the change, say where it stands."""
    with ticket_service(ctx) as service:
        problem = service.get_problem(problem_id)
        apply(service, problem)
        banner = f", banner: {problem.banner}" if problem.banner else ""
        click.echo(f"problem #{problem.id}: {problem.status}{banner}")


@problems_group.command("confirm")
@click.argument("problem_id", type=int)
@click.option("--title", required=True, help="Short public name of the incident, e.g. 'VPN outage'.")
@click.option("--banner", help="Text customers see on matching searches.")
@actor_option
@pass_ctx
def confirm_cmd(ctx: Context, problem_id: int, title: str, banner: str | None, actor: str) -> None:
    """Confirm a proposed problem: customers searching for it see the known-issue banner.

    Example: kb tickets problems confirm 3 --title "VPN outage"
    """
    problem_change(ctx, problem_id, lambda s, p: s.confirm_problem(p, actor, title=title, banner=banner))


@problems_group.command("reject")
@click.argument("problem_id", type=int)
@click.option("--reason")
@actor_option
@pass_ctx
def reject_cmd(ctx: Context, problem_id: int, reason: str | None, actor: str) -> None:
    """Reject a proposed problem (not one incident).

    Example: kb tickets problems reject 3 --reason "unrelated home networks"
    """
    problem_change(ctx, problem_id, lambda s, p: s.reject_problem(p, actor, reason))


@problems_group.command("resolve")
@click.argument("problem_id", type=int)
@click.option("--note", required=True, help="What fixed it.")
@click.option("--resolve-tickets", is_flag=True, help="Resolve its open tickets with the same note.")
@actor_option
@pass_ctx
def resolve_problem_cmd(ctx: Context, problem_id: int, note: str, resolve_tickets: bool, actor: str) -> None:
    """Resolve an open problem: the banner goes away.

    Example: kb tickets problems resolve 3 --note "gateway certificate renewed" --resolve-tickets
    """
    problem_change(
        ctx, problem_id, lambda s, p: s.resolve_problem(p, actor, note, resolve_tickets=resolve_tickets)
    )


COMMANDS = (tickets,)
