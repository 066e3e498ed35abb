"""Declaring webhook endpoints, and reading their delivery log (outbox rows of channel `webhook`)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import socket
import urllib.parse
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, NotFound
from kb_engine.helpdesk.models import OutboxMessage, WebhookEndpoint, utcnow

CHANNEL = "webhook"
EVENTS = (
    "ticket.created",
    "ticket.assigned",
    "ticket.escalated",
    "ticket.resolved",
    "ticket.closed",
    "problem.confirmed",
    "problem.resolved",
    "article.solved",
    "article.not_helped",
)
MAX_ENDPOINTS = 50


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """The URL if webhooks may go there: https to a public address; http and loopback or private ranges
    only when `allow_private` (KB_WEBHOOKS_ALLOW_PRIVATE, for tests and closed networks). InvalidQuery
    with the reason otherwise. Checked when an endpoint is declared and again before each delivery (the
    name may resolve elsewhere by then)."""
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidQuery("a webhook URL starts with https:// and names a host")
    if len(url) > 300:
        raise InvalidQuery("a webhook URL has at most 300 characters")
    if parts.username or parts.password:
        raise InvalidQuery("put no credentials in a webhook URL: the signature authenticates deliveries")
    if allow_private:
        return url
    if parts.scheme != "https":
        raise InvalidQuery("webhooks go over https (http only with KB_WEBHOOKS_ALLOW_PRIVATE)")
    host = parts.hostname
    try:
        addresses = {host} if _is_ip(host) else {i[4][0] for i in socket.getaddrinfo(host, parts.port or 443)}
    except socket.gaierror as exc:
        if not resolve:
            return url
        raise InvalidQuery(f"the webhook host {host} does not resolve: {exc.strerror}") from exc
    if any(_private(str(a).split("%", 1)[0]) for a in addresses):
        raise InvalidQuery(
            f"{host} is a loopback, private or reserved address: webhooks go to public hosts "
            "(KB_WEBHOOKS_ALLOW_PRIVATE allows others)"
        )
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def add_endpoint(
    session: Session,
    url: str,
    events: list[str],
    actor: str,
    *,
    allow_private: bool,
    secret: str | None = None,
) -> WebhookEndpoint:
    """Declare an endpoint (its secret generated unless given); InvalidQuery on a bad URL or event."""
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise InvalidQuery(f"events are some of {', '.join(EVENTS)}; got {', '.join(unknown) or 'none'}")
    count = len(session.scalars(select(WebhookEndpoint.id)).all())
    if count >= MAX_ENDPOINTS:
        raise InvalidQuery(f"at most {MAX_ENDPOINTS} webhook endpoints")
    secret = secret or secrets.token_urlsafe(32)
    if not 16 <= len(secret) <= 128:
        raise InvalidQuery("a webhook secret has 16 to 128 characters")
    row = WebhookEndpoint(
        url=check_url(url, allow_private=allow_private),
        secret=secret,
        events=[e for e in EVENTS if e in events],
        active=True,
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def remove_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """Stop an endpoint (kept, inactive, with its delivery log; its pending deliveries are not sent)."""
    row = get_endpoint(session, endpoint_id)
    row.active = False
    return row


def deliveries(session: Session, *, endpoint_id: int | None = None, limit: int = 100) -> list[OutboxMessage]:
    """The delivery log, newest first."""
    stmt = select(OutboxMessage).where(OutboxMessage.channel == CHANNEL).order_by(OutboxMessage.id.desc())
    if endpoint_id is not None:
        stmt = stmt.where(OutboxMessage.dedupe_key.like(f"webhook:{endpoint_id}:%"))
    return list(session.scalars(stmt.limit(limit)))


def send_again(session: Session, delivery_id: int, *, now: dt.datetime | None = None) -> OutboxMessage:
    """Queue a delivery again now, whatever its state (a failed one, or one the receiver lost)."""
    row = session.get(OutboxMessage, delivery_id)
    if row is None or row.channel != CHANNEL:
        raise NotFound(f"no webhook delivery {delivery_id}")
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == delivery_id)
        .values(
            status="pending", attempts=0, next_attempt_at=now or utcnow(), claimed_by=None, claimed_at=None
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    return row


def delivery_to_dict(row: OutboxMessage) -> dict[str, Any]:
    iso = lambda v: v.isoformat(timespec="seconds") if v else None  # noqa: E731
    return {
        "id": row.id,
        "event": row.subject,
        "delivery": row.message_id,
        "url": row.recipient,
        "ticket_id": row.ticket_id,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": iso(row.created_at),
        "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
    }
