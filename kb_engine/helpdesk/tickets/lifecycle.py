"""Creating tickets and moving them through their lifecycle (take, assign, ask, reply, resolve, close,
reopen, notes, transfer, priority).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk import audit
from kb_engine.helpdesk import priority as priority_rule
from kb_engine.helpdesk.models import SearchLog, Ticket, TicketContact, TicketEvent
from kb_engine.helpdesk.tickets.base import TicketBase
from kb_engine.helpdesk.tickets.rules import (
    ACTIVE,
    CUSTOMER,
    ENGINE,
    MISS_SOURCES,
    SELF_SERVICE,
    SOURCES,
    STATUSES,
    check_email,
    check_length,
    reference_for,
    required_field,
)
from kb_engine.helpdesk.triage import route as learned_route


class LifecycleMixin(TicketBase):
    """Creation and the status lifecycle."""

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
        client_address: str | None = None,
    ) -> Ticket:
        """Open a ticket routed by its category; returns it with its reference and customer token set.

        The ticket is flushed, not committed. Tier and team come from the routing file, priority from
        `kb_engine.helpdesk.priority`. `client_address`: where an anonymous visitor opened it from (problems
        count customers by it).
        """
        if source not in SOURCES:
            raise InvalidQuery(f"unknown ticket source {source!r}")
        text = " ".join(part for part in (query, details or "") if part)
        tier, team, triaged = learned_route(
            self.triage, self.routing, text=text, category=category, lang=lang
        )
        now = self.clock()
        ticket = Ticket(
            token=secrets.token_urlsafe(24),
            source=source,
            status="new",
            tier=tier,
            team=team,
            query=check_length("query", query) or "",
            lang=lang,
            shown=[
                {"id": h["id"], "title": h.get("title", ""), "score": round(float(h.get("score", 0.0)), 4)}
                for h in shown
            ],
            category=category,
            search_id=search_id,
            contact_name=check_length("contact_name", contact_name),
            contact_email=check_email("contact_email", contact_email),
            contact_phone=check_length("contact_phone", contact_phone),
            availability=check_length("availability", availability),
            details=check_length("details", details),
            client_address=(client_address or None) and client_address[:64],
            created_at=now,
            updated_at=now,
        )
        self.session.add(ticket)
        self.session.flush()
        ticket.reference = reference_for(ticket.id)
        learned: dict[str, Any] = {"triage": triaged} if triaged else {}  # what triage proposed, and why
        created = self._event(
            ticket,
            actor,
            "created",
            source=source,
            shown=[h["id"] for h in ticket.shown],
            tier=ticket.tier,
            team=ticket.team,
            **learned,
        )
        if ticket.contact_email or ticket.contact_name or ticket.contact_phone:
            self._add_contact(ticket)
        self._refresh_priority(ticket)
        if source != "email":  # `kb mail-in` answers an email itself, with articles
            self._tell(ticket, "opened", created, once=f"opened:{ticket.id}")
        self._alert_if_critical(ticket, created)
        self.session.flush()
        return ticket

    def _alert_if_critical(self, ticket: Ticket, event: TicketEvent) -> None:
        """A critical (P1) ticket: its team hears of it at once, once."""
        level = self.priority_of(ticket)
        if level.level == priority_rule.HIGHEST:
            self._alert(
                ticket,
                "staff_p1",
                ticket.team,
                event,
                once=f"p1:{ticket.id}",
                message="; ".join(level.reasons),
            )

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
        ticket.contact_name = check_length("contact_name", name) or ticket.contact_name
        ticket.contact_email = check_email("contact_email", email) or ticket.contact_email
        ticket.contact_phone = check_length("contact_phone", phone) or ticket.contact_phone
        ticket.availability = check_length("availability", availability) or ticket.availability
        extra = check_length("details", details)
        if extra:
            ticket.details = f"{ticket.details}\n\n{extra}" if ticket.details else extra
        self._add_contact(ticket)
        added = self._event(ticket, CUSTOMER, "contact_added", details=bool(extra), customer=ticket.reference)
        self._refresh_priority(ticket)
        if ticket.contact_email:  # the confirmation, once per address (a ticket opened with one has had it)
            self._tell(ticket, "opened", added, once=f"opened:{ticket.id}", only=[ticket.contact_email])
        self.session.flush()
        return ticket

    # -- lifecycle -------------------------------------------------------------------------------------
    def take(self, ticket: Ticket, actor: str) -> Ticket:
        """The agent takes the ticket: assigned to them, status open."""
        return self.assign(ticket, actor, actor)

    def assign(self, ticket: Ticket, actor: str, assignee: str) -> Ticket:
        """Assign to an agent (a new ticket becomes open)."""
        self._require(ticket, "assign", ACTIVE)
        assignee = required_field("assignee", assignee)
        previous = ticket.assignee
        ticket.assignee = assignee
        if ticket.status == "new":
            ticket.status = "open"
        self._responded(ticket)
        kind = "taken" if assignee == actor else "assigned"
        self._event(ticket, actor, kind, None, assignee=assignee, previous=previous)
        self.session.flush()
        return ticket

    def unassign(self, ticket: Ticket, actor: str) -> Ticket:
        """Put the ticket back in its team's queue, nobody's (its status stays)."""
        self._require(ticket, "unassign", ACTIVE)
        if ticket.assignee is None:
            return ticket
        previous, ticket.assignee = ticket.assignee, None
        self._event(ticket, actor, "unassigned", None, previous=previous)
        self.session.flush()
        return ticket

    def note_related(self, ticket: Ticket, other: Ticket, why: str) -> None:
        """Record on `ticket` that it is possibly related to `other` (agents decide; `other` is untouched)."""
        self._event(
            ticket,
            ENGINE,
            "possibly_related",
            f"Possibly related to {other.reference}: {why}",
            related=other.reference,
        )

    def ask_customer(self, ticket: Ticket, actor: str, message: str, *, to: str | None = None) -> Ticket:
        """Ask the customer something: the ticket waits on them until they reply.

        On a ticket that gathers several customers (merged tickets), `to` is the reference of the one
        customer the message is for (see `customers`), or None for every one of them. `{customer_name}`
        and `{reference}` left in the message are filled for each customer when they read it.

        Raises:
            InvalidQuery: `to` is not one of the ticket's customers, or the ticket has no contact.
        """
        return self._to_customer(ticket, actor, message, to, wait=True)

    def send_message(self, ticket: Ticket, actor: str, message: str, *, to: str | None = None) -> Ticket:
        """Write to the customer without waiting on them (news, a workaround, "we are on it"): the message
        shows on their status page and goes by email (template `message`); a new ticket opens, a ticket
        waiting on the customer keeps waiting. `to` and the placeholders as for `ask_customer`.

        Raises:
            InvalidQuery: `to` is not one of the ticket's customers, or the ticket has no contact.
        """
        return self._to_customer(ticket, actor, message, to, wait=False)

    def _to_customer(self, ticket: Ticket, actor: str, message: str, to: str | None, *, wait: bool) -> Ticket:
        """A message to the ticket's customer(s) (or the one named by `to`): history, email, status."""
        self._require(ticket, "ask the customer about" if wait else "write to the customer of", ACTIVE)
        if not self.reachable(ticket):
            # Saying "sent" (or parking the ticket waiting on the customer) would promise what cannot come.
            raise InvalidQuery(
                f"{ticket.reference} has no contact (an anonymous request): nobody would receive this "
                "message. Keep it as an internal note instead, or add the customer's contact first.",
                key="no_contact",
                reference=ticket.reference,
            )
        text = required_field("message", message)
        extra: dict[str, str] = {}
        if to:
            known = [reference for reference, _name in self.customers(ticket)]
            if to not in known:
                raise InvalidQuery(f"{to} is not one of the customers of {ticket.reference}")
            extra["customer"] = to
        if wait:
            ticket.status = "waiting_on_customer"
        elif ticket.status == "new":
            ticket.status = "open"
        if ticket.assignee is None:
            ticket.assignee = actor
        self._responded(ticket)
        event = self._event(ticket, actor, "asked_customer" if wait else "message", text, **extra)
        # By email too: to the one customer chosen, or to each, with their own name and reference.
        self._tell(ticket, "question" if wait else "message", event, message=text, to_reference=to)
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
        text = required_field("message", message)
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
        self,
        ticket: Ticket,
        actor: str,
        *,
        article: str | None = None,
        note: str | None = None,
        first_contact: bool = False,
    ) -> Ticket:
        """Resolve with the article that solved it and/or a note describing the fix.

        `first_contact`: solved while the customer was on the phone or at the desk (the intake screen's
        "solved on the call"), counted as a first-contact resolution.
        """
        if ticket.status == "resolved":
            raise InvalidTransition(f"cannot resolve {ticket.reference}: it is already resolved")
        self._require(ticket, "resolve", ACTIVE)
        article = check_length("article", article)
        note = check_length("message", note)
        if not article and not note:
            raise InvalidQuery("say how it was resolved: an article id or a note describing the fix")
        ticket.status = "resolved"
        ticket.resolution_article = article
        ticket.resolution_note = note
        ticket.resolved_at = self.clock()
        self._responded(ticket)
        extra = {"first_contact": True} if first_contact else {}
        event = self._event(ticket, actor, "resolved", note, article=article, **extra)
        title = next((h.get("title") for h in ticket.shown or [] if h.get("id") == article), None)
        self._tell(
            ticket,
            "resolved",
            event,
            fix=note or "",
            article_title=title or article or "",
            article_url=self.notifier.article_url(article) if article else "",
        )
        self.session.flush()
        return ticket

    def resolve_by_self_service(self, visitor: str | None, article: str) -> list[Ticket]:
        """The visitor marked `article` "solved": their anonymous miss tickets nobody has touched are
        resolved as "solved by self-service" (they stay counted as tickets and as content gaps).

        Returns the tickets resolved (none when the visitor is unknown or every ticket is in hand).
        """
        if not visitor:
            return []
        candidates = self.session.scalars(
            select(Ticket)
            .join(SearchLog, Ticket.search_id == SearchLog.id)
            .where(
                SearchLog.visitor == visitor,
                Ticket.source.in_(MISS_SOURCES),
                Ticket.status == "new",
                Ticket.assignee.is_(None),
                Ticket.merged_into_id.is_(None),
            )
            .order_by(Ticket.id)
        )
        resolved = []
        for ticket in candidates:
            if self.reachable(ticket):  # they asked to be contacted: a person decides
                continue
            self.resolve(ticket, CUSTOMER, article=article, note=SELF_SERVICE)
            resolved.append(ticket)
        return resolved

    def close(self, ticket: Ticket, actor: str, reason: str | None = None) -> Ticket:
        """Close for good (from any status but closed): no change or reply is accepted afterwards."""
        self._require(ticket, "close", STATUSES[:-1])
        ticket.status = "closed"
        ticket.closed_at = self.clock()
        reason = check_length("reason", reason)
        self._tell(ticket, "closed", self._event(ticket, actor, "closed", reason), message=reason or "")
        audit.record(self.session, actor, "ticket_close", ticket.reference, reason=reason or "")
        self.session.flush()
        return ticket

    def reopen(self, ticket: Ticket, actor: str, reason: str) -> Ticket:
        """Reopen a resolved ticket (a closed one stays closed)."""
        self._require(ticket, "reopen", ("resolved",))
        ticket.status = "open"
        ticket.resolved_at = None
        reason = required_field("reason", reason)
        self._tell(ticket, "reopened", self._event(ticket, actor, "reopened", reason), message=reason)
        self.session.flush()
        return ticket

    def add_note(self, ticket: Ticket, actor: str, text: str) -> TicketEvent:
        """An internal note (never shown to the customer); allowed on any ticket, even closed."""
        event = self._event(ticket, actor, "note", required_field("message", text))
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
        team = check_length("team", team)
        assignee = check_length("assignee", assignee)
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
            check_length("reason", reason),
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
        event = self._event(
            ticket,
            actor,
            "priority_set",
            required_field("reason", reason),
            override=level,
            previous=previous,
            computed=ticket.priority,
            effective=computed,
        )
        if level == priority_rule.HIGHEST:  # once per ticket, whether the rule or an agent made it P1
            self._alert(
                ticket,
                "staff_p1",
                ticket.team,
                event,
                once=f"p1:{ticket.id}",
                message=f"set to P1 by {actor}: {event.message}",
            )
        self.session.flush()
        return ticket
