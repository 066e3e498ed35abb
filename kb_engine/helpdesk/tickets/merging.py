"""Merging tickets and finding similar ones."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb_engine.errors import InvalidTransition
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.similarity import (
    Embed,
    similarities,
)
from kb_engine.helpdesk.tickets.base import TicketBase
from kb_engine.helpdesk.tickets.rules import ACTIVE, check_length


class MergingMixin(TicketBase):
    """Merge and similar tickets."""

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
        reason = check_length("reason", reason)
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
        audit.record(self.session, actor, "ticket_merge", survivor.reference, merged=merged.reference)
        self.session.flush()
        self.session.expire(survivor, ["contacts"])
        self.session.expire(merged, ["contacts"])
        self._refresh_priority(survivor)
        return survivor

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
