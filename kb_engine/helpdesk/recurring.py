"""Recurring incidents per customer: when one customer (same email, phone or browser) opens tickets about
the same thing (embedding similarity, `KB_TICKET_SIMILARITY`) `KB_RECURRING_MIN_TICKETS` times within
`KB_RECURRING_WINDOW_DAYS`, the newest is flagged "recurring for this customer" with links to the earlier
ones (a `recurring` history event), its priority rises one level, and the agent is offered "make it a
problem": a recurring incident for one customer is no longer an incident but a problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from kb_engine.helpdesk import priority as priority_rule
from kb_engine.helpdesk.models import Problem, SearchLog, Ticket, TicketContact
from kb_engine.helpdesk.similarity import Embed, similarities
from kb_engine.helpdesk.tickets import ENGINE, TicketService


@dataclass(frozen=True)
class RecurringRules:
    min_tickets: int = 3
    window: dt.timedelta = dt.timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RecurringRules:
        return cls(
            min_tickets=int(settings["RECURRING_MIN_TICKETS"]),
            window=dt.timedelta(days=int(settings["RECURRING_WINDOW_DAYS"])),
        )


def same_customer(service: TicketService, ticket: Ticket, since: dt.datetime) -> list[Ticket]:
    """The customer's earlier tickets since `since`: same email or phone (on the ticket or a contact), or
    the same browser (the visitor id of the search that led to it), oldest first."""
    session = service.session
    email = (ticket.contact_email or "").strip().lower()
    phone = (ticket.contact_phone or "").strip()
    visitor = (
        session.scalar(select(SearchLog.visitor).where(SearchLog.id == ticket.search_id))
        if ticket.search_id
        else None
    )
    who = []
    if email:
        who.append(func.lower(Ticket.contact_email) == email)
        who.append(
            Ticket.id.in_(select(TicketContact.ticket_id).where(func.lower(TicketContact.email) == email))
        )
    if phone:
        who.append(Ticket.contact_phone == phone)
    if visitor:
        who.append(Ticket.search_id.in_(select(SearchLog.id).where(SearchLog.visitor == visitor)))
    if not who:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(
                or_(*who),
                Ticket.id != ticket.id,
                Ticket.created_at >= since,
                Ticket.created_at <= ticket.created_at,
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )


def flag_recurring(
    service: TicketService, ticket: Ticket, embed: Embed, rules: RecurringRules | None = None
) -> list[Ticket]:
    """Flag `ticket` when its customer reported the same thing often enough; returns the earlier tickets
    (empty: not recurring). Flushes, does not commit."""
    rules = rules or RecurringRules()
    if not ticket.query.strip():
        return []
    earlier = [t for t in same_customer(service, ticket, ticket.created_at - rules.window) if t.query.strip()]
    if len(earlier) + 1 < rules.min_tickets:
        return []
    sims = similarities(embed, ticket.query, [t.query for t in earlier])
    same = [t for t, s in zip(earlier, sims.tolist(), strict=True) if s >= service.rules.similarity]
    if len(same) + 1 < rules.min_tickets:
        return []
    days = rules.window.days
    note = f"recurring for this customer: {len(same) + 1} times in {days} days"
    service._event(ticket, ENGINE, "recurring", note, earlier=[t.reference for t in same], window_days=days)
    level = service.priority_of(ticket).level
    if level > priority_rule.HIGHEST and ticket.status in ("new", "open", "waiting_on_customer"):
        service.set_priority(ticket, ENGINE, level - 1, note)
    service.session.flush()
    return same


def recurring_of(service: TicketService, ticket: Ticket) -> dict[str, Any] | None:
    """The ticket's "recurring for this customer" flag: the note and the earlier tickets' references."""
    flags = [e for e in ticket.events if e.kind == "recurring"]
    if not flags:
        return None
    return {"note": flags[-1].message, "earlier": list(flags[-1].data.get("earlier") or [])}


def make_problem(service: TicketService, ticket: Ticket, actor: str) -> Problem:
    """ "Make it a problem": a proposed problem linking the ticket and the customer's earlier ones."""
    flag = recurring_of(service, ticket)
    if ticket.problem is not None:
        return ticket.problem
    problem = Problem(
        title=" ".join(ticket.query.split())[:120] or ticket.reference or "recurring incident",
        query=ticket.query,
        category=ticket.category,
        status="proposed",
        created_by=actor,
        created_at=service.clock(),
    )
    service.session.add(problem)
    for reference in [*(flag["earlier"] if flag else []), ticket.reference]:
        member = service.surviving(service.get(reference))
        if member.problem is None:
            service.link_problem(member, problem, actor)
    service.session.flush()
    return problem
