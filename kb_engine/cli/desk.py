"""`kb tickets automate`: the desk's automations and SLA timers (kb_engine.helpdesk.automations), added to
the `kb tickets` group (cli/tickets.py is full)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from kb_engine.cli.context import Context, json_option, pass_ctx
from kb_engine.cli.tickets import ticket_service, tickets
from kb_engine.helpdesk import automations as automation
from kb_engine.helpdesk import triage as learned
from kb_engine.helpdesk.models import utcnow
from kb_engine.helpdesk.routing import routing_for


@tickets.command("automate")
@click.option("--check", is_flag=True, help="Only check the automations file and list its rules.")
@json_option("JSON output.")
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


@tickets.command("triage")
@click.option("--train", is_flag=True, help="Train on the resolved tickets and save the model.")
@click.option("--evaluate", is_flag=True, help="Replay the history in time order and print the table.")
@json_option("JSON output.")
@pass_ctx
def triage_cmd(ctx: Context, train: bool, evaluate: bool, as_json: bool) -> None:
    """Learned triage: train the model new tickets are routed by, or replay the history to judge it.

    --evaluate routes every resolved ticket, in time order, with a model trained only on the tickets
    resolved KB_TRIAGE_MIN_AGE_DAYS before it arrived, and with the routing file alone: how many each sent
    straight to the tier that finally resolved them, and how many the model sent too high.

    \b
    Example: kb tickets triage --evaluate
    Example (daily cron): kb tickets triage --train
    """
    settings = ctx.settings()
    if not (train or evaluate):
        raise click.UsageError("say --train or --evaluate")
    min_age = dt.timedelta(days=settings["TRIAGE_MIN_AGE_DAYS"])
    with ticket_service(ctx) as service:
        if evaluate:
            data = learned.examples(service.session)
            result = learned.replay(
                data,
                routing_for(Path(settings["ARTICLES_DIR"])),
                min_tickets=settings["TRIAGE_MIN_TICKETS"],
                min_age=min_age,
                threshold=settings["TRIAGE_THRESHOLD"],
            )
            click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.table())
        if train:
            model = learned.train_now(
                service.session,
                min_tickets=settings["TRIAGE_MIN_TICKETS"],
                min_age=min_age,
                threshold=settings["TRIAGE_THRESHOLD"],
                now=utcnow(),
            )
            if model is None:
                click.echo(
                    f"not trained: fewer than {settings['TRIAGE_MIN_TICKETS']} tickets resolved "
                    f"{settings['TRIAGE_MIN_AGE_DAYS']}+ days ago (or a single destination); "
                    "the routing file decides"
                )
                return
            path = learned.save(model, Path(settings["INSTANCE_DIR"]))
            click.echo(f"trained on {model.trained_on} resolved tickets: {path}")


COMMANDS = ()  # automate joins the `kb tickets` group above
