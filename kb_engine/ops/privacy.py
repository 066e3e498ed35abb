"""Personal data: what the desk holds about one customer (export), forgetting them (erase), and keeping
customers' words only as long as needed (purge past retention).

A customer is found by email: the tickets they opened (their contact address), the contacts they left on
other tickets (merges), the searches behind those tickets and every search from the same browser, and the
feedback given on those searches. Erasing keeps every count and statistic (tickets stay, with their source,
tier, status, category and dates; searches keep their outcome and articles) and drops the words and the
contact details:

- ticket contact fields and free text are emptied, history events are redacted (their text dropped: the
  only change the append-only history accepts, migration 0009), search and feedback texts replaced;
- then every text column of every table (the outbox, rate-limit records, anything added later) is swept for
  the address and the phone numbers, so nothing new escapes by being forgotten here;
- on SQLite, `compact` rewrites the file (VACUUM, WAL truncated) so the old bytes are gone too.

The audit log records each erasure and export with a hash of the address, never the address itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import typing
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, MetaData, Table, Text, cast, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from kb_engine.helpdesk import audit
from kb_engine.helpdesk.models import (
    Feedback,
    ProblemWatch,
    SearchLog,
    Ticket,
    TicketContact,
    TicketEvent,
    utcnow,
)
from kb_engine.helpdesk.tickets import ACTIVE

ERASED = "[erased]"
PURGED = "[purged]"
# Tables whose rows are not customers' words, or that change only through their own rules.
_SWEEP_SKIP = {"alembic_version", "audit_log", "ticket_event"}


def subject(email: str) -> str:
    """How the audit log names a customer: a hash of the normalised address, never the address."""
    return "email-sha256:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def _norm(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    return email


class Subject:
    """Everything held about one email address."""

    def __init__(self, session: Session, email: str) -> None:
        self.email = _norm(email)
        self.tickets = list(
            session.scalars(
                select(Ticket).where(func.lower(Ticket.contact_email) == self.email).order_by(Ticket.id)
            )
        )
        self.contacts = list(
            session.scalars(select(TicketContact).where(func.lower(TicketContact.email) == self.email))
        )
        search_ids = {t.search_id for t in self.tickets if t.search_id is not None}
        visitors = set(
            session.scalars(
                select(SearchLog.visitor).where(SearchLog.id.in_(search_ids), SearchLog.visitor.is_not(None))
            )
        )
        self.searches = list(
            session.scalars(
                select(SearchLog)
                .where(or_(SearchLog.id.in_(search_ids), SearchLog.visitor.in_(visitors)))
                .order_by(SearchLog.id)
            )
        )
        ids = [s.id for s in self.searches]
        self.feedback = list(
            session.scalars(
                select(Feedback)
                .where(or_(Feedback.search_id.in_(ids), Feedback.visitor.in_(visitors)))
                .order_by(Feedback.id)
            )
        )
        self.phones = {
            p for p in [*(t.contact_phone for t in self.tickets), *(c.phone for c in self.contacts)] if p
        }
        self.names = {
            n for n in [*(t.contact_name for t in self.tickets), *(c.name for c in self.contacts)] if n
        }
        # Their own words, wherever a copy of them went (a notification quoting the request...).
        texts = [*(t.query for t in self.tickets), *(t.details for t in self.tickets)]
        texts += [s.query for s in self.searches]
        self.words = {w.strip() for w in texts if w and len(w.strip()) >= 8}

    def needles(self) -> list[str]:
        """The strings to remove wherever they appear: the address, the phone numbers (as typed and as
        digits) and, inside this customer's own records, their names."""
        found = {self.email, *self.phones}
        found |= {re.sub(r"\D", "", p) for p in self.phones if len(re.sub(r"\D", "", p)) >= 6}
        return sorted((n for n in found if len(n) >= 4), key=len, reverse=True)


def _scrub(text: str, needles: Iterable[str]) -> str:
    for needle in needles:
        text = re.sub(re.escape(needle), ERASED, text, flags=re.IGNORECASE)
    return text


