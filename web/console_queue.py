"""The console's queue (/console/): the working view of active tickets.

Saved views with counts (everything, mine, unassigned, waiting on the customer, customer replied, past
targets; anonymous misses by topic in their own view: nobody can answer them, they still count and feed
content gaps), filters, requester and last update, a problem's tickets folded into one row, bulk actions
(take, assign, link to a problem, close as duplicate), and a "N new tickets" notice without a reload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select

from kb_engine.errors import InvalidQuery, KBError
from kb_engine.helpdesk.automations import past_targets
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket, TicketEvent, utcnow
from kb_engine.helpdesk.tickets import ACTIVE, STATUSES, TIERS, QueueEntry, TicketService
from kb_engine.helpdesk.users import assignee_for
from web.auth import agent_required, require_tier, staff, staff_required
from web.console import bp
from web.console_labels import PROBLEM_STATUS_LABELS, console_error, label
from web.desk import desk_automations
from web.resources import get_db, get_embed, get_tickets

FILTERS = ("tier", "team", "status", "category", "lang", "assignee", "view", "fold")
VIEW_NAMES = {
    "all": _l("Working queue"),
    "mine": _l("Mine"),
    "unassigned": _l("Unassigned"),
    "waiting": _l("Waiting on customer"),
    "replied": _l("Customer replied"),
    "past": _l("Past targets"),
    "misses": _l("Anonymous misses"),
}


def replied(tickets: list[Ticket]) -> set[int]:
    """Tickets whose customer wrote last (their reply came after support's last message)."""
    if not tickets:
        return set()
    rows = get_db().execute(
        select(TicketEvent.ticket_id, TicketEvent.kind, func.max(TicketEvent.at))
        .where(
            TicketEvent.ticket_id.in_([t.id for t in tickets]),
            TicketEvent.kind.in_(("customer_reply", "asked_customer", "message", "resolved")),
        )
        .group_by(TicketEvent.ticket_id, TicketEvent.kind)
    )
    last: dict[int, dict[str, dt.datetime]] = {}
    for ticket_id, kind, at in rows:
        last.setdefault(ticket_id, {})[kind] = at
    out = set()
    for ticket_id, kinds in last.items():
        reply = kinds.get("customer_reply")
        ours = max((at for k, at in kinds.items() if k != "customer_reply"), default=None)
        if reply is not None and (ours is None or reply > ours):
            out.add(ticket_id)
    return out


def _views(me: str, now: dt.datetime, replied_ids: set[int]) -> dict[str, Callable[[QueueEntry], bool]]:
    return {
        "all": lambda e: e.kind == "ticket" and not _anonymous(e),
        "mine": lambda e: e.lead.assignee == me,
        "unassigned": lambda e: e.lead.assignee is None and not _anonymous(e),
        "waiting": lambda e: e.lead.status == "waiting_on_customer",
        "replied": lambda e: e.lead.id in replied_ids and e.lead.status != "waiting_on_customer",
        "past": lambda e: not _anonymous(e) and bool(past_targets(get_tickets(), e.lead, desk_automations())),
        "misses": _anonymous,
    }


def _anonymous(entry: QueueEntry) -> bool:
    return entry.kind == "group" or get_tickets()._anonymous_miss(entry.lead)


def _fold(entries: list[QueueEntry]) -> list[QueueEntry]:
    """One row per problem: its highest-priority ticket leads, the others ride along."""
    out: list[QueueEntry] = []
    by_problem: dict[int, QueueEntry] = {}
    for entry in entries:
        problem = entry.lead.problem_id
        if problem is None or entry.kind != "ticket":
            out.append(entry)
        elif problem in by_problem:
            by_problem[problem].tickets.append(entry.lead)
        else:
            folded = QueueEntry("problem", entry.priority, [entry.lead])
            by_problem[problem] = folded
            out.append(folded)
    return out


@bp.get("/")
@staff_required
def queue():
    """The queue: saved views with counts, filters, bulk actions; anonymous misses in their own view."""
    args = {k: request.args.get(k, "").strip() for k in FILTERS}
    view = args["view"] if args["view"] in VIEW_NAMES else "all"
    user = staff()
    service = get_tickets()
    now = service.clock()
    statuses = (args["status"],) if args["status"] in STATUSES else ACTIVE
    entries = service.queue(
        get_embed(), statuses=statuses, tier=args["tier"] if args["tier"] in TIERS else None
    )
    if args["category"]:
        entries = [e for e in entries if e.lead.category == args["category"]]
    if args["team"]:
        entries = [e for e in entries if (e.lead.team or "—") == args["team"]]
    if args["lang"]:
        entries = [e for e in entries if e.lead.lang == args["lang"]]
    assignee = user.username if args["assignee"] == "me" else args["assignee"]
    if assignee == "none":
        entries = [e for e in entries if e.lead.assignee is None]
    elif assignee:
        entries = [e for e in entries if e.lead.assignee == assignee]
    replied_ids = replied([e.lead for e in entries])
    views = _views(user.username, now, replied_ids)
    counts = {name: sum(1 for e in entries if test(e)) for name, test in views.items()}
    shown = [e for e in entries if views[view](e)]
    if args["fold"] and view != "misses":
        shown = _fold(shown)
    categories = sorted(c for c in get_db().scalars(select(Ticket.category).distinct()) if c)
    return render_template(
        "console/queue.html",
        entries=shown,
        args=args,
        view=view,
        view_names=VIEW_NAMES,
        counts=counts,
        replied_ids=replied_ids,
        now=now,
        loaded_at=now.isoformat(timespec="seconds"),
        tiers=TIERS,
        statuses=STATUSES,
        categories=categories,
        languages=current_app.config["LANGUAGES"],
        problems=service.problems(("proposed", "open")),
        bulk_url=url_for("console.bulk", **{k: v for k, v in args.items() if v}),
        user=user,
    )


@bp.get("/queue/new")
@staff_required
def queue_new():
    """How many tickets arrived since `since` (ISO time): the queue's "N new tickets" notice."""
    try:
        since = dt.datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        raise InvalidQuery("since is an ISO date and time") from None
    count = get_db().scalar(
        select(func.count(Ticket.id)).where(
            Ticket.created_at > since.replace(tzinfo=None), Ticket.merged_into_id.is_(None)
        )
    )
    return jsonify({"new": int(count or 0), "at": utcnow().isoformat(timespec="seconds")})


def _bulk(service: TicketService, tickets: list[Ticket], actor: str, form: dict[str, Any]) -> str:
    what = form.get("bulk")
    if what == "take":
        for t in tickets:
            service.take(t, actor)
        return ngettext("%(num)d ticket is yours", "%(num)d tickets are yours", len(tickets))
    if what == "assign":
        for t in tickets:
            service.assign(t, actor, assignee_for(service.session, form.get("assignee", ""), t.tier))
        return ngettext(
            "%(num)d ticket assigned to %(who)s",
            "%(num)d tickets assigned to %(who)s",
            len(tickets),
            who=form.get("assignee") or _("nobody"),
        )
    if what == "link":
        try:
            problem = service.get_problem(int(form.get("problem") or 0))
        except ValueError:
            raise InvalidQuery(_("Choose a problem.")) from None
        if problem.status not in ("proposed", "open"):
            raise InvalidQuery(
                _(
                    "Problem #%(id)s is %(status)s.",
                    id=problem.id,
                    status=label(PROBLEM_STATUS_LABELS, problem.status),
                )
            )
        for t in tickets:
            service.link_problem(t, problem, actor)
        return ngettext(
            "%(num)d ticket linked to problem #%(id)s",
            "%(num)d tickets linked to problem #%(id)s",
            len(tickets),
            id=problem.id,
        )
    if what == "duplicate":
        original = service.get(form.get("original", ""))
        require_tier(original.tier)
        for t in tickets:
            if t.id != original.id:
                service.merge(original, t, actor, f"duplicate of {original.reference}")
        return ngettext(
            "%(num)d ticket closed as a duplicate of %(ref)s",
            "%(num)d tickets closed as duplicates of %(ref)s",
            len(tickets),
            ref=original.reference,
        )
    raise InvalidQuery(_("Choose what to do with the selected tickets."))


@bp.post("/queue/bulk")
@agent_required
def bulk():
    """Take, assign, link to a problem, or close as duplicates (merged into the original) several tickets."""
    service = get_tickets()
    db = get_db()
    references = sorted({r.strip().upper() for r in request.form.getlist("refs") if r.strip()})
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "refs")}
    back = url_for("console.queue", **{k: v for k, v in request.args.items() if k in FILTERS})
    try:
        if not references:
            raise InvalidQuery(_("Select at least one ticket."))
        tickets = [service.get(r) for r in references]
        for t in tickets:
            require_tier(t.tier)
        with store_errors():
            notice = _bulk(service, tickets, staff().username, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500 or exc.status == 403:
            raise
        flash(console_error(exc), "error")
        return redirect(back, code=303)
    flash(notice, "notice")
    return redirect(back, code=303)
