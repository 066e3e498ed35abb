"""`kb tickets automate`: the desk's automations and SLA timers (kb_engine.helpdesk.automations), added to
the `kb tickets` group (cli/tickets.py is full)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb_engine.cli.context import Context, pass_ctx
from kb_engine.cli.tickets import ticket_service, tickets
from kb_engine.helpdesk import automations as automation


@tickets.command("automate")
@click.option("--check", is_flag=True, help="Only check the automations file and list its rules.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@pass_ctx
def automate_cmd(ctx: Context, check: bool, as_json: bool) -> None:
    """Run the automations and SLA rules once over the active tickets (idempotent; for cron).

    Rules come from automations.yml in the articles folder (built-in defaults without one). Each firing
    is recorded in the ticket's history; a rule fires once per ticket until the ticket moves again.

    \b
    Example: kb tickets automate
    Example: kb tickets automate --check
    """
    settings = ctx.settings()
    rules = automation.load_automations(Path(settings["ARTICLES_DIR"]))
    if check:
        listed = [{"name": r.name, "when": str(r.when), "do": [a[0] for a in r.do]} for r in rules.rules]
        if as_json:
            click.echo(json.dumps(listed, indent=2))
        else:
            for rule in listed:
                click.echo(f"{rule['name']}: when {rule['when']} do {', '.join(rule['do'])}")
        return
    with ticket_service(ctx) as service:
        fired = automation.run(service, rules)
    if as_json:
        click.echo(json.dumps(automation.describe(fired), indent=2))
        return
    for firing in fired:
        click.echo(f"{firing.reference} {firing.rule}: {', '.join(firing.actions)}")
    click.echo(f"{len(fired)} rule(s) fired")


COMMANDS = ()  # automate joins the `kb tickets` group above
