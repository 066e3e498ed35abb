"""Limits on what anonymous visitors create: tickets, replies, feedback, counted per address and per email.

Like the login limit (`throttle.py`), the counts live in the ticket database (`anonymous_action`), so every
worker process and every app server counts the same actions. An action is recorded first and counted
after, inside the transaction that creates the thing: parallel requests cannot all pass a check made
before any of them is recorded (on PostgreSQL a transaction-scoped advisory lock per action serialises
them; SQLite holds its write lock from the insert to the commit). A refused action raises
`TooManyRequests`; the caller's rollback forgets it along with what it would have created.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from kb_engine.errors import TooManyRequests
from kb_engine.helpdesk.models import AnonymousAction, utcnow

# What is limited: tickets customers open (API, contact form), tickets opened for them on a miss or a
# "No" (search misses), replies to a ticket, feedback on articles (views, solved, not helpful).
# "lost_link": asking for one's request links by email (kb_engine/helpdesk/lost_links.py).
# "watch": "Email me when it is fixed" on a known issue's banner (kb_engine.helpdesk.tickets.problems).
ACTIONS = ("ticket", "miss", "reply", "feedback", "lost_link", "watch")


@dataclass(frozen=True)
class AnonymousLimits:
    """How many of each action one address (and one email, for tickets) may create within the window."""

    tickets_per_address: int = 10
    tickets_per_email: int = 5
    misses_per_address: int = 20
    replies_per_address: int = 30
    feedback_per_address: int = 120
    lost_links_per_address: int = 5
    watches_per_address: int = 10
    window_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> AnonymousLimits:
        return cls(**{name: int(settings[key]) for name, key in SETTINGS.items()})

    def per_address(self, action: str) -> int:
        return int(getattr(self, PER_ADDRESS[action]))


# Each action's per-address limit (an AnonymousLimits field), and the limits that are settings (`KB_…`).
PER_ADDRESS = {
    "ticket": "tickets_per_address",
    "miss": "misses_per_address",
    "reply": "replies_per_address",
    "feedback": "feedback_per_address",
    "lost_link": "lost_links_per_address",
    "watch": "watches_per_address",
}
SETTINGS = {
    "tickets_per_address": "LIMIT_TICKETS_PER_ADDRESS",
    "tickets_per_email": "LIMIT_TICKETS_PER_EMAIL",
    "misses_per_address": "LIMIT_MISSES_PER_ADDRESS",
    "replies_per_address": "LIMIT_REPLIES_PER_ADDRESS",
    "feedback_per_address": "LIMIT_FEEDBACK_PER_ADDRESS",
    "window_seconds": "LIMIT_WINDOW_SECONDS",
}


def _serialise(session: Session, action: str) -> None:
    """One counter at a time per action on PostgreSQL (READ COMMITTED would let parallel inserts miss
    each other); SQLite already holds its single write lock from our insert until the commit."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"kb-limit:{action}".encode()) & 0x7FFFFFFF
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def record(
    session: Session,
    limits: AnonymousLimits,
    action: str,
    address: str,
    email: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record an anonymous `action` from `address` (and `email`), refusing it when it goes over a limit.

    Args:
        session: the session of the transaction that creates the thing (the caller commits, or rolls
            back on the refusal, which forgets the action too).
        limits: the limits.
        action: one of ACTIONS.
        address: the client's address (from the trusted proxy, see web/proxy.py).
        email: the email the visitor gave, if any (tickets are limited per email too).

    Raises:
        TooManyRequests: over a limit; `retry_after` says in how many seconds the oldest counted action
            leaves the window.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    now = now or utcnow()
    since = now - dt.timedelta(seconds=limits.window_seconds)
    address = (address or "unknown")[:64]
    email_key = email.strip().lower()[:320] if email and email.strip() else None
    _serialise(session, action)
    session.execute(
        delete(AnonymousAction).where(AnonymousAction.action == action, AnonymousAction.at <= since)
    )
    session.add(AnonymousAction(action=action, address=address, email=email_key, at=now))
    session.flush()
    checks: list[tuple[Any, str, int, str]] = [
        (AnonymousAction.address, address, limits.per_address(action), "address")
    ]
    if email_key and action == "ticket":
        checks.append((AnonymousAction.email, email_key, limits.tickets_per_email, "email"))
    for column, value, limit, what in checks:
        count, oldest = session.execute(
            select(func.count(), func.min(AnonymousAction.at)).where(
                AnonymousAction.action == action, column == value, AnonymousAction.at > since
            )
        ).one()
        if count > limit:
            wait = max(1, int((oldest - since).total_seconds()) + 1) if oldest is not None else 60
            raise TooManyRequests(
                f"too many {action}s from this {what} within {limits.window_seconds} s "
                f"(limit {limit}); try again in {wait} s",
                retry_after=wait,
            )
