"""Satisfaction (CSAT): "Are you satisfied?" on the resolution email and the status page, one click
(good or bad) and an optional comment, once per ticket; the dashboard's CSAT per tier, team, category and
week, with the comments.

CSAT is the share of good answers among all answers (0 to 1), the usual definition of help-desk tools.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk.models import Satisfaction, Ticket, utcnow
from kb_engine.helpdesk.tickets.rules import check_length, iso

RATINGS = ("good", "bad")
CHANNELS = ("web", "email")
RATEABLE = ("resolved", "closed")


def answer_of(session: Session, ticket: Ticket) -> Satisfaction | None:
    return session.scalar(select(Satisfaction).where(Satisfaction.ticket_id == ticket.id))


def rate(
    session: Session,
    ticket: Ticket,
    rating: str,
    comment: str | None = None,
    *,
    status: str | None = None,
    channel: str = "web",
    now: dt.datetime | None = None,
) -> tuple[Satisfaction, bool]:
    """Record the customer's answer for `ticket` (their own request); once per ticket.

    Args:
        session: the session (the caller commits).
        ticket: the customer's ticket.
        rating: good or bad.
        comment: optional words; a comment can be added to an earlier answer that had none.
        status: the status that counts (the surviving ticket's, after a merge); default the ticket's.
        channel: web (status page) or email (the resolution email's link).
        now: the time (default now).

    Returns:
        The answer and whether it is new. A second answer never changes the first rating.

    Raises:
        InvalidQuery: not good or bad, or a comment too long.
        InvalidTransition: the request is not resolved yet.
    """
    if rating not in RATINGS:
        raise InvalidQuery("answer good or bad", key="rating")
    comment = check_length("message", comment)
    existing = answer_of(session, ticket)
    if existing is not None:
        if comment and not existing.comment:
            existing.comment = comment
            session.flush()
        return existing, False
    if (status or ticket.status) not in RATEABLE:
        raise InvalidTransition(
            f"request {ticket.reference} is not resolved yet: it can be rated once it is",
            key="not_resolved",
            reference=ticket.reference,
        )
    answer = Satisfaction(
        ticket_id=ticket.id,
        rating=rating,
        comment=comment,
        channel=channel if channel in CHANNELS else "web",
        tier=ticket.tier,
        team=ticket.team,
        category=ticket.category,
        at=now or utcnow(),
    )
    try:
        with session.begin_nested():  # two clicks at once: the unique ticket_id keeps the first
            session.add(answer)
    except IntegrityError:
        found = answer_of(session, ticket)
        if found is None:
            raise
        return found, False
    return answer, True


def _rate(good: int, total: int) -> float | None:
    return round(good / total, 3) if total else None


def summary(session: Session, start: dt.datetime, end: dt.datetime, *, comments: int = 20) -> dict[str, Any]:
    """CSAT between `start` and `end`: overall, per tier, team, category and ISO week, and the latest
    comments (newest first)."""
    rows = list(
        session.scalars(
            select(Satisfaction)
            .where(Satisfaction.at >= start, Satisfaction.at < end)
            .order_by(Satisfaction.at)
        )
    )
    groups: dict[str, dict[str, list[int]]] = {
        d: defaultdict(lambda: [0, 0]) for d in ("tier", "team", "category", "week")
    }
    for row in rows:
        year, week, _ = row.at.isocalendar()
        keys = {
            "tier": row.tier or "-",
            "team": row.team or "-",
            "category": row.category or "-",
            "week": f"{year}-W{week:02d}",
        }
        for dimension, key in keys.items():
            counts = groups[dimension][key]
            counts[0] += row.rating == "good"
            counts[1] += 1
    good = sum(r.rating == "good" for r in rows)
    return {
        "answers": len(rows),
        "good": good,
        "csat": _rate(good, len(rows)),
        **{
            f"by_{dimension}": [
                {"key": key, "answers": total, "good": g, "csat": _rate(g, total)}
                for key, (g, total) in sorted(counts.items())
            ]
            for dimension, counts in groups.items()
        },
        "comments": [
            {"at": iso(r.at), "rating": r.rating, "comment": r.comment, "ticket_id": r.ticket_id}
            for r in reversed(rows)
            if r.comment
        ][:comments],
    }
