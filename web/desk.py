"""The desk's pages and partials: SLA timers for agents (time left to each target, breached in red;
`console/_sla.html`, included by the queue and the ticket page), "Are you satisfied?" for customers (the
resolution email's links and the status page; `_satisfaction.html`) and CSAT on the dashboard
(`console/_csat.html`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kb_engine.errors import InvalidQuery, InvalidTransition, NotFound, StoreUnavailable, TooManyRequests
from kb_engine.helpdesk import recurring, satisfaction
from kb_engine.helpdesk.automations import Automations, load_automations, timers
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Problem, Satisfaction, Ticket
from kb_engine.helpdesk.tickets import LIMITS
from web import with_retry_after
from web.auth import agent_required, require_tier, staff
from web.i18n import error_text, localised_datetime, ui_lang
from web.resources import get_db, get_tickets, limit

bp = Blueprint("desk", __name__)

LABELS = {"first_response": _l("First response"), "resolution": _l("Resolution")}


def desk_automations() -> Automations:
    """The desk's automations and SLA targets (articles folder's automations.yml), once per request."""
    if "kb_automations_rules" not in g:
        g.kb_automations_rules = load_automations(Path(current_app.config["ARTICLES_DIR"]))
    rules: Automations = g.kb_automations_rules
    return rules


def _span(delta: dt.timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 60:
        return _("%(min)s min", min=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)s h %(min)s", h=hours, min=str(minutes).zfill(2))
    return _("%(d)s d %(h)s h", d=hours // 24, h=hours % 24)


def sla_timers(ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's targets for the templates: label, state (running, met, late, breached) and text."""
    found = []
    for timer in timers(get_tickets(), ticket, desk_automations()):
        if timer.breached:
            state, text = "breached", _("breached %(span)s ago", span=_span(timer.left))
        elif timer.met:
            state, text = "met", _("met")
        elif timer.left < dt.timedelta(0):  # done, after its due time
            state, text = "late", _("met late")
        else:
            state, text = "running", _("%(span)s left", span=_span(timer.left))
        found.append(
            {
                "target": timer.target,
                "label": str(LABELS[timer.target]),
                "state": state,
                "text": text,
                "due": localised_datetime(timer.due_at),
            }
        )
    return found


# -- satisfaction -----------------------------------------------------------------------------------------
def satisfaction_answer(ticket: Ticket) -> Satisfaction | None:
    return satisfaction.answer_of(get_db(), ticket)


def _customer_ticket(reference: str, token: str) -> Ticket:
    try:
        return get_tickets().get_for_customer(reference, token)
    except NotFound:
        abort(404)


@bp.get("/tickets/<reference>/satisfaction")
def satisfaction_page(reference: str):
    """The resolution email's "Are you satisfied?" link: the answer clicked, ready to send (a GET records
    nothing, so that mail scanners opening links do not answer for the customer)."""
    token = request.args.get("t", "")
    ticket = _customer_ticket(reference, token)
    rating = request.args.get("r", "")
    return render_template(
        "satisfaction.html",
        ticket=ticket,
        token=token,
        rating=rating if rating in satisfaction.RATINGS else "",
        channel="email" if request.args.get("ch") == "email" else "web",
        answer=satisfaction_answer(ticket),
        status=get_tickets().surviving(ticket).status,
        comment_limit=LIMITS["message"],
    )


@bp.post("/tickets/<reference>/satisfaction")
def satisfaction_send(reference: str):
    """Record the customer's answer (once per request; a comment can follow a one-click answer)."""
    token = request.form.get("t", "")
    ticket = _customer_ticket(reference, token)
    db = get_db()
    try:
        with store_errors():
            satisfaction.rate(
                db,
                ticket,
                request.form.get("rating", ""),
                request.form.get("comment"),
                status=get_tickets().surviving(ticket).status,
                channel=request.form.get("ch", "web"),
            )
            db.commit()
    except (InvalidQuery, InvalidTransition, StoreUnavailable) as exc:
        db.rollback()
        page = render_template(
            "satisfaction.html",
            ticket=ticket,
            token=token,
            rating=request.form.get("rating", ""),
            channel=request.form.get("ch", "web"),
            answer=satisfaction_answer(ticket),
            status=get_tickets().surviving(ticket).status,
            comment=request.form.get("comment", "")[: LIMITS["message"]],
            comment_limit=LIMITS["message"],
            error=error_text(exc),
        )
        return page, exc.status
    return redirect(url_for("customer.ticket_status", reference=reference, t=token, rated=1), code=303)


# -- recurring incidents per customer -----------------------------------------------------------------------
def recurring_flag(ticket: Ticket) -> dict[str, Any] | None:
    return recurring.recurring_of(get_tickets(), ticket)


@bp.post("/console/recurring/<reference>/problem")
@agent_required
def make_problem(reference: str):
    """ "Make it a problem": a proposed problem linking the customer's recurring tickets."""
    service = get_tickets()
    ticket = service.get(reference)
    require_tier(ticket.tier)
    with store_errors():
        problem = recurring.make_problem(service, ticket, staff().username)
        get_db().commit()
    flash(
        _(
            "Problem %(id)s proposed with %(num)s tickets of this customer.",
            id=problem.id,
            num=len(problem.tickets),
        ),
        "notice",
    )
    return redirect(url_for("console.ticket", reference=ticket.reference), code=303)


# -- "Email me when it is fixed" on a known issue's banner ---------------------------------------------------
def _open_problem(problem_id: int) -> Problem:
    problem = get_db().get(Problem, problem_id)
    if problem is None or problem.status not in ("open", "resolved"):
        abort(404)  # proposed or rejected problems are the desk's business, never shown to customers
    return problem


@bp.get("/known-issues/<int:problem_id>")
def known_issue(problem_id: int):
    """A known issue's page: its banner and "Email me when it is fixed"."""
    problem = _open_problem(problem_id)
    done = request.args.get("watching") == "1"
    return render_template("known_issue.html", problem=problem, email="", error=None, done=done)


@bp.post("/known-issues/<int:problem_id>/watch")
def watch_known_issue(problem_id: int):
    """Remember the visitor's address to email them once when the known issue is fixed (no ticket)."""
    problem = _open_problem(problem_id)
    email = request.form.get("email", "").strip()[: LIMITS["contact_email"]]
    db = get_db()
    try:
        with store_errors():
            limit("watch")
            get_tickets().watch_problem(problem, email, ui_lang())
            db.commit()
    except (InvalidQuery, InvalidTransition, StoreUnavailable, TooManyRequests) as exc:
        db.rollback()
        page = render_template(
            "known_issue.html", problem=problem, email=email, error=error_text(exc), done=False
        )
        return with_retry_after((page, exc.status), exc)
    return redirect(url_for("desk.known_issue", problem_id=problem.id, watching=1), code=303)


def csat_summary() -> dict[str, Any]:
    """CSAT over the dashboard's period (its `from`/`to` arguments; the default period otherwise)."""
    from web.dashboard import period_from_args

    period = period_from_args()
    return satisfaction.summary(get_db(), period.start, period.end)


def init_desk(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(sla_timers)
    app.add_template_global(satisfaction_answer)
    app.add_template_global(csat_summary)
    app.add_template_global(recurring_flag)
