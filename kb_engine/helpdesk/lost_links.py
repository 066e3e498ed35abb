""" "Lost your link?": email a customer the private links of their open requests.

The page answers the same whether or not the address is known (nobody learns who has a request); an
address gets at most `PER_EMAIL` such emails per `WINDOW` (counted in the outbox itself), so the form
cannot be used to flood an inbox. The per-visitor limit is the caller's (`limits.record`, action
`lost_link`). The message goes through the outbox like every other customer email.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import OutboxMessage, Ticket, utcnow
from kb_engine.helpdesk.notifications import Notifier

KIND = "links"
PER_EMAIL = 3
WINDOW = dt.timedelta(hours=1)
MAX_LINKS = 20


def open_requests(session: Session, email: str) -> list[Ticket]:
    """The requests opened with `email` (case-insensitive) that are not closed, newest first; a request
    merged into another counts as open while the one carrying it on is (its own link follows that one)."""
    address = email.strip().lower()
    found = session.scalars(
        select(Ticket).where(func.lower(Ticket.contact_email) == address).order_by(Ticket.id.desc())
    ).all()
    out = []
    for ticket in found:
        survivor = ticket
        seen = {ticket.id}
        while survivor.merged_into_id is not None:
            nxt = session.get(Ticket, survivor.merged_into_id)
            if nxt is None or nxt.id in seen:
                break
            seen.add(nxt.id)
            survivor = nxt
        if survivor.status != "closed":
            out.append(ticket)
    return out[:MAX_LINKS]


def send_links(
    session: Session, notifier: Notifier, email: str, lang: str | None, *, now: dt.datetime | None = None
) -> OutboxMessage | None:
    """Queue the email listing `email`'s open requests with their private links. Nothing is queued for an
    address without open requests, or one that already got `PER_EMAIL` of them within `WINDOW`."""
    now = now or utcnow()
    address = email.strip().lower()
    recent = session.scalar(
        select(func.count()).where(
            OutboxMessage.kind == KIND,
            OutboxMessage.recipient == address,
            OutboxMessage.created_at > now - WINDOW,
        )
    )
    if recent and recent >= PER_EMAIL:
        return None
    tickets = open_requests(session, address)
    if not tickets:
        return None
    language = notifier.language(lang or tickets[0].lang)
    requests = [
        {"reference": t.reference, "query": (t.query or "")[:200], "status_url": notifier.status_url(t)}
        for t in tickets
    ]
    return notifier.queue_standalone(session, KIND, address, language, {"requests": requests}, now=now)
