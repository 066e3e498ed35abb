"""The ticket service: the one place where tickets are created and changed.

The web app, the JSON API and the CLI all go through `TicketService`; every change appends a
`TicketEvent` (the history is never edited: the ORM and database triggers refuse it). Reference numbers
come from the database's own auto-increment id, so concurrent processes can neither lose nor duplicate one.

Lifecycle (anything else raises `InvalidTransition`)::

    new ──take / assign──▶ open ◀──customer_reply── waiting_on_customer
                            └──────ask_customer──────────▲
    new, open, waiting ──resolve (article or fix)──▶ resolved ──close──▶ closed
                  open ◀──reopen / customer_reply── resolved
    any status but closed ──close──▶ closed   (final: nothing changes it again but internal notes)

    escalate: L1 → L2 → L3 → L4 (outside vendor: vendor and vendor's reference required), with a reason,
      while new, open or waiting; the escalation packet goes into the history.
    merge: the merged ticket is closed (merged_into set); its contacts move to the survivor, its history
      stays readable from the survivor, and its customer's replies reach the survivor.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb_engine import priority as priority_rule
from kb_engine.errors import InvalidQuery, InvalidTransition, NotFound
from kb_engine.models import Problem, Ticket, TicketContact, TicketEvent, utcnow
from kb_engine.routing import Routing, routing_for
from kb_engine.similarity import SAME_THING, Embed, embed_texts, leader_groups, normalise, similarities

SOURCES = ("search_miss", "not_helpful", "contact_form", "agent", "api", "email")
MISS_SOURCES = ("search_miss", "not_helpful")
STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
ACTIVE = ("new", "open", "waiting_on_customer")
TIERS = ("L1", "L2", "L3", "L4")
VENDOR_TIER = "L4"
PROBLEM_STATUSES = ("proposed", "open", "resolved", "rejected")
REFERENCE_PREFIX = "KB-"
CUSTOMER = "customer"
ENGINE = "engine"

# A problem is proposed when this many tickets about the same thing arrive within this window.
PROBLEM_MIN_TICKETS = 3
PROBLEM_WINDOW = dt.timedelta(hours=2)

# Field limits, enforced here so every entry point (form, API, CLI, email) gets the same clear error.
LIMITS = {
    "query": 2000,
    "contact_name": 200,
    "contact_email": 320,
    "contact_phone": 40,
    "availability": 200,
    "details": 10000,
    "message": 10000,
    "reason": 2000,
    "article": 120,
    "team": 80,
    "assignee": 80,
    "vendor": 120,
    "vendor_ref": 120,
    "title": 200,
    "banner": 500,
}

# What a customer sees of the history on their status page; every other kind is internal.
CUSTOMER_TEXT: dict[str, Callable[[TicketEvent], str]] = {
    "created": lambda e: "We received your request.",
    "contact_added": lambda e: "You left your contact details.",
    "asked_customer": lambda e: f"Support asked: {e.message}",
    "customer_reply": lambda e: f"You replied: {e.message}",
    "escalated": lambda e: "Your request was passed to a specialist team.",
    "resolved": lambda e: "Resolved." + (f" {e.message}" if e.message else ""),
    "reopened": lambda e: "Reopened.",
    "closed": lambda e: "Closed.",
    "merged_into": lambda e: f"Joined with request {e.data.get('into')} about the same problem.",
    "problem_confirmed": lambda e: "This is a known issue; we are working on it.",
    "problem_resolved": lambda e: "The known issue behind your request has been fixed.",
}
# Kinds a merged ticket's customer also sees from the surviving ticket (nothing about other customers).
SHARED_KINDS = frozenset(
    ("asked_customer", "escalated", "resolved", "reopened", "closed", "problem_confirmed", "problem_resolved")
)


def reference_for(ticket_id: int) -> str:
    return f"{REFERENCE_PREFIX}{ticket_id:06d}"


def _check_length(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    limit = LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise InvalidQuery(
            f"{field.replace('_', ' ')} is {len(value)} characters long; the limit is {limit}",
            key="too_long",
            field=field,
            length=len(value),
            limit=limit,
        )
    return value or None


def _required(field: str, value: str | None) -> str:
    checked = _check_length(field, value)
    if not checked:
        raise InvalidQuery(f"give a {field.replace('_', ' ')}", key="required", field=field)
    return checked


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def status_label(status: str) -> str:
    return status.replace("_", " ")


@dataclass
class QueueEntry:
    """One line of the agents' queue: a ticket, or anonymous misses about the same thing grouped."""

    kind: str  # "ticket" | "group"
    priority: priority_rule.Priority
    tickets: list[Ticket]

    @property
    def lead(self) -> Ticket:
        return self.tickets[0]

    @property
    def customers(self) -> int:
        if self.kind == "group":
            return len(self.tickets)
        return max(1, len(self.lead.contacts))

    @property
    def oldest(self) -> dt.datetime:
        return min(t.created_at for t in self.tickets)

    @property
    def label(self) -> str:
        if self.kind == "group":
            return f"{len(self.tickets)} customers searched for “{self.lead.query}”"
        return self.lead.query

    def to_dict(self) -> dict[str, Any]:
        lead = self.lead
        return {
            "kind": self.kind,
            "reference": lead.reference,
            "references": [t.reference for t in self.tickets],
            "label": self.label,
            "query": lead.query,
            "customers": self.customers,
            "priority": self.priority.level,
            "priority_reasons": list(self.priority.reasons),
            "priority_overridden": self.priority.overridden,
            "due_at": _iso(self.priority.due_at),
            "status": lead.status,
            "tier": lead.tier,
            "team": lead.team,
            "assignee": lead.assignee,
            "category": lead.category,
            "oldest": _iso(self.oldest),
        }


