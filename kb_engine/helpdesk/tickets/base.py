"""What every part of the ticket service stands on: the session, routing, clock and rules; the history;
reading tickets (merged ones through their survivor); priorities.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.content.canned import fill
from kb_engine.errors import InvalidTransition, NotFound
from kb_engine.helpdesk import priority as priority_rule
from kb_engine.helpdesk.models import Ticket, TicketEvent, utcnow
from kb_engine.helpdesk.notifications import Notifier
from kb_engine.helpdesk.routing import Routing, routing_for
from kb_engine.helpdesk.tickets.rules import (
    CUSTOMER_TEXT,
    SHARED_KINDS,
    IncidentRules,
    status_label,
)
from kb_engine.helpdesk.triage import TriageModel, model_for

# What `secrets.token_urlsafe` and `reference_for` produce (with room to spare): anything else is not ours.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
REFERENCE_RE = re.compile(r"KB-[0-9]{1,12}")


class TicketBase:
    """The session, routing, clock and incident rules every part works with (see `TicketService`)."""

    def __init__(
        self,
        session: Session,
        *,
        routing: Routing | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rules: IncidentRules | None = None,
        notifier: Notifier | None = None,
        triage: TriageModel | None = None,
    ) -> None:
        self.session = session
        self.routing = routing or Routing()
        self.clock = clock
        self.rules = rules or IncidentRules()
        self.notifier = notifier or Notifier()
        self.triage = triage
        self._quiet: set[str] = set()

    @classmethod
    def from_settings(cls, session: Session, settings: Mapping[str, Any]) -> Self:
        """A service routed by the articles folder's routing.yml, with the settings' incident rules."""
        return cls(
            session,
            routing=routing_for(Path(settings["ARTICLES_DIR"])),
            rules=IncidentRules(
                similarity=float(settings["TICKET_SIMILARITY"]),
                window=dt.timedelta(minutes=int(settings["PROBLEM_WINDOW_MINUTES"])),
                min_tickets=int(settings["PROBLEM_MIN_TICKETS"]),
            ),
            notifier=Notifier.from_settings(settings),
            triage=model_for(Path(settings["INSTANCE_DIR"]), float(settings["TRIAGE_THRESHOLD"])),
        )

    def _rules(
        self, window: dt.timedelta | None, min_tickets: int | None, threshold: float | None
    ) -> tuple[dt.timedelta, int, float]:
        rules = self.rules
        return (
            rules.window if window is None else window,
            rules.min_tickets if min_tickets is None else min_tickets,
            rules.similarity if threshold is None else threshold,
        )

    # -- history ---------------------------------------------------------------------------------------
    def _event(
        self, ticket: Ticket, actor: str, kind: str, message: str | None = None, **data: Any
    ) -> TicketEvent:
        event = TicketEvent(
            ticket=ticket, actor=actor or "unknown", kind=kind, message=message, data=data, at=self.clock()
        )
        self.session.add(event)
        ticket.updated_at = event.at
        return event

    # -- telling people (outbox rows, in the caller's transaction) -------------------------------------
    def _tell(self, ticket: Ticket, kind: str, event: TicketEvent | None = None, **context: Any) -> None:
        """Queue message `kind` for the ticket's customers (kb_engine.helpdesk.notifications)."""
        if kind in self._quiet:
            return
        self.session.flush()  # the event's id names the message (one per event and customer)
        self.notifier.tell_customers(self.session, ticket, kind, now=self.clock(), event=event, **context)

    def _alert(
        self, ticket: Ticket, kind: str, team: str | None, event: TicketEvent | None = None, **context: Any
    ) -> None:
        """Queue staff message `kind` to the team's address in the routing file (none: nothing)."""
        address = self.routing.team_address(team)
        if address:
            self.session.flush()
            self.notifier.tell_team(
                self.session, ticket, kind, address, now=self.clock(), event=event, **context
            )

    @contextmanager
    def _quietly(self, *kinds: str) -> Iterator[None]:
        """Tell nobody about `kinds` inside the block (another message already says it)."""
        before = set(self._quiet)
        self._quiet.update(kinds)
        try:
            yield
        finally:
            self._quiet = before

    def _require(self, ticket: Ticket, action: str, allowed: Iterable[str]) -> None:
        if ticket.merged_into_id is not None:
            survivor = self.session.get(Ticket, ticket.merged_into_id)
            into = survivor.reference if survivor else "another ticket"
            raise InvalidTransition(f"cannot {action} {ticket.reference}: it was merged into {into}")
        if ticket.status not in allowed:
            raise InvalidTransition(
                f"cannot {action} {ticket.reference}: it is {status_label(ticket.status)}"
                + (" (a closed ticket never changes again)" if ticket.status == "closed" else "")
            )

    def _responded(self, ticket: Ticket) -> None:
        if ticket.first_response_at is None:
            ticket.first_response_at = self.clock()

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, reference: str) -> Ticket:
        ticket = self.session.scalar(select(Ticket).where(Ticket.reference == reference.strip().upper()))
        if ticket is None:
            raise NotFound(f"no ticket {reference!r}")
        return ticket

    def get_for_customer(self, reference: str, token: str) -> Ticket:
        """The ticket if the token matches (constant-time compare); NotFound otherwise, whichever is wrong.

        A token or reference outside their alphabets (URL-safe base64; `KB-` and digits), whatever its
        characters, is the same NotFound as a wrong one: nothing tells a caller which part was wrong.
        """
        well_formed = bool(TOKEN_RE.fullmatch(token or "")) and bool(REFERENCE_RE.fullmatch(reference or ""))
        ticket = (
            self.session.scalar(select(Ticket).where(Ticket.reference == reference)) if well_formed else None
        )
        given = (token or "").encode("utf-8", "replace")
        if ticket is None or not secrets.compare_digest(ticket.token.encode(), given):
            raise NotFound("no such ticket, or the link is not valid")
        return ticket

    def surviving(self, ticket: Ticket) -> Ticket:
        """The ticket that carries on this one's work: itself, or the ticket it was merged into."""
        seen = {ticket.id}
        while ticket.merged_into_id is not None:
            survivor = self.session.get(Ticket, ticket.merged_into_id)
            if survivor is None or survivor.id in seen:
                break
            seen.add(survivor.id)
            ticket = survivor
        return ticket

    def merged_tickets(self, ticket: Ticket) -> list[Ticket]:
        return list(
            self.session.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id))
        )

    def customers(self, ticket: Ticket) -> list[tuple[str, str]]:
        """(reference, who) of each customer a message on this ticket can reach: its own, then those of
        the tickets merged into it; `who` is a name, an email, a phone number or the reference."""
        return [(str(t.reference), self.customer_label(t)) for t in (ticket, *self.merged_tickets(ticket))]

    def customer_label(self, ticket: Ticket) -> str:
        return str(
            self.customer_name(ticket) or ticket.contact_email or ticket.contact_phone or ticket.reference
        )

    def customer_name(self, ticket: Ticket) -> str | None:
        """The name the customer of `ticket` gave (the ticket's own, or a contact that came from it)."""
        if ticket.contact_name:
            return ticket.contact_name
        for contact in self.surviving(ticket).contacts:  # contacts move to the survivor on a merge
            if contact.name and contact.origin_reference == ticket.reference:
                return contact.name
        return None

    def history(self, ticket: Ticket) -> list[TicketEvent]:
        """Every event of the ticket and of the tickets merged into it, oldest first (for agents).

        A merge is told once: the survivor's "merged" event; the merged ticket's own "merged_into" line
        (the same fact seen from the other side) stays in that ticket's history only.
        """
        ids = [ticket.id, *(t.id for t in self.merged_tickets(ticket))]
        return [
            e
            for e in self.session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id.in_(ids))
                .order_by(TicketEvent.at, TicketEvent.id)
            )
            if e.ticket_id == ticket.id or e.kind != "merged_into"
        ]

    @staticmethod
    def reachable(ticket: Ticket) -> bool:
        """Whether the ticket has a contact a message to the customer can reach."""
        return bool(ticket.contacts or ticket.contact_email or ticket.contact_phone)

    def customer_history(self, ticket: Ticket) -> list[dict[str, Any]]:
        """What the customer of `ticket` may see: no internal notes, nothing about other customers.

        Returns:
            Dicts with `at`, `kind`, `text` (English), and `message` and `data` (for a translated text),
            oldest first. After a merge, the surviving ticket's progress is included (its status changes
            and questions from support).
        """
        events = [e for e in ticket.events if self._visible_to(e, ticket.reference)]
        survivor = self.surviving(ticket)
        if survivor.id != ticket.id:
            merged_at = max(
                (e.at for e in ticket.events if e.kind == "merged_into"), default=ticket.created_at
            )
            events += [
                e
                for e in survivor.events
                if e.at >= merged_at
                and (e.kind in SHARED_KINDS or e.data.get("customer") == ticket.reference)
                and self._visible_to(e, ticket.reference)
            ]
        events.sort(key=lambda e: (e.at, e.id))
        # Placeholders an agent left in a message to several customers: filled for this one.
        mine = {"customer_name": self.customer_name(ticket), "reference": ticket.reference}
        history = []
        for e in events:
            to_customer = e.kind in ("asked_customer", "message")
            message = fill(e.message, mine) if e.message and to_customer else e.message
            text = CUSTOMER_TEXT[e.kind](e)
            if to_customer:
                text = ("Support asked: " if e.kind == "asked_customer" else "Support wrote: ") + str(message)
            history.append({"at": e.at, "kind": e.kind, "text": text, "message": message, "data": e.data})
        return history

    @staticmethod
    def _visible_to(event: TicketEvent, reference: str | None) -> bool:
        if event.kind not in CUSTOMER_TEXT:
            return False
        customer = (event.data or {}).get("customer")
        return customer is None or customer == reference

    # -- priority --------------------------------------------------------------------------------------
    def priority_of(
        self, ticket: Ticket, now: dt.datetime | None = None, *, rule_only: bool = False
    ) -> priority_rule.Priority:
        """The ticket's priority now: the agent's override, else the rule of `kb_engine.helpdesk.priority`."""
        contacts = ticket.contacts
        return priority_rule.compute_priority(
            texts=(ticket.query, ticket.details),
            created_at=ticket.created_at,
            now=now or self.clock(),
            availability=ticket.availability,
            reachable=self.reachable(ticket),
            customers=max(1, len(contacts)),
            override=None if rule_only else ticket.priority_override,
        )

    def _refresh_priority(self, ticket: Ticket) -> None:
        """Store the severity and the rule's priority as of now (the queue recomputes with its own clock)."""
        ticket.severity = float(priority_rule.severity(ticket.query, ticket.details).score)
        ticket.priority = self.priority_of(ticket, rule_only=True).level
