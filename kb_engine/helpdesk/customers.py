"""What support already knows about a ticket's customer: their earlier tickets and searches.

A customer is recognised by the email addresses and phone numbers of the ticket's contacts, and by the
anonymous visitor id of the searches that opened their tickets (the same browser).
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import SearchLog, Ticket, TicketContact


def _visitors(session: Session, tickets: list[Ticket]) -> set[str]:
    ids = [t.search_id for t in tickets if t.search_id is not None]
    if not ids:
        return set()
    return {v for v in session.scalars(select(SearchLog.visitor).where(SearchLog.id.in_(ids))) if v}


def earlier_tickets(session: Session, ticket: Ticket, *, limit: int = 20) -> list[Ticket]:
    """Other tickets of the same customer(s), newest first (tickets merged into this one excluded)."""
    emails = {e.lower() for e in [ticket.contact_email, *(c.email for c in ticket.contacts)] if e}
    phones = {p for p in [ticket.contact_phone, *(c.phone for c in ticket.contacts)] if p}
    visitors = _visitors(session, [ticket])
    conditions = []
    if emails:
        conditions.append(func.lower(Ticket.contact_email).in_(emails))
        conditions.append(
            Ticket.id.in_(select(TicketContact.ticket_id).where(func.lower(TicketContact.email).in_(emails)))
        )
    if phones:
        conditions.append(Ticket.contact_phone.in_(phones))
        conditions.append(
            Ticket.id.in_(select(TicketContact.ticket_id).where(TicketContact.phone.in_(phones)))
        )
    if visitors:
        conditions.append(Ticket.search_id.in_(select(SearchLog.id).where(SearchLog.visitor.in_(visitors))))
    if not conditions:
        return []
    stmt = (
        select(Ticket)
        .where(or_(*conditions), Ticket.id != ticket.id)
        .where(or_(Ticket.merged_into_id.is_(None), Ticket.merged_into_id != ticket.id))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def earlier_searches(session: Session, ticket: Ticket, *, limit: int = 30) -> list[SearchLog]:
    """The searches of the customer's browser(s) (this ticket's and their earlier tickets'), newest first."""
    visitors = _visitors(session, [ticket, *earlier_tickets(session, ticket)])
    if not visitors:
        return []
    stmt = (
        select(SearchLog)
        .where(SearchLog.visitor.in_(visitors))
        .order_by(SearchLog.at.desc(), SearchLog.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
