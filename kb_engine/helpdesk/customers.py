"""What support already knows about a ticket's customer: their earlier tickets and searches.

A customer is recognised by the email addresses and phone numbers of the ticket's contacts, and by the
anonymous visitor id of the searches that opened their tickets (the same browser).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import SearchLog, Ticket, TicketContact


def _visitors(session: Session, tickets: list[Ticket]) -> set[str]:
    ids = [t.search_id for t in tickets if t.search_id is not None]
    if not ids:
        return set()
    return {v for v in session.scalars(select(SearchLog.visitor).where(SearchLog.id.in_(ids))) if v}


def _contact_conditions(emails: set[str], phones: set[str]) -> list[Any]:
    conditions: list[Any] = []
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
    return conditions


def callers_tickets(
    session: Session, *, email: str | None = None, phone: str | None = None, limit: int = 20
) -> list[Ticket]:
    """The tickets of a caller known by email address and/or phone number, newest first (phone intake)."""
    emails = {email.strip().lower()} if email and email.strip() else set()
    phones = {phone.strip()} if phone and phone.strip() else set()
    conditions = _contact_conditions(emails, phones)
    if not conditions:
        return []
    stmt = select(Ticket).where(or_(*conditions)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def earlier_tickets(session: Session, ticket: Ticket, *, limit: int = 20) -> list[Ticket]:
    """Other tickets of the same customer(s), newest first (tickets merged into this one excluded)."""
    emails = {e.lower() for e in [ticket.contact_email, *(c.email for c in ticket.contacts)] if e}
    phones = {p for p in [ticket.contact_phone, *(c.phone for c in ticket.contacts)] if p}
    visitors = _visitors(session, [ticket])
    conditions = _contact_conditions(emails, phones)
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
