"""The desk's additions to the agents' pages: SLA timers (time left to each target, breached in red) as a
partial template, `console/_sla.html`, that the queue and the ticket page include."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g

from kb_engine.helpdesk.automations import Automations, load_automations, timers
from kb_engine.helpdesk.models import Ticket
from web.resources import get_tickets

LABELS = {"first_response": "First response", "resolution": "Resolution"}


def _automations() -> Automations:
    if "kb_automations_rules" not in g:
        g.kb_automations_rules = load_automations(Path(current_app.config["ARTICLES_DIR"]))
    rules: Automations = g.kb_automations_rules
    return rules


def _span(delta: dt.timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d}"
    return f"{hours // 24} d {hours % 24} h"


def sla_timers(ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's targets for the templates: label, state (running, met, late, breached) and text."""
    found = []
    for timer in timers(get_tickets(), ticket, _automations()):
        if timer.breached:
            state, text = "breached", f"breached {_span(timer.left)} ago"
        elif timer.met:
            state, text = "met", "met"
        elif timer.left < dt.timedelta(0):  # done, after its due time
            state, text = "late", "met late"
        else:
            state, text = "running", f"{_span(timer.left)} left"
        found.append(
            {
                "target": timer.target,
                "label": LABELS[timer.target],
                "state": state,
                "text": text,
                "due": timer.due_at.strftime("%Y-%m-%d %H:%M"),
            }
        )
    return found


def init_desk(app: Flask) -> None:
    app.add_template_global(sla_timers)
