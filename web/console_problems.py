"""The console's problems page (/console/problems): recurring incidents and their tickets.

The engine proposes a problem when several tickets about the same thing arrive close together; agents
confirm it (with the banner customers then see, in each interface language), reject it, link and unlink
tickets, and resolve it (optionally resolving every linked ticket with one message).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kb_engine.errors import InvalidQuery, KBError
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Problem
from kb_engine.helpdesk.tickets import PROBLEM_STATUSES, TicketService
from web.auth import agent_required, staff, staff_required
from web.console import bp
from web.console_labels import PROBLEM_STATUS_LABELS, console_error, label
from web.i18n import UI_LANGUAGES
from web.resources import get_db, get_tickets

VIEWS = {"current": ("proposed", "open"), **{s: (s,) for s in PROBLEM_STATUSES}}


def _summary(service: TicketService, problem: Problem) -> dict[str, Any]:
    tickets = [t for t in problem.tickets if t.merged_into_id is None]
    seen = [t.created_at for t in problem.tickets]
    return {
        "problem": problem,
        "tickets": tickets,
        "active": sum(1 for t in tickets if t.status in ("new", "open", "waiting_on_customer")),
        "customers": service.problem_customers(problem),
        "first_seen": min(seen) if seen else problem.created_at,
        "last_seen": max(seen) if seen else problem.created_at,
        "languages": sorted({t.lang for t in tickets if t.lang}),
    }


def problems_page(*, error: str | None = None, form: dict[str, str] | None = None, status: int = 200):
    view = request.args.get("view", "current")
    statuses = VIEWS.get(view, VIEWS["current"])
    service = get_tickets()
    counts = {name: len(service.problems(states)) for name, states in VIEWS.items()}
    return (
        render_template(
            "console/problems.html",
            problems=[_summary(service, p) for p in reversed(service.problems(statuses))],
            view=view if view in VIEWS else "current",
            views=VIEWS,
            counts=counts,
            languages=UI_LANGUAGES,
            error=error,
            form=form or {},
            user=staff(),
        ),
        status,
    )


@bp.get("/problems")
@staff_required
def problems():
    """Proposed, confirmed (open) and resolved problems with their tickets and customer counts."""
    return problems_page()


def _references(text: str) -> list[str]:
    return sorted({r.strip().upper() for r in text.replace(",", " ").split() if r.strip()})


def _confirm(s: TicketService, p: Problem, actor: str, f: dict[str, str]) -> str:
    banners = {lang: f.get(f"banner_{lang}", "") for lang in UI_LANGUAGES}
    if not any(v.strip() for v in banners.values()):
        raise InvalidQuery(_("write the banner customers will see (at least in one language)"))
    s.confirm_problem(p, actor, title=f.get("title") or None, banners=banners)
    return _("problem #%(id)s confirmed: its banner shows on the customers' pages", id=p.id)


def _reject(s: TicketService, p: Problem, actor: str, f: dict[str, str]) -> str:
    s.reject_problem(p, actor, f.get("reason") or None)
    return _("problem #%(id)s rejected", id=p.id)


def _resolve(s: TicketService, p: Problem, actor: str, f: dict[str, str]) -> str:
    s.resolve_problem(p, actor, f.get("note", ""), resolve_tickets=f.get("resolve_tickets") == "yes")
    if f.get("resolve_tickets") == "yes":
        return _("problem #%(id)s resolved and its open tickets resolved; the banner is gone", id=p.id)
    return _("problem #%(id)s resolved; the banner is gone", id=p.id)


def _link(s: TicketService, p: Problem, actor: str, f: dict[str, str]) -> str:
    references = _references(f.get("references", ""))
    if not references:
        raise InvalidQuery(_("give the references of the tickets to link (KB-000012 KB-000015)"))
    if p.status not in ("proposed", "open"):
        raise InvalidQuery(
            _(
                "problem #%(id)s is %(status)s: link tickets to a current problem",
                id=p.id,
                status=label(PROBLEM_STATUS_LABELS, p.status),
            )
        )
    for reference in references:
        s.link_problem(s.get(reference), p, actor)
    return _("%(refs)s linked to problem #%(id)s", refs=", ".join(references), id=p.id)


def _unlink(s: TicketService, p: Problem, actor: str, f: dict[str, str]) -> str:
    ticket = s.get(f.get("reference", ""))
    if ticket.problem_id != p.id:
        raise InvalidQuery(_("%(ref)s is not linked to problem #%(id)s", ref=ticket.reference, id=p.id))
    s.unlink_problem(ticket, actor)
    return _("%(ref)s unlinked from problem #%(id)s", ref=ticket.reference, id=p.id)


PROBLEM_ACTIONS = {
    "confirm": _confirm,
    "reject": _reject,
    "resolve": _resolve,
    "link": _link,
    "unlink": _unlink,
}


@bp.post("/problems/<int:problem_id>/<action>")
@agent_required
def problem_action(problem_id: int, action: str):
    """Confirm, reject, resolve a problem, or link and unlink its tickets."""
    apply = PROBLEM_ACTIONS.get(action)
    if apply is None:
        return problems_page(error=_("unknown action %(action)s", action=repr(action)), status=404)
    service = get_tickets()
    db = get_db()
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        with store_errors():
            notice = apply(service, service.get_problem(problem_id), staff().username, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500:
            raise
        return problems_page(
            error=console_error(exc), form=form | {"problem": str(problem_id)}, status=exc.status
        )
    flash(notice, "notice")
    back = request.form.get("next", "")
    if back.startswith("/console/tickets/"):
        return redirect(back, code=303)
    return redirect(
        url_for("console.problems", view=request.args.get("view", "current")) + f"#problem-{problem_id}",
        code=303,
    )
