"""Phone and walk-in intake (/console/new): the agent types the caller's words and sees the same live
article suggestions as customers, finds the caller's earlier tickets by email or phone, and either records
"solved on the call" (a resolved ticket with the article: a first-contact resolution) or opens the ticket,
routed and prioritised as usual. Works without JavaScript ("Suggest articles" and "Find" post the form
back with everything typed kept).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kb_engine.errors import InvalidQuery, KBError
from kb_engine.helpdesk.customers import callers_tickets
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.tickets import LIVE_SOURCES
from web.auth import agent_required, staff
from web.console import bp
from web.console_labels import console_error, tier_label
from web.resources import get_db, get_searcher, get_tickets, open_ticket

FIELDS = ("query", "details", "name", "email", "phone", "availability", "source", "article", "note", "level")
SUGGESTED = 6


def _suggest(query: str) -> Any:
    if not query.strip():
        return None
    try:
        return get_searcher().search(query[:2000], k=SUGGESTED, include_internal=True)
    except KBError:
        return None


def intake_page(form: dict[str, str], *, error: str | None = None, status: int = 200, search: bool = False):
    db = get_db()
    callers = callers_tickets(db, email=form.get("email"), phone=form.get("phone"))
    return (
        render_template(
            "console/new_ticket.html",
            form=form,
            suggestions=_suggest(form.get("query", "")) if search or form.get("query") else None,
            callers=callers,
            looked_up=bool(form.get("email") or form.get("phone")),
            sources=LIVE_SOURCES,
            error=error,
            user=staff(),
        ),
        status,
    )


@bp.get("/new")
@agent_required
def new_ticket():
    """The phone and walk-in intake screen."""
    form = {k: request.args.get(k, "")[:2000] for k in FIELDS}
    return intake_page(form)


@bp.get("/callers")
@agent_required
def callers():
    """A caller's earlier tickets by email or phone (an HTML fragment for the intake screen)."""
    return render_template(
        "console/_callers.html",
        callers=callers_tickets(get_db(), email=request.args.get("email"), phone=request.args.get("phone")),
        looked_up=bool(request.args.get("email") or request.args.get("phone")),
    )


@bp.post("/new")
@agent_required
def create_ticket():
    """Record the call: solved on the call (first-contact resolution) or a ticket opened for later."""
    form = {k: request.form.get(k, "") for k in FIELDS}
    outcome = request.form.get("outcome", "")
    if outcome not in ("solved", "open"):
        return intake_page(form, search=True)  # "Suggest articles" / "Find" without JavaScript
    service = get_tickets()
    db = get_db()
    actor = staff().username
    try:
        if not form["query"].strip():
            raise InvalidQuery(_("write what the caller says the problem is"))
        if outcome == "solved" and not (form["article"].strip() or form["note"].strip()):
            raise InvalidQuery(
                _("solved on the call: choose the article that solved it or say what fixed it")
            )
        response = _suggest(form["query"])
        with store_errors():
            ticket = open_ticket(
                source=form["source"] if form["source"] in LIVE_SOURCES else "phone",
                query=form["query"],
                response=response,
                actor=actor,
                contact_name=form["name"] or None,
                contact_email=form["email"] or None,
                contact_phone=form["phone"] or None,
                availability=form["availability"] or None,
                details=form["details"] or None,
            )
            if outcome == "solved":
                if staff().may_act_on(ticket.tier):
                    service.take(ticket, actor)
                service.resolve(
                    ticket,
                    actor,
                    article=form["article"] or None,
                    note=form["note"] or None,
                    first_contact=True,
                )
                notice = _("%(ref)s: solved on the call (first-contact resolution)", ref=ticket.reference)
            else:
                if form["level"] in ("1", "2", "3", "4"):
                    service.set_priority(
                        ticket, actor, int(form["level"]), "set at intake by the agent on the call"
                    )
                if staff().may_act_on(ticket.tier):
                    service.take(ticket, actor)
                notice = _(
                    "%(ref)s opened (%(tier)s, %(team)s)",
                    ref=ticket.reference,
                    tier=tier_label(ticket.tier),
                    team=ticket.team or _("no team"),
                )
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500:
            raise
        return intake_page(form, error=console_error(exc), status=exc.status)
    flash(notice, "notice")
    return redirect(url_for("console.ticket", reference=ticket.reference), code=303)


def public_url() -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")
