"""Escalation to the higher tiers (L2, L3, L4 with its vendor) and the escalation packet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk.models import Feedback, Ticket
from kb_engine.helpdesk.tickets.base import TicketBase
from kb_engine.helpdesk.tickets.rules import ACTIVE, TIERS, VENDOR_TIER, check_length, iso, required_field


class EscalationMixin(TicketBase):
    """Escalation and what the receiving tier reads."""

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
        reason = required_field("reason", reason)
        target = TIERS[TIERS.index(ticket.tier) + 1]
        vendor = check_length("vendor", vendor)
        vendor_ref = check_length("vendor_ref", vendor_ref)
        if target == VENDOR_TIER and not (vendor and vendor_ref):
            raise InvalidQuery(f"escalating to {VENDOR_TIER} needs the vendor and the vendor's reference")
        source_tier = ticket.tier
        ticket.tier = target
        ticket.team = check_length("team", team) or self.routing.escalation_team(ticket.category, target)
        ticket.assignee = None
        ticket.status = "open"
        if target == VENDOR_TIER:
            ticket.vendor, ticket.vendor_ref = vendor, vendor_ref
        self._responded(ticket)
        packet = self.escalation_packet(ticket)
        packet["escalation"] = {"from": source_tier, "to": target, "reason": reason, "by": actor}
        event = self._event(
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
        if target in ("L3", VENDOR_TIER):  # the customer is told plainly that it may take long
            self._tell(ticket, "delay_notice", event, tier=target, vendor=vendor or "")
        self._alert(ticket, "staff_escalation", ticket.team, event, message=reason, actor=actor)
        self.session.flush()
        return packet

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
        outcomes = self._article_outcomes([t.search_id for t in (ticket, *merged) if t.search_id])
        for hit in tried.values():
            hit["outcome"] = outcomes.get(hit["id"], "shown")
        return {
            **self._summary(ticket),
            "articles_tried": sorted(tried.values(), key=lambda h: -h.get("score", 0)),
            "conversation": [
                {
                    "at": iso(e.at),
                    "from": "customer" if e.kind == "customer_reply" else e.actor,
                    "message": e.message,
                }
                for e in history
                if e.kind in ("asked_customer", "message", "customer_reply")
            ],
            "notes": [
                {"at": iso(e.at), "by": e.actor, "note": e.message} for e in history if e.kind == "note"
            ],
            "escalations": [
                {
                    "at": iso(e.at),
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

    def _article_outcomes(self, search_ids: list[int]) -> dict[str, str]:
        """What the customer did with each article of their searches: "opened" or "did not help"."""
        if not search_ids:
            return {}
        outcomes: dict[str, str] = {}
        rows = self.session.execute(
            select(Feedback.article_id, Feedback.kind).where(Feedback.search_id.in_(search_ids))
        )
        for article, kind in rows:
            if kind == "not_helpful":
                outcomes[article] = "did not help"
            elif kind == "view":
                outcomes.setdefault(article, "opened")
        return outcomes

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
            "created_at": iso(ticket.created_at),
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
            "updated_at": iso(ticket.updated_at),
            "first_response_at": iso(ticket.first_response_at),
            "resolved_at": iso(ticket.resolved_at),
            "closed_at": iso(ticket.closed_at),
        }
        if history:
            data["history"] = [
                {
                    "at": iso(e.at),
                    "ticket": e.ticket.reference,
                    "actor": e.actor,
                    "kind": e.kind,
                    "message": e.message,
                    "data": {k: v for k, v in (e.data or {}).items() if k != "packet"},
                }
                for e in self.history(ticket)
            ]
        return data