@dataclass(frozen=True)
class IncidentRules:
    """Tickets at least `similarity` alike (cosine of their embedded texts) are about the same thing;
    `min_tickets` of them within `window` make a proposed problem."""

    similarity: float = SAME_THING
    window: dt.timedelta = PROBLEM_WINDOW
    min_tickets: int = PROBLEM_MIN_TICKETS


class TicketService:
    """Creates and changes tickets inside the caller's session (the caller commits).

    Args:
        session: the SQLAlchemy session to work in.
        routing: category → tier and team for new tickets and escalations (default: all L1, no team).
        clock: the time source (naive UTC), so tests can age tickets.
        rules: when tickets are about the same thing, and when they make a problem (default: the
            constants above; `from_settings` takes the `KB_TICKET_SIMILARITY`, `KB_PROBLEM_*` settings).
    """

    def __init__(
        self,
        session: Session,
        *,
        routing: Routing | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rules: IncidentRules | None = None,
    ) -> None:
        self.session = session
        self.routing = routing or Routing()
        self.clock = clock
        self.rules = rules or IncidentRules()

    @classmethod
    def from_settings(cls, session: Session, settings: Mapping[str, Any]) -> TicketService:
        """A service routed by the articles folder's routing.yml, with the settings' incident rules."""
        return cls(
            session,
            routing=routing_for(Path(settings["ARTICLES_DIR"])),
            rules=IncidentRules(
                similarity=float(settings["TICKET_SIMILARITY"]),
                window=dt.timedelta(minutes=int(settings["PROBLEM_WINDOW_MINUTES"])),
                min_tickets=int(settings["PROBLEM_MIN_TICKETS"]),
            ),
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

    # -- creation --------------------------------------------------------------------------------------
    def create(
        self,
        *,
        source: str,
        query: str,
        lang: str | None = None,
        shown: Sequence[dict[str, Any]] = (),
        category: str | None = None,
        actor: str = CUSTOMER,
        search_id: int | None = None,
        contact_name: str | None = None,
        contact_email: str | None = None,
        contact_phone: str | None = None,
        availability: str | None = None,
        details: str | None = None,
    ) -> Ticket:
        """Open a ticket routed by its category; returns it with its reference and customer token set.

        The ticket is flushed, not committed. Tier and team come from the routing file, priority from
        `kb_engine.priority`.
        """
        if source not in SOURCES:
            raise InvalidQuery(f"unknown ticket source {source!r}")
        route = self.routing.route(category)
        now = self.clock()
        ticket = Ticket(
            token=secrets.token_urlsafe(24),
            source=source,
            status="new",
            tier=route.tier,
            team=route.team,
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
            created_at=now,
            updated_at=now,
        )
        self.session.add(ticket)
        self.session.flush()
        ticket.reference = reference_for(ticket.id)
        self._event(
            ticket,
            actor,
            "created",
            source=source,
            shown=[h["id"] for h in ticket.shown],
            tier=ticket.tier,
            team=ticket.team,
        )
        if ticket.contact_email or ticket.contact_name or ticket.contact_phone:
            self._add_contact(ticket)
        self._refresh_priority(ticket)
        self.session.flush()
        return ticket

    def _add_contact(self, ticket: Ticket) -> None:
        contact = TicketContact(
            name=ticket.contact_name,
            email=ticket.contact_email,
            phone=ticket.contact_phone,
            availability=ticket.availability,
            origin_reference=ticket.reference,
            created_at=self.clock(),
        )
        ticket.contacts.append(contact)
        self.session.add(contact)

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
        self._require(ticket, "add contact details to", ACTIVE + ("resolved",))
        ticket.contact_name = _check_length("contact_name", name) or ticket.contact_name
        ticket.contact_email = _check_length("contact_email", email) or ticket.contact_email
        ticket.contact_phone = _check_length("contact_phone", phone) or ticket.contact_phone
        ticket.availability = _check_length("availability", availability) or ticket.availability
        extra = _check_length("details", details)
        if extra:
            ticket.details = f"{ticket.details}\n\n{extra}" if ticket.details else extra
        self._add_contact(ticket)
        self._event(ticket, CUSTOMER, "contact_added", details=bool(extra), customer=ticket.reference)
        self._refresh_priority(ticket)
        self.session.flush()
        return ticket

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, reference: str) -> Ticket:
        ticket = self.session.scalar(select(Ticket).where(Ticket.reference == reference.strip().upper()))
        if ticket is None:
            raise NotFound(f"no ticket {reference!r}")
        return ticket

    def get_for_customer(self, reference: str, token: str) -> Ticket:
        """The ticket if the token matches (constant-time compare); NotFound otherwise, whichever is wrong."""
        ticket = self.session.scalar(select(Ticket).where(Ticket.reference == reference))
        if ticket is None or not secrets.compare_digest(ticket.token, token or ""):
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

    def history(self, ticket: Ticket) -> list[TicketEvent]:
        """Every event of the ticket and of the tickets merged into it, oldest first (for agents)."""
        ids = [ticket.id, *(t.id for t in self.merged_tickets(ticket))]
        return list(
            self.session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id.in_(ids))
                .order_by(TicketEvent.at, TicketEvent.id)
            )
        )

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
        return [
            {
                "at": e.at,
                "kind": e.kind,
                "text": CUSTOMER_TEXT[e.kind](e),
                "message": e.message,
                "data": e.data,
            }
            for e in events
        ]

    @staticmethod
    def _visible_to(event: TicketEvent, reference: str | None) -> bool:
        if event.kind not in CUSTOMER_TEXT:
            return False
        customer = (event.data or {}).get("customer")
        return customer is None or customer == reference

    # -- lifecycle -------------------------------------------------------------------------------------
    def take(self, ticket: Ticket, actor: str) -> Ticket:
        """The agent takes the ticket: assigned to them, status open."""
        return self.assign(ticket, actor, actor)

    def assign(self, ticket: Ticket, actor: str, assignee: str) -> Ticket:
        """Assign to an agent (a new ticket becomes open)."""
        self._require(ticket, "assign", ACTIVE)
        assignee = _required("assignee", assignee)
        previous = ticket.assignee
        ticket.assignee = assignee
        if ticket.status == "new":
            ticket.status = "open"
        self._responded(ticket)
        kind = "taken" if assignee == actor else "assigned"
        self._event(ticket, actor, kind, None, assignee=assignee, previous=previous)
        self.session.flush()
        return ticket

    def ask_customer(self, ticket: Ticket, actor: str, message: str) -> Ticket:
        """Ask the customer something: the ticket waits on them until they reply."""
        self._require(ticket, "ask the customer about", ACTIVE)
        ticket.status = "waiting_on_customer"
        if ticket.assignee is None:
            ticket.assignee = actor
        self._responded(ticket)
        self._event(ticket, actor, "asked_customer", _required("message", message))
        self.session.flush()
        return ticket

    def customer_reply(self, ticket: Ticket, message: str, *, message_id: str | None = None) -> Ticket:
        """The customer answers from their status page; reopens a resolved ticket, resumes a waiting one.

        A reply to a ticket that was merged goes to the surviving ticket. Returns the ticket replied to.
        `message_id`: the email's Message-ID when the reply came by email (kept to match its own replies).
        """
        origin = ticket.reference
        target = self.surviving(ticket)
        if target.status == "closed":
            raise InvalidTransition(
                f"request {origin} is closed and cannot take replies any more; please start a new request",
                key="closed",
                reference=origin,
            )
        text = _required("message", message)
        extra = {"message_id": message_id} if message_id else {}
        self._event(target, CUSTOMER, "customer_reply", text, customer=origin, **extra)
        if target.status == "resolved":
            target.status = "open"
            target.resolved_at = None
            self._event(target, CUSTOMER, "reopened", "the customer replied", customer=origin)
        elif target.status == "waiting_on_customer":
            target.status = "open"
        self.session.flush()
        return target

    def resolve(
        self, ticket: Ticket, actor: str, *, article: str | None = None, note: str | None = None
    ) -> Ticket:
        """Resolve with the article that solved it and/or a note describing the fix."""
        if ticket.status == "resolved":
            raise InvalidTransition(f"cannot resolve {ticket.reference}: it is already resolved")
        self._require(ticket, "resolve", ACTIVE)
        article = _check_length("article", article)
        note = _check_length("message", note)
        if not article and not note:
            raise InvalidQuery("say how it was resolved: an article id or a note describing the fix")
        ticket.status = "resolved"
        ticket.resolution_article = article
        ticket.resolution_note = note
        ticket.resolved_at = self.clock()
        self._responded(ticket)
        self._event(ticket, actor, "resolved", note, article=article)
        self.session.flush()
        return ticket

    def close(self, ticket: Ticket, actor: str, reason: str | None = None) -> Ticket:
        """Close for good (from any status but closed): no change or reply is accepted afterwards."""
        self._require(ticket, "close", STATUSES[:-1])
        ticket.status = "closed"
        ticket.closed_at = self.clock()
        self._event(ticket, actor, "closed", _check_length("reason", reason))
        self.session.flush()
        return ticket

    def reopen(self, ticket: Ticket, actor: str, reason: str) -> Ticket:
        """Reopen a resolved ticket (a closed one stays closed)."""
        self._require(ticket, "reopen", ("resolved",))
        ticket.status = "open"
        ticket.resolved_at = None
        self._event(ticket, actor, "reopened", _required("reason", reason))
        self.session.flush()
        return ticket

    def add_note(self, ticket: Ticket, actor: str, text: str) -> TicketEvent:
        """An internal note (never shown to the customer); allowed on any ticket, even closed."""
        event = self._event(ticket, actor, "note", _required("message", text))
        self.session.flush()
        return event

    def transfer(
        self,
        ticket: Ticket,
        actor: str,
        *,
        team: str | None = None,
        assignee: str | None = None,
        reason: str | None = None,
    ) -> Ticket:
        """Hand over to another team and/or agent at the same tier."""
        self._require(ticket, "transfer", ACTIVE)
        team = _check_length("team", team)
        assignee = _check_length("assignee", assignee)
        if not team and not assignee:
            raise InvalidQuery("transfer to a team, an agent, or both")
        before = {"team": ticket.team, "assignee": ticket.assignee}
        if team:
            ticket.team = team
            ticket.assignee = assignee  # a new team picks its own agent unless one is named
        else:
            ticket.assignee = assignee
        self._event(
            ticket,
            actor,
            "transferred",
            _check_length("reason", reason),
            team=ticket.team,
            assignee=ticket.assignee,
            previous=before,
        )
        self.session.flush()
        return ticket

    def set_priority(self, ticket: Ticket, actor: str, level: int | None, reason: str) -> Ticket:
        """Override the computed priority (None goes back to the rule); the override is recorded."""
        self._require(ticket, "change the priority of", ACTIVE)
        if level is not None and not priority_rule.HIGHEST <= level <= priority_rule.LOWEST:
            raise InvalidQuery(
                f"priority is {priority_rule.HIGHEST} (critical) to {priority_rule.LOWEST} (low)"
            )
        previous = ticket.priority_override
        ticket.priority_override = level
        computed = self.priority_of(ticket).level
        self._event(
            ticket,
            actor,
            "priority_set",
            _required("reason", reason),
            override=level,
            previous=previous,
            computed=ticket.priority,
            effective=computed,
        )
        self.session.flush()
        return ticket

    def escalate(
        self,
        ticket: Ticket,
        actor: str,
        reason: str,
        *,
        team: str | None = None,
        vendor: str | None = None,
        vendor_ref: str | None = None,
    ) -> dict[str, Any]:
        """Escalate to the next tier with a reason; returns the escalation packet the next tier gets.

        Escalating to L4 (outside vendor) needs the vendor and the vendor's reference. The ticket goes
        to `team`, or the team the routing file names for the next tier, unassigned.
        """
        self._require(ticket, "escalate", ACTIVE)
        if ticket.tier == TIERS[-1]:
            raise InvalidTransition(
                f"cannot escalate {ticket.reference}: it is already at {ticket.tier} (outside vendor), "
                "there is no tier above"
            )
        reason = _required("reason", reason)
        target = TIERS[TIERS.index(ticket.tier) + 1]
        vendor = _check_length("vendor", vendor)
        vendor_ref = _check_length("vendor_ref", vendor_ref)
        if target == VENDOR_TIER and not (vendor and vendor_ref):
            raise InvalidQuery(f"escalating to {VENDOR_TIER} needs the vendor and the vendor's reference")
        source_tier = ticket.tier
        ticket.tier = target
        ticket.team = _check_length("team", team) or self.routing.escalation_team(ticket.category, target)
        ticket.assignee = None
        ticket.status = "open"
        if target == VENDOR_TIER:
            ticket.vendor, ticket.vendor_ref = vendor, vendor_ref
        self._responded(ticket)
        packet = self.escalation_packet(ticket)
        packet["escalation"] = {"from": source_tier, "to": target, "reason": reason, "by": actor}
        self._event(
            ticket,
            actor,
            "escalated",
            reason,
            **{"from": source_tier},
            to=target,
            team=ticket.team,
            vendor=vendor,
            vendor_ref=vendor_ref,
            packet=packet,
        )
        self.session.flush()
        return packet

    def merge(self, survivor: Ticket, merged: Ticket, actor: str, reason: str | None = None) -> Ticket:
        """Merge `merged` into `survivor`: every contact moves over, both histories stay readable.

        The merged ticket is closed with `merged_into` set; its customer's link keeps working and shows
        the survivor's progress; their replies reach the survivor.
        """
        if survivor.id == merged.id:
            raise InvalidTransition(f"cannot merge {survivor.reference} into itself")
        self._require(survivor, "merge into", ACTIVE)
        self._require(merged, "merge", ACTIVE)
        moved = list(merged.contacts)
        for contact in moved:
            contact.ticket = survivor
        for earlier in self.merged_tickets(merged):
            earlier.merged_into_id = survivor.id
        merged.merged_into_id = survivor.id
        merged.status = "closed"
        merged.closed_at = self.clock()
        survivor.severity = max(survivor.severity or 0.0, merged.severity or 0.0)
        if survivor.problem_id is None and merged.problem_id is not None:
            survivor.problem_id = merged.problem_id
        reason = _check_length("reason", reason)
        self._event(
            merged, actor, "merged_into", reason, into=survivor.reference, contacts=[c.id for c in moved]
        )
        self._event(
            survivor,
            actor,
            "merged",
            reason,
            **{"from": merged.reference},
            query=merged.query,
            contacts=[c.id for c in moved],
        )
        self.session.flush()
        self.session.expire(survivor, ["contacts"])
        self.session.expire(merged, ["contacts"])
        self._refresh_priority(survivor)
        return survivor

    # -- priority --------------------------------------------------------------------------------------
    def priority_of(
        self, ticket: Ticket, now: dt.datetime | None = None, *, rule_only: bool = False
    ) -> priority_rule.Priority:
        """The ticket's priority now: the agent's override, else the rule of `kb_engine.priority`."""
        contacts = ticket.contacts
        return priority_rule.compute_priority(
            texts=(ticket.query, ticket.details),
            created_at=ticket.created_at,
            now=now or self.clock(),
            availability=ticket.availability,
            reachable=bool(contacts or ticket.contact_email or ticket.contact_phone),
            customers=max(1, len(contacts)),
            override=None if rule_only else ticket.priority_override,
        )

    def _refresh_priority(self, ticket: Ticket) -> None:
        """Store the severity and the rule's priority as of now (the queue recomputes with its own clock)."""
        ticket.severity = float(priority_rule.severity(ticket.query, ticket.details).score)
        ticket.priority = self.priority_of(ticket, rule_only=True).level

    # -- escalation packet -----------------------------------------------------------------------------
    def escalation_packet(self, ticket: Ticket) -> dict[str, Any]:
        """Everything the next tier needs, so nobody asks the customer twice.

        Returns:
            The query and details, the articles already tried (with scores, from merged tickets too),
            every customer's contact and availability, the conversation with the customer (questions and
            answers), internal notes, earlier escalations and the merged tickets.
        """
        history = self.history(ticket)
        merged = self.merged_tickets(ticket)
        tried: dict[str, dict[str, Any]] = {}
        for t in (ticket, *merged):
            for hit in t.shown or []:
                if hit["id"] not in tried or hit.get("score", 0) > tried[hit["id"]].get("score", 0):
                    tried[hit["id"]] = dict(hit)
        return {
            **self._summary(ticket),
            "articles_tried": sorted(tried.values(), key=lambda h: -h.get("score", 0)),
            "conversation": [
                {
                    "at": _iso(e.at),
                    "from": "customer" if e.kind == "customer_reply" else e.actor,
                    "message": e.message,
                }
                for e in history
                if e.kind in ("asked_customer", "customer_reply")
            ],
            "notes": [
                {"at": _iso(e.at), "by": e.actor, "note": e.message} for e in history if e.kind == "note"
            ],
            "escalations": [
                {
                    "at": _iso(e.at),
                    "by": e.actor,
                    "from": e.data.get("from"),
                    "to": e.data.get("to"),
                    "reason": e.message,
                }
                for e in history
                if e.kind == "escalated"
            ],
            "merged": [{"reference": t.reference, "query": t.query} for t in merged],
        }

    def _summary(self, ticket: Ticket) -> dict[str, Any]:
        """The fields both the escalation packet and `describe` start from."""
        level = self.priority_of(ticket)
        return {
            "reference": ticket.reference,
            "query": ticket.query,
            "details": ticket.details,
            "lang": ticket.lang,
            "category": ticket.category,
            "source": ticket.source,
            "status": ticket.status,
            "tier": ticket.tier,
            "team": ticket.team,
            "assignee": ticket.assignee,
            "priority": level.level,
            "priority_reasons": list(level.reasons),
            "created_at": _iso(ticket.created_at),
            "contacts": [
                {
                    "name": c.name,
                    "email": c.email,
                    "phone": c.phone,
                    "availability": c.availability,
                    "from": c.origin_reference,
                }
                for c in ticket.contacts
            ],
            "vendor": ticket.vendor,
            "vendor_ref": ticket.vendor_ref,
        }

    def describe(self, ticket: Ticket, *, history: bool = False) -> dict[str, Any]:
        """A ticket as JSON-ready data (the `kb tickets show --json` document), with its history if asked."""
        survivor = self.surviving(ticket)
        data: dict[str, Any] = {
            **self._summary(ticket),
            "shown": ticket.shown,
            "priority_override": ticket.priority_override,
            "resolution_article": ticket.resolution_article,
            "resolution_note": ticket.resolution_note,
            "problem": ticket.problem_id,
            "merged_into": survivor.reference if survivor.id != ticket.id else None,
            "updated_at": _iso(ticket.updated_at),
            "first_response_at": _iso(ticket.first_response_at),
            "resolved_at": _iso(ticket.resolved_at),
            "closed_at": _iso(ticket.closed_at),
        }
        if history:
            data["history"] = [
                {
                    "at": _iso(e.at),
                    "ticket": e.ticket.reference,
                    "actor": e.actor,
                    "kind": e.kind,
                    "message": e.message,
                    "data": {k: v for k, v in (e.data or {}).items() if k != "packet"},
                }
                for e in self.history(ticket)
            ]
        return data

    # -- similar tickets and problems ------------------------------------------------------------------
    def _active_tickets(self) -> list[Ticket]:
        return list(
            self.session.scalars(
                select(Ticket)
                .where(Ticket.status.in_(ACTIVE), Ticket.merged_into_id.is_(None))
                .options(selectinload(Ticket.contacts))
                .order_by(Ticket.created_at, Ticket.id)
            )
        )

    def find_similar(
        self, ticket: Ticket, embed: Embed, *, limit: int = 5, threshold: float | None = None
    ) -> list[tuple[Ticket, float]]:
        """Open tickets whose query means the same as this one's, most similar first (merge candidates).

        Args:
            ticket: the ticket to compare.
            embed: texts -> L2-normalised rows (the app passes `searcher.embedder.encode_queries`).
            limit: at most this many.
            threshold: cosine similarity needed.
        """
        others = [t for t in self._active_tickets() if t.id != ticket.id and t.query.strip()]
        if not ticket.query.strip() or not others:
            return []
        sims = similarities(embed, ticket.query, [t.query for t in others])
        ranked = sorted(zip(others, sims.tolist(), strict=True), key=lambda pair: -pair[1])
        threshold = self.rules.similarity if threshold is None else threshold
        return [(t, round(s, 4)) for t, s in ranked if s >= threshold][:limit]

    def _problem_texts(self, problem: Problem) -> list[str]:
        """What a query is compared with to match a problem: its first customers' words."""
        first = self.session.scalars(
            select(Ticket.query).where(Ticket.problem_id == problem.id).order_by(Ticket.id).limit(20)
        )
        return [problem.query, *(q for q in first if q.strip())]

    def _best_problem(
        self, query: str, problems: Sequence[Problem], embed: Embed, threshold: float
    ) -> Problem | None:
        best, best_score = None, threshold
        for problem in problems:
            score = float(similarities(embed, query, self._problem_texts(problem)).max(initial=-1.0))
            if score >= best_score:
                best, best_score = problem, score
        return best

    def link_problem(self, ticket: Ticket, problem: Problem, actor: str) -> None:
        """Attach a ticket to a problem (a recurring incident)."""
        if ticket.problem is problem:
            return
        ticket.problem = problem
        self._event(ticket, actor, "problem_linked", None, problem=problem.id)
        if problem.status == "open":
            self._event(ticket, actor, "problem_confirmed", problem.banner, problem=problem.id)

    def link_or_propose_problem(
        self,
        ticket: Ticket,
        embed: Embed,
        *,
        window: dt.timedelta | None = None,
        min_tickets: int | None = None,
        threshold: float | None = None,
    ) -> Problem | None:
        """Attach a new ticket to the proposed or open problem it matches, or propose a new problem.

        A problem is proposed when at least `min_tickets` tickets (this one included) about the same
        thing arrived within `window` of it; agents then confirm or reject it. Returns the problem, if any.
        (`window`, `min_tickets`, `threshold`: the service's rules unless given.)
        """
        window, min_tickets, threshold = self._rules(window, min_tickets, threshold)
        if ticket.problem is not None or ticket.merged_into_id is not None or not ticket.query.strip():
            return ticket.problem
        current = list(self.session.scalars(select(Problem).where(Problem.status.in_(("proposed", "open")))))
        match = self._best_problem(ticket.query, current, embed, threshold)
        if match is not None:
            self.link_problem(ticket, match, ENGINE)
            return match
        recent = [
            t
            for t in self.session.scalars(
                select(Ticket).where(
                    Ticket.created_at >= ticket.created_at - window,
                    Ticket.created_at <= ticket.created_at + window,
                    Ticket.problem_id.is_(None),
                    Ticket.merged_into_id.is_(None),
                    Ticket.id != ticket.id,
                )
            )
            if t.query.strip()
        ]
        if len(recent) + 1 < min_tickets:
            return None
        sims = similarities(embed, ticket.query, [t.query for t in recent])
        members = sorted(
            [ticket, *(t for t, s in zip(recent, sims.tolist(), strict=True) if s >= threshold)],
            key=lambda t: (t.created_at, t.id),
        )
        if len(members) < min_tickets:
            return None
        leader = members[0]
        categories = Counter(t.category for t in members if t.category)
        problem = Problem(
            title=" ".join(leader.query.split())[:120],
            query=leader.query,
            category=categories.most_common(1)[0][0] if categories else None,
            status="proposed",
            created_by=ENGINE,
            created_at=self.clock(),
        )
        self.session.add(problem)
        for member in members:
            self.link_problem(member, problem, ENGINE)
        self.session.flush()
        return problem

    def propose_problems(
        self,
        embed: Embed,
        *,
        window: dt.timedelta | None = None,
        min_tickets: int | None = None,
        threshold: float | None = None,
    ) -> list[Problem]:
        """Look at every ticket of the last `window` not yet linked; returns the problems proposed now."""
        window, min_tickets, threshold = self._rules(window, min_tickets, threshold)
        existing = set(self.session.scalars(select(Problem.id)))
        candidates = self.session.scalars(
            select(Ticket)
            .where(
                Ticket.created_at >= self.clock() - window,
                Ticket.problem_id.is_(None),
                Ticket.merged_into_id.is_(None),
            )
            .order_by(Ticket.created_at, Ticket.id)
        ).all()
        fresh: dict[int, Problem] = {}
        for ticket in candidates:
            if ticket.problem is not None:  # linked meanwhile, to a problem proposed in this loop
                continue
            problem = self.link_or_propose_problem(
                ticket, embed, window=window, min_tickets=min_tickets, threshold=threshold
            )
            if problem is not None and problem.id not in existing:
                fresh[problem.id] = problem
        return list(fresh.values())

    def get_problem(self, problem_id: int) -> Problem:
        problem = self.session.get(Problem, problem_id)
        if problem is None:
            raise NotFound(f"no problem {problem_id}")
        return problem

    def problems(self, statuses: Sequence[str] = ("proposed", "open")) -> list[Problem]:
        return list(
            self.session.scalars(
                select(Problem).where(Problem.status.in_(statuses)).order_by(Problem.created_at, Problem.id)
            )
        )

    def _require_problem(self, problem: Problem, action: str, allowed: Sequence[str]) -> None:
        if problem.status not in allowed:
            raise InvalidTransition(f"cannot {action} problem {problem.id}: it is {problem.status}")

    def confirm_problem(
        self, problem: Problem, actor: str, *, title: str | None = None, banner: str | None = None
    ) -> Problem:
        """An agent confirms a proposed problem: it opens and its banner shows to matching searches.

        Give a `title` (or a `banner`): the proposed title is the first customer's own words, which
        should not be shown to other customers as they are.
        """
        self._require_problem(problem, "confirm", ("proposed",))
        problem.title = _check_length("title", title) or problem.title
        problem.banner = _check_length("banner", banner) or f"Known issue: {problem.title}. We are on it."
        problem.status = "open"
        problem.confirmed_at = self.clock()
        problem.confirmed_by = actor
        for ticket in problem.tickets:
            self._event(ticket, actor, "problem_confirmed", problem.banner, problem=problem.id)
        self.session.flush()
        return problem

    def reject_problem(self, problem: Problem, actor: str, reason: str | None = None) -> Problem:
        """Not one incident after all: the proposal is dropped (its tickets stay linked, for the record)."""
        return self._end_problem(problem, actor, "rejected", _check_length("reason", reason))

    def resolve_problem(
        self, problem: Problem, actor: str, note: str, *, resolve_tickets: bool = False
    ) -> Problem:
        """The incident is over: the banner goes; with `resolve_tickets`, its open tickets are resolved."""
        self._end_problem(problem, actor, "resolved", _required("message", note))
        if resolve_tickets:
            for ticket in problem.tickets:
                if ticket.status in ACTIVE and ticket.merged_into_id is None:
                    self.resolve(ticket, actor, note=problem.resolution_note)
        self.session.flush()
        return problem

    def _end_problem(self, problem: Problem, actor: str, status: str, note: str | None) -> Problem:
        """Reject a proposed problem or resolve an open one, telling each of its tickets."""
        allowed = "proposed" if status == "rejected" else "open"
        self._require_problem(problem, "reject" if status == "rejected" else "resolve", (allowed,))
        problem.status = status
        problem.resolved_at = self.clock()
        problem.resolved_by = actor
        problem.resolution_note = note
        for ticket in problem.tickets:
            self._event(ticket, actor, f"problem_{status}", note, problem=problem.id)
        self.session.flush()
        return problem

    def active_problem_for(
        self, query: str, embed: Embed | None, *, threshold: float | None = None
    ) -> Problem | None:
        """The open (confirmed) problem a customer's query is about, for the "known issue" banner."""
        if embed is None or not query.strip():
            return None
        problems = self.problems(("open",))
        threshold = self.rules.similarity if threshold is None else threshold
        return self._best_problem(query, problems, embed, threshold) if problems else None

    # -- queue -----------------------------------------------------------------------------------------
    def queue(
        self,
        embed: Embed | None = None,
        *,
        statuses: Sequence[str] = ("new", "open"),
        tier: str | None = None,
        team: str | None = None,
        assignee: str | None = None,
        limit: int | None = None,
        threshold: float | None = None,
        now: dt.datetime | None = None,
    ) -> list[QueueEntry]:
        """The agents' queue, highest priority first, then oldest first.

        Anonymous misses (no contact left, nobody assigned) about the same thing are one entry
        ("37 customers searched for X"), grouped by embedding similarity, or by identical wording when
        `embed` is None.
        """
        now = now or self.clock()
        stmt = (
            select(Ticket)
            .where(Ticket.status.in_(statuses), Ticket.merged_into_id.is_(None))
            .options(selectinload(Ticket.contacts))
            .order_by(Ticket.created_at, Ticket.id)
        )
        if tier:
            stmt = stmt.where(Ticket.tier == tier)
        if team:
            stmt = stmt.where(Ticket.team == team)
        if assignee:
            stmt = stmt.where(Ticket.assignee == assignee)
        tickets = list(self.session.scalars(stmt))
        anonymous = [t for t in tickets if self._anonymous_miss(t)]
        entries = [
            QueueEntry("ticket", self.priority_of(t, now), [t])
            for t in tickets
            if not self._anonymous_miss(t)
        ]
        threshold = self.rules.similarity if threshold is None else threshold
        for group in self._group(anonymous, embed, threshold):
            if len(group) == 1:
                entries.append(QueueEntry("ticket", self.priority_of(group[0], now), group))
                continue
            level = priority_rule.compute_priority(
                texts=tuple(t.query for t in group),
                created_at=min(t.created_at for t in group),
                now=now,
                reachable=False,
                customers=len(group),
            )
            entries.append(QueueEntry("group", level, group))
        entries.sort(key=lambda e: (e.priority.level, e.oldest, e.lead.id))
        return entries[:limit] if limit else entries

    @staticmethod
    def _anonymous_miss(ticket: Ticket) -> bool:
        return (
            ticket.source in MISS_SOURCES
            and ticket.status == "new"
            and ticket.assignee is None
            and ticket.priority_override is None
            and not ticket.contacts
            and not ticket.contact_email
            and not ticket.contact_phone
        )

    @staticmethod
    def _group(tickets: list[Ticket], embed: Embed | None, threshold: float) -> list[list[Ticket]]:
        if not tickets:
            return []
        if embed is None:
            by_text: dict[str, list[Ticket]] = {}
            for t in tickets:
                by_text.setdefault(normalise(t.query), []).append(t)
            return list(by_text.values())
        vectors = embed_texts(embed, [t.query or "-" for t in tickets])
        return [[tickets[i] for i in group] for group in leader_groups(vectors, threshold)]


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    return {
        "id": problem.id,
        "status": problem.status,
        "title": problem.title,
        "banner": problem.banner,
        "query": problem.query,
        "category": problem.category,
        "tickets": [t.reference for t in problem.tickets],
        "created_at": _iso(problem.created_at),
        "confirmed_by": problem.confirmed_by,
        "confirmed_at": _iso(problem.confirmed_at),
        "resolved_by": problem.resolved_by,
        "resolved_at": _iso(problem.resolved_at),
        "resolution_note": problem.resolution_note,
    }
