"""Delivering webhook rows: the outbox's sender (claim, lease, retry with back-off, failed after the
attempts; `kb_engine.helpdesk.outbox`) with an HTTP transport, and one more rule: a row waits while an
earlier row of the same ticket to the same URL is not delivered, so a receiver sees a ticket's events in
the order they happened, even across retries."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import OutboxMessage, WebhookEndpoint
from kb_engine.helpdesk.outbox import OutboxSender
from kb_engine.integrations.webhooks.endpoints import CHANNEL, check_url
from kb_engine.integrations.webhooks.signing import SIGNATURE_HEADER, sign

TIMEOUT_SECONDS = 10
USER_AGENT = "kb-engine-webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not take the delivery (an error status, a timeout, a refused connection)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer, not somewhere else to post the signed body


def post(request: Request, timeout: float = TIMEOUT_SECONDS) -> None:
    """POST one delivery; DeliveryFailed unless the receiver answers 2xx."""
    opener = urllib.request.build_opener(_NoRedirect)
    http = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
    try:
        with opener.open(http, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        # 410 Gone: the receiver says this endpoint is no more. Anything else may pass: retried.
        raise DeliveryFailed(f"HTTP {exc.code} {exc.reason}", permanent=exc.code == 410) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


class WebhookSender(OutboxSender):
    """Claims and delivers the webhook rows that are due, signed, in order per ticket and URL.

    Args:
        sessions: a session factory on the ticket store.
        allow_private: KB_WEBHOOKS_ALLOW_PRIVATE (loopback, private ranges and http allowed).
        transport: sends one Request (default: an HTTP POST); tests may give their own.
        Other arguments: as OutboxSender (clock, lease, max_attempts, retry_base, retry_max).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        allow_private: bool | Callable[[], bool] = False,
        transport: Any = None,
        **kwargs: Any,
    ) -> None:
        # A callable is read before each delivery (a web server's live settings).
        self._allow_private = allow_private
        self._post = transport or post
        super().__init__(sessions, transport=self._checked_post, channel=CHANNEL, **kwargs)

    @classmethod
    def from_settings(
        cls, sessions: sessionmaker[Session], settings: Mapping[str, Any], **kwargs: Any
    ) -> WebhookSender:
        return cls(
            sessions,
            allow_private=lambda: bool(settings["WEBHOOKS_ALLOW_PRIVATE"]),
            lease=dt.timedelta(seconds=int(settings["OUTBOX_LEASE_SECONDS"])),
            max_attempts=int(settings["OUTBOX_MAX_ATTEMPTS"]),
            retry_max=dt.timedelta(seconds=int(settings["OUTBOX_RETRY_MAX_SECONDS"])),
            **kwargs,
        )

    def _due(self, now: dt.datetime) -> Any:
        earlier = aliased(OutboxMessage)
        blocked = exists(
            select(earlier.id).where(
                earlier.channel == CHANNEL,
                earlier.ticket_id == OutboxMessage.ticket_id,
                earlier.recipient == OutboxMessage.recipient,
                earlier.id < OutboxMessage.id,
                earlier.status != "sent",
            )
        )
        return and_(super()._due(now), ~blocked)

    def prepare(self, row: OutboxMessage) -> Request:
        endpoint_id = int((row.headers or {}).get("endpoint", 0))
        with self.sessions() as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            secret = endpoint.secret if endpoint is not None else ""
            active = endpoint is not None and endpoint.active
        body = row.body.encode("utf-8")
        return Request(
            url=row.recipient if active else "",
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "KB-Event": row.subject,
                "KB-Delivery": row.message_id,
                SIGNATURE_HEADER: sign(secret, body),
            },
        )

    @property
    def allow_private(self) -> bool:
        allow = self._allow_private
        return bool(allow() if callable(allow) else allow)

    def _checked_post(self, request: Request) -> None:
        if not request.url:
            raise DeliveryFailed("the endpoint was removed", permanent=True)
        try:
            check_url(request.url, allow_private=self.allow_private)
        except InvalidQuery as exc:
            raise DeliveryFailed(exc.message, permanent=True) from None
        self._post(request)

    def permanent(self, exc: Exception) -> bool:
        return isinstance(exc, DeliveryFailed) and exc.permanent


def payload_of(row: OutboxMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.body)
    return data


def webhook_jobs(sessions: sessionmaker[Session], settings: Mapping[str, Any]) -> list[Any]:
    """The web server's background job delivering webhooks (with the outbox's, when it sends in process)."""
    from kb_engine.helpdesk.periodic import Job

    if not settings["OUTBOX_IN_PROCESS"]:
        return []
    sender = WebhookSender.from_settings(sessions, settings)

    def deliver() -> int:
        total = 0
        while sent := len(sender.send_due().sent):
            total += sent
        return total

    return [Job("webhooks", float(settings["OUTBOX_POLL_SECONDS"]), deliver, first=0)]
