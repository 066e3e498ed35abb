"""The work queue: active tickets, grouped by problem or by topic, in priority order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb_engine.helpdesk import priority as priority_rule
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.similarity import (
    Embed,
    embed_texts,
    leader_groups,
    normalise,
)
from kb_engine.helpdesk.tickets.base import TicketBase
from kb_engine.helpdesk.tickets.rules import MISS_SOURCES, iso


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
            "due_at": iso(self.priority.due_at),
            "status": lead.status,
            "tier": lead.tier,
            "team": lead.team,
            "assignee": lead.assignee,
            "category": lead.category,
            "oldest": iso(self.oldest),
        }


class QueueMixin(TicketBase):
    """The queue."""

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
        misses: str = "include",
    ) -> list[QueueEntry]:
        """The agents' queue, highest priority first, then oldest first.

        Anonymous misses (no contact left, nobody assigned) about the same thing are one entry
        ("37 customers searched for X"), grouped by embedding similarity, or by identical wording when
        `embed` is None. `misses`: "include" them, "exclude" them (the console's working queue: nobody
        can answer them) or list "only" them (their own view, by topic).
        """
        if misses not in ("include", "exclude", "only"):
            raise ValueError(misses)
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
        anonymous = [t for t in tickets if self._anonymous_miss(t)] if misses != "exclude" else []
        entries = [
            QueueEntry("ticket", self.priority_of(t, now), [t])
            for t in tickets
            if not self._anonymous_miss(t) and misses != "only"
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