def export(session: Session, email: str, actor: str) -> dict[str, Any]:
    """A JSON-ready record of everything held about `email` (recorded in the audit log)."""
    who = Subject(session, email)
    data = {
        "email": who.email,
        "exported_at": utcnow().isoformat(timespec="seconds"),
        "tickets": [_ticket(t, session) for t in who.tickets],
        "contacts_on_other_tickets": [
            {
                "ticket": c.ticket.reference,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "availability": c.availability,
                "added_at": c.created_at.isoformat(timespec="seconds"),
            }
            for c in who.contacts
            if c.ticket not in who.tickets
        ],  # fmt: skip
        "searches": [
            {
                "at": s.at.isoformat(timespec="seconds"),
                "query": s.query,
                "lang": s.lang,
                "channel": s.channel,
                "answered": s.answered,
                "articles": [h.get("id") for h in s.hits or []],
            }
            for s in who.searches
        ],  # fmt: skip
        "known_issue_watches": [
            {"problem": w.problem_id, "lang": w.lang, "asked_at": w.created_at.isoformat(timespec="seconds")}
            for w in session.scalars(select(ProblemWatch).where(func.lower(ProblemWatch.email) == who.email))
        ],
        "feedback": [
            {
                "at": f.at.isoformat(timespec="seconds"),
                "article": f.article_id,
                "kind": f.kind,
                "query": f.query,
            }
            for f in who.feedback
        ],
    }
    audit.record(session, actor, "privacy_export", subject(email), tickets=len(who.tickets))
    return data


def _ticket(ticket: Ticket, session: Session) -> dict[str, Any]:
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    )
    return {
        "reference": ticket.reference,
        "created_at": ticket.created_at.isoformat(timespec="seconds"),
        "status": ticket.status,
        "query": ticket.query,
        "details": ticket.details,
        "name": ticket.contact_name,
        "email": ticket.contact_email,
        "phone": ticket.contact_phone,
        "availability": ticket.availability,
        "messages": [
            {"at": e.at.isoformat(timespec="seconds"), "kind": e.kind, "actor": e.actor, "message": e.message}
            for e in events
            if e.message
        ],
    }


def _redact(session: Session, event_ids: Iterable[int]) -> int:
    """Drop the text of history events (Core UPDATE: the ORM's append-only guard is for edits)."""
    ids = sorted(set(event_ids))
    if not ids:
        return 0
    table = typing.cast(Table, TicketEvent.__table__)
    session.execute(
        update(table)
        .where(table.c.id.in_(ids), table.c.redacted.is_(False))
        .values(message=None, data={}, redacted=True)
    )
    return len(ids)


def _forget_tickets(session: Session, tickets: list[Ticket], marker: str) -> int:
    for ticket in tickets:
        ticket.contact_name = ticket.contact_email = ticket.contact_phone = None
        ticket.availability = ticket.details = ticket.resolution_note = None
        ticket.query = marker
        ticket.email_message_id = None
    session.flush()
    events = session.scalars(select(TicketEvent.id).where(TicketEvent.ticket_id.in_([t.id for t in tickets])))
    return _redact(session, events)


def erase(session: Session, email: str, actor: str) -> dict[str, int]:
    """Anonymise everything held about `email`; counts stay. The caller commits (then `compact`)."""
    who = Subject(session, email)
    needles = who.needles()
    own = [*needles, *sorted((n for n in [*who.names, *who.words] if len(n) >= 3), key=len, reverse=True)]
    counts = {"tickets": len(who.tickets), "searches": len(who.searches), "feedback": len(who.feedback)}
    counts["events"] = _forget_tickets(session, who.tickets, ERASED)
    for contact in who.contacts:
        contact.name = contact.email = contact.phone = contact.availability = None
    for search in who.searches:
        search.query = ERASED
    # "Email me when it is fixed" requests: an address and nothing else, so forgotten outright.
    counts["known_issue_watches"] = _rowcount(
        session.execute(delete(ProblemWatch).where(func.lower(ProblemWatch.email) == who.email))
    )
    for item in who.feedback:
        item.query = ERASED if item.query else None
    session.flush()
    # Events elsewhere that quote this customer (a merged ticket's replies, an agent's note).
    others = {c.ticket_id for c in who.contacts} - {t.id for t in who.tickets}
    quoting = []
    for event_id, ticket_id, message, data in session.execute(
        select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.message, TicketEvent.data).where(
            TicketEvent.redacted.is_(False)
        )
    ):
        text = f"{message or ''} {json.dumps(data or {}, ensure_ascii=False)}".lower()
        words = own if ticket_id in others else needles
        if any(n.lower() in text for n in words):
            quoting.append(event_id)
    counts["events"] += _redact(session, quoting)
    counts["swept"] = sweep(session, needles, also=[*who.names, *who.words])
    audit.record(session, actor, "privacy_erase", subject(email), **counts)
    return counts


