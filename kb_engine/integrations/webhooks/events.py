"""Events for webhooks, queued as outbox rows in the same transaction as the change they tell about.

`install()` listens to every SQLAlchemy session's flush: new ticket history events (created, assigned,
escalated, resolved, closed), problems confirmed or resolved, and customers' "solved" / "did not help" on
an article become one row per active endpoint subscribed to the event, of channel `webhook`, written with
the flush's own connection, so a change and its events commit or roll back together. The desk itself
knows nothing of webhooks (this room imports the desk, never the reverse).

Payload (stable; fields may be added, never removed)::

    {"id": "<uuid: the delivery's id, also in KB-Delivery>", "type": "ticket.escalated",
     "created_at": "2026-12-06T01:02:03Z",
     "data": {"ticket": {"reference", "status", "tier", "team", "assignee", "priority", "category",
                         "lang", "source", "query", "url"},
              "actor": "ana", "message": "why, when the change says it", "details": {...}}}

`problem.*` carry `data.problem` (`id`, `title`, `status`); `article.*` carry
`data.article` (`id`) and `data.query`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import weakref
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import (
    Feedback,
    OutboxMessage,
    Problem,
    Ticket,
    TicketEvent,
    WebhookEndpoint,
    utcnow,
)
from kb_engine.integrations.webhooks.endpoints import CHANNEL

TICKET_KINDS = {
    "created": "ticket.created",
    "assigned": "ticket.assigned",
    "taken": "ticket.assigned",
    "escalated": "ticket.escalated",
    "resolved": "ticket.resolved",
    "closed": "ticket.closed",
}
FEEDBACK_KINDS = {"solved": "article.solved", "not_helpful": "article.not_helped"}
PROBLEM_STATUSES = {"open": "problem.confirmed", "resolved": "problem.resolved"}
QUEUED = "kb_webhooks_queued"  # session.info flag: this transaction queued deliveries
_config: dict[str, Any] = {"public_url": "", "installed": False}


def install(public_url: str = "") -> None:
    """Queue webhook events from every session of this process (idempotent); `public_url` (KB_PUBLIC_URL)
    makes the console links in payloads absolute."""
    _config["public_url"] = (public_url or "").rstrip("/")
    if not _config["installed"]:
        sa_event.listen(Session, "after_flush", _after_flush)
        _config["installed"] = True


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def ticket_data(ticket: Ticket) -> dict[str, Any]:
    return {
        "reference": ticket.reference,
        "status": ticket.status,
        "tier": ticket.tier,
        "team": ticket.team,
        "assignee": ticket.assignee,
        "priority": ticket.effective_priority,
        "category": ticket.category,
        "lang": ticket.lang,
        "source": ticket.source,
        "query": ticket.query,
        "url": f"{_config['public_url']}/console/tickets/{ticket.reference}",
    }


def _collect(session: Session) -> list[tuple[str, int | None, dt.datetime, dict[str, Any]]]:
    """(event type, ticket id for ordering, when, data) for what this flush wrote, in order."""
    found: list[tuple[int, str, int | None, dt.datetime, dict[str, Any]]] = []
    for obj in session.new:
        if isinstance(obj, TicketEvent) and obj.kind in TICKET_KINDS and obj.ticket is not None:
            details = {k: v for k, v in (obj.data or {}).items() if k != "packet"}
            data = {
                "ticket": ticket_data(obj.ticket),
                "actor": obj.actor,
                "message": obj.message,
                "details": details,
            }
            found.append((obj.id, TICKET_KINDS[obj.kind], obj.ticket_id, obj.at or utcnow(), data))
        elif isinstance(obj, Feedback) and obj.kind in FEEDBACK_KINDS:
            data = {"article": {"id": obj.article_id}, "query": obj.query}
            found.append((1 << 60, FEEDBACK_KINDS[obj.kind], None, utcnow(), data))
    for obj in session.dirty:
        if isinstance(obj, Problem):
            history = inspect(obj).attrs.status.history
            if history.added and history.added[0] in PROBLEM_STATUSES and history.deleted:
                data = {"problem": {"id": obj.id, "title": obj.title, "status": obj.status}}
                found.append((1 << 61, PROBLEM_STATUSES[obj.status], None, utcnow(), data))
    found.sort(key=lambda f: f[0])
    return [(kind, ticket_id, at, data) for _, kind, ticket_id, at, data in found]


_tables: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _has_endpoints_table(connection: Any) -> bool:
    engine = connection.engine
    if engine not in _tables:
        _tables[engine] = inspect(connection).has_table(WebhookEndpoint.__tablename__)
    return _tables[engine]


def _after_flush(session: Session, _context: Any) -> None:
    if not any(isinstance(o, TicketEvent | Feedback) for o in session.new) and not any(
        isinstance(o, Problem) for o in session.dirty
    ):
        return
    events = _collect(session)
    if not events:
        return
    connection = session.connection()
    if not _has_endpoints_table(connection):
        return  # a database not migrated to 0013 yet (kb_engine.helpdesk.db.upgrade brings it)
    endpoints = connection.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.events).where(WebhookEndpoint.active)
    ).all()
    rows = []
    for kind, ticket_id, at, data in events:
        for endpoint_id, url, subscribed in endpoints:
            if kind not in (subscribed or []):
                continue
            delivery = str(uuid.uuid4())
            payload = {"id": delivery, "type": kind, "created_at": _iso(at), "data": data}
            rows.append(
                {
                    "created_at": utcnow(),
                    "kind": "webhook",
                    "channel": CHANNEL,
                    "ticket_id": ticket_id,
                    "recipient": url,
                    "subject": kind,
                    "body": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                    "headers": {"endpoint": str(endpoint_id)},
                    "message_id": delivery,
                    "dedupe_key": f"webhook:{endpoint_id}:{delivery}",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": utcnow(),
                }
            )
    if rows:
        connection.execute(insert(OutboxMessage), rows)
        session.info[QUEUED] = True  # a web server wakes its webhook job after the commit
