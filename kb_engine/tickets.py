"""The ticket service: the one place where tickets are created and changed.

The web app, the JSON API and the CLI all go through `TicketService`; every change appends a
`TicketEvent` (the history is never edited). Reference numbers come from the database's own
auto-increment id, so concurrent processes can neither lose nor duplicate one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, NotFound
from kb_engine.models import Ticket, TicketContact, TicketEvent, utcnow

SOURCES = ("search_miss", "not_helpful", "contact_form", "agent", "api", "email")
STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
TIERS = ("L1", "L2", "L3", "L4")
REFERENCE_PREFIX = "KB-"

# Field limits, enforced here so every entry point (form, API, CLI, email) gets the same clear error.
LIMITS = {
    "query": 2000,
    "contact_name": 200,
    "contact_email": 320,
    "contact_phone": 40,
    "availability": 200,
    "details": 10000,
    "message": 10000,
}


def reference_for(ticket_id: int) -> str:
    return f"{REFERENCE_PREFIX}{ticket_id:06d}"


def _check_length(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    limit = LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise InvalidQuery(f"{field.replace('_', ' ')} is {len(value)} characters long; the limit is {limit}")
    return value or None


class TicketService:
    """Creates and changes tickets inside the caller's session (the caller commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _event(self, ticket: Ticket, actor: str, kind: str, message: str | None = None, **data: Any) -> None:
        self.session.add(TicketEvent(ticket=ticket, actor=actor, kind=kind, message=message, data=data))

    def create(
        self,
        *,
        source: str,
        query: str,
        lang: str | None = None,
        shown: Sequence[dict[str, Any]] = (),
        category: str | None = None,
        actor: str = "customer",
        search_id: int | None = None,
        contact_name: str | None = None,
        contact_email: str | None = None,
        contact_phone: str | None = None,
        availability: str | None = None,
        details: str | None = None,
    ) -> Ticket:
        """Open a ticket; returns it with its reference and customer token set (flushed, not committed)."""
        if source not in SOURCES:
            raise InvalidQuery(f"unknown ticket source {source!r}")
        ticket = Ticket(
            token=secrets.token_urlsafe(24),
            source=source,
            status="new",
            tier="L1",
            query=_check_length("query", query) or "",
            lang=lang,
            shown=[
                {"id": h["id"], "title": h.get("title", ""), "score": round(float(h.get("score", 0.0)), 4)}
                for h in shown
            ],
            category=category,
            search_id=search_id,
            contact_name=_check_length("contact_name", contact_name),
            contact_email=_check_length("contact_email", contact_email),
            contact_phone=_check_length("contact_phone", contact_phone),
            availability=_check_length("availability", availability),
            details=_check_length("details", details),
        )
        self.session.add(ticket)
        self.session.flush()
        ticket.reference = reference_for(ticket.id)
        self._event(ticket, actor, "created", source=source, shown=[h["id"] for h in ticket.shown])
        if ticket.contact_email or ticket.contact_name or ticket.contact_phone:
            self._add_contact(ticket)
        self.session.flush()
        return ticket

    def _add_contact(self, ticket: Ticket) -> None:
        self.session.add(
            TicketContact(
                ticket=ticket,
                name=ticket.contact_name,
                email=ticket.contact_email,
                phone=ticket.contact_phone,
                availability=ticket.availability,
                origin_reference=ticket.reference,
            )
        )

    def get(self, reference: str) -> Ticket:
        ticket = self.session.scalar(select(Ticket).where(Ticket.reference == reference))
        if ticket is None:
            raise NotFound(f"no ticket {reference!r}")
        return ticket

    def get_for_customer(self, reference: str, token: str) -> Ticket:
        """The ticket if the token matches (constant-time compare); NotFound otherwise, whichever is wrong."""
        ticket = self.session.scalar(select(Ticket).where(Ticket.reference == reference))
        if ticket is None or not secrets.compare_digest(ticket.token, token or ""):
            raise NotFound("no such ticket, or the link is not valid")
        return ticket

    def add_contact_details(
        self,
        ticket: Ticket,
        *,
        name: str | None,
        email: str | None,
        phone: str | None = None,
        availability: str | None = None,
        details: str | None = None,
    ) -> Ticket:
        """The customer completes a miss ticket with who they are and more detail ("Still need help?")."""
        ticket.contact_name = _check_length("contact_name", name) or ticket.contact_name
        ticket.contact_email = _check_length("contact_email", email) or ticket.contact_email
        ticket.contact_phone = _check_length("contact_phone", phone) or ticket.contact_phone
        ticket.availability = _check_length("availability", availability) or ticket.availability
        extra = _check_length("details", details)
        if extra:
            ticket.details = f"{ticket.details}\n\n{extra}" if ticket.details else extra
        ticket.updated_at = utcnow()
        self._add_contact(ticket)
        self._event(ticket, "customer", "contact_added", details=bool(extra))
        self.session.flush()
        return ticket