def sweep(session: Session, needles: list[str], also: Iterable[str] = ()) -> int:
    """Replace `needles` in every text column of every table (but the history and the audit log); in the
    rows that hold one, the `also` strings (the customer's names and words) too."""
    scrubbed = [*needles, *sorted((a for a in also if len(a) >= 3), key=len, reverse=True)]
    if not needles:
        return 0
    changed = 0
    connection = session.connection()
    metadata = MetaData()
    for name in sorted(set(connection.dialect.get_table_names(connection)) - _SWEEP_SKIP):
        table = Table(name, metadata, autoload_with=connection)
        keys = list(table.primary_key.columns)
        columns = [c for c in table.columns if isinstance(c.type, (Text, JSON)) or hasattr(c.type, "length")]
        if len(keys) != 1 or not columns:
            continue
        holds = [func.lower(cast(c, Text)).like(f"%{n.lower()}%") for c in columns for n in needles]
        for row in connection.execute(select(keys[0], *columns).where(or_(*holds))).all():
            values: dict[str, Any] = {}
            for column, value in zip(columns, row[1:], strict=True):
                if isinstance(value, str):
                    new: Any = _scrub(value, scrubbed)
                elif value is not None:
                    new = json.loads(_scrub(json.dumps(value, ensure_ascii=False), scrubbed))
                else:
                    continue
                if new != value:
                    values[column.name] = new
            if values:
                connection.execute(update(table).where(keys[0] == row[0]).values(values))
                changed += 1
    return changed


def purge(session: Session, *, search_days: int, ticket_days: int, actor: str = "retention",
          now: dt.datetime | None = None) -> dict[str, int]:  # fmt: skip
    """Anonymise what is past retention: searches' (and their feedback's) text older than `search_days`;
    closed tickets' contact details, free text and history text `ticket_days` after they closed. Counts,
    outcomes and articles stay. A value of 0 keeps forever."""
    now = now or utcnow()
    counts = {"searches": 0, "feedback": 0, "tickets": 0, "events": 0}
    if search_days > 0:
        cutoff = now - dt.timedelta(days=search_days)
        searches = (
            update(SearchLog)
            .where(SearchLog.at < cutoff, SearchLog.query.not_in([PURGED, ERASED]))
            .values(query=PURGED)
        )
        counts["searches"] = _rowcount(session.execute(searches))
        said = update(Feedback).where(Feedback.at < cutoff, Feedback.query.is_not(None)).values(query=None)
        counts["feedback"] = _rowcount(session.execute(said))
    if ticket_days > 0:
        cutoff = now - dt.timedelta(days=ticket_days)
        old = list(
            session.scalars(
                select(Ticket).where(
                    Ticket.status.not_in(ACTIVE), Ticket.closed_at.is_not(None), Ticket.closed_at < cutoff,
                    Ticket.query.not_in([PURGED, ERASED]),
                )
            )
        )  # fmt: skip
        contacts = session.scalars(
            select(TicketContact).where(TicketContact.ticket_id.in_([t.id for t in old]))
        )
        for contact in contacts:
            contact.name = contact.email = contact.phone = contact.availability = None
        counts["tickets"] = len(old)
        counts["events"] = _forget_tickets(session, old, PURGED)
    if any(counts.values()):
        audit.record(session, actor, "privacy_purge", None, search_days=search_days, ticket_days=ticket_days,
                     **counts)  # fmt: skip
    return counts


def _rowcount(result: Any) -> int:
    return int(typing.cast(CursorResult[Any], result).rowcount)


def compact(engine: Engine) -> None:
    """On SQLite, rewrite the file and truncate the WAL so erased text leaves the disk, not just the rows."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.exec_driver_sql("VACUUM")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
