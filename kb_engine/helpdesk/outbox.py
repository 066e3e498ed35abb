"""The outbox sender: delivers the messages the ticket service queued (kb_engine.helpdesk.notifications).

One pass (`OutboxSender.send_due`, run by `kb outbox send` from cron and by a thread of each web server):

1. **Claim** a due row in a short transaction: pending rows whose `next_attempt_at` has come, and rows a
   sender claimed more than `lease` ago without finishing (it died). On PostgreSQL the rows are read with
   `SELECT … FOR UPDATE SKIP LOCKED`, so several servers each take different rows; on both databases the
   claim is a conditional UPDATE (status and claim unchanged since read) whose row count says who won.
   The claim (`status = sending`, a unique `claimed_by`, `attempts + 1`) is committed before any SMTP.
2. **Send** the claimed row by SMTP, with the Message-ID it was given when queued; then the next row.
3. **Mark** it: `sent`; or, when the server could not be reached, dropped the connection or answered 4xx,
   `pending` again after a back-off (1 min, 2, 4 … up to `KB_OUTBOX_RETRY_MAX_SECONDS`); or `failed` when
   it refused for good (5xx) or after `KB_OUTBOX_MAX_ATTEMPTS`. The mark only applies while the claim is
   still ours. Nothing is deleted: failed rows wait for `kb outbox retry`.

A sender killed after the SMTP server accepted a message but before step 3 leaves the row `sending`; once
the lease has passed, a sender sends it again, with the same Message-ID. That is the one case where a
customer can get a message twice (at most once more per such crash); see README "Notifications".
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kb_engine.helpdesk.models import OutboxMessage, utcnow
from kb_engine.helpdesk.smtp import is_permanent, parse_smtp_url, send_smtp

log = logging.getLogger(__name__)

Transport = Callable[[Any], None]  # sends what `prepare` made of a row (an EmailMessage for email)


@dataclass
class SendReport:
    """What one pass did, by row id."""

    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lost_claims: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "retried": len(self.retried),
            "failed": len(self.failed),
            "lost_claims": len(self.lost_claims),
        }


def build_message(row: OutboxMessage) -> EmailMessage:
    """The email of an outbox row, exactly as queued (the same Message-ID on every attempt)."""
    message = EmailMessage()
    headers = dict(row.headers or {})
    message["From"] = headers.pop("From", "")
    message["To"] = headers.pop("To", row.recipient)  # a queued email may carry the name with the address
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at.replace(tzinfo=dt.UTC))
    message["Message-ID"] = row.message_id
    # RFC 3834: automatic mail; out-of-office robots must not answer it (a reply by a person is welcome).
    # A queued answer to a customer's email says `auto-replied` instead.
    auto = headers.pop("Auto-Submitted", "auto-generated")
    for name, value in headers.items():
        message[name] = value
    message["Auto-Submitted"] = auto
    message.set_content(row.body)
    if row.lang:
        message["Content-Language"] = row.lang  # after set_content, which drops Content-* headers
    return message


# Headers of a ready-made email that its outbox row keeps (the others are rebuilt from the row's columns).
KEPT_HEADERS = ("From", "To", "Reply-To", "In-Reply-To", "References", "Auto-Submitted")


def queue_email(
    session: Session,
    message: EmailMessage,
    *,
    kind: str,
    ticket_id: int | None,
    now: dt.datetime,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a ready-made email (e.g. `kb mail-in`'s answer) as an outbox row in the caller's transaction,
    so that it commits with the change it answers and the sender delivers it with the same retries.

    Returns:
        The row, or None when a row with `dedupe_key` exists already (the email is queued once).
    """
    if dedupe_key and session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    recipient = next((a.addr_spec for a in message["To"].addresses), "") if message["To"] else ""
    headers = {name: str(message[name]) for name in KEPT_HEADERS if message[name] is not None}
    row = OutboxMessage(  # channel email, status pending, no attempt yet: the model's defaults
        created_at=now,
        next_attempt_at=now,
        kind=kind,
        ticket_id=ticket_id,
        recipient=recipient.lower(),
        lang=str(message["Content-Language"] or "") or None,
        subject=str(message["Subject"] or "")[:500],
        body=message.get_content(),
        headers=headers,
        message_id=str(message["Message-ID"]),
        dedupe_key=dedupe_key,
    )
    session.add(row)
    session.flush()
    return row


class OutboxSender:
    """Claims, sends and marks outbox rows (see the module's doc).

    Args:
        sessions: a session factory on the ticket store.
        smtp_url: `KB_SMTP_URL`; or give `transport` instead (a callable sending one EmailMessage).
        clock: the time source (naive UTC), so tests can move time past back-offs and leases.
        lease: how long a claim holds before another sender may take the row over.
        max_attempts: attempts before a row that keeps failing is marked failed.
        retry_base, retry_max: the back-off, doubling from `retry_base` up to `retry_max`.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        smtp_url: str = "",
        transport: Transport | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        lease: dt.timedelta = dt.timedelta(minutes=5),
        max_attempts: int = 20,
        retry_base: dt.timedelta = dt.timedelta(minutes=1),
        retry_max: dt.timedelta = dt.timedelta(hours=1),
        channel: str = "email",
    ) -> None:
        self.channel = channel  # the rows this sender delivers (webhooks are rows of channel `webhook`)
        if transport is None and channel != "email":
            raise ValueError("a sender of another channel than email needs its transport")
        if transport is None:
            parse_smtp_url(smtp_url)  # a wrong URL is a clear error now, not a retry loop later
            transport = lambda message: send_smtp(smtp_url, message)  # noqa: E731
        self.sessions = sessions
        self.transport = transport
        self.clock = clock
        self.lease = lease
        self.max_attempts = max(1, max_attempts)
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    @classmethod
    def from_settings(
        cls, sessions: sessionmaker[Session], settings: Mapping[str, Any], **kwargs: Any
    ) -> OutboxSender:
        return cls(
            sessions,
            smtp_url=str(settings["SMTP_URL"]),
            lease=dt.timedelta(seconds=int(settings["OUTBOX_LEASE_SECONDS"])),
            max_attempts=int(settings["OUTBOX_MAX_ATTEMPTS"]),
            retry_max=dt.timedelta(seconds=int(settings["OUTBOX_RETRY_MAX_SECONDS"])),
            **kwargs,
        )

    # -- one pass --------------------------------------------------------------------------------------
    def send_due(self, limit: int = 100, *, only: list[int] | None = None) -> SendReport:
        """Claim up to `limit` due rows (of `only`, when given), send them and mark them; returns what
        happened."""
        report = SendReport()
        claim = f"{self.name}:{uuid.uuid4().hex[:12]}"
        for _ in range(limit):
            # One row per claim: a sender that dies holds at most the row it was sending, the others
            # stay pending for the next sender instead of waiting for the lease to end.
            claimed = self.claim(claim, 1, only=only)
            if not claimed:
                break
            self._deliver(claimed[0], claim, report)
        return report

    def _due(self, now: dt.datetime) -> Any:
        return and_(
            OutboxMessage.channel == self.channel,
            or_(
                and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at <= now - self.lease),
            ),
        )

    def claim(self, claim: str, limit: int, *, only: list[int] | None = None) -> list[int]:
        """Mark up to `limit` due rows (of `only`, when given) as ours (committed); returns their ids,
        oldest first."""
        now = self.clock()
        due = self._due(now) if only is None else and_(self._due(now), OutboxMessage.id.in_(only))
        with self.sessions() as session, session.begin():
            candidates = session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.claimed_by)
                .where(due)
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time anyway
            ).all()
            claimed = []
            for row_id, status, previous in candidates:
                taken = session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == row_id,
                        OutboxMessage.status == status,
                        (
                            OutboxMessage.claimed_by.is_(None)
                            if previous is None
                            else OutboxMessage.claimed_by == previous
                        ),
                        self._due(now),
                    )
                    .values(
                        status="sending",
                        claimed_by=claim,
                        claimed_at=now,
                        attempts=OutboxMessage.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(row_id)
                    if status == "sending":
                        log.warning("outbox row %s: claim of %s expired, sending again", row_id, previous)
        return claimed

    def _deliver(self, row_id: int, claim: str, report: SendReport) -> None:
        with self.sessions() as session:
            row = session.get(OutboxMessage, row_id)
            if row is None or row.claimed_by != claim:
                report.lost_claims.append(row_id)
                return
            message = self.prepare(row)
            attempts = row.attempts
        try:
            self.transport(message)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row, none is lost
            self._failed(row_id, claim, attempts, exc, report)
            return
        self._mark(row_id, claim, report.sent, status="sent", sent_at=self.clock(), last_error=None)

    def prepare(self, row: OutboxMessage) -> Any:
        """What the transport sends for a row (an email here; a sender of another channel overrides it)."""
        return build_message(row)

    def permanent(self, exc: Exception) -> bool:
        """Whether a failure is for good (no retry): the SMTP server's 5xx here."""
        return is_permanent(exc)

    def _failed(self, row_id: int, claim: str, attempts: int, exc: Exception, report: SendReport) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if self.permanent(exc) or attempts >= self.max_attempts:
            log.error("outbox row %s failed for good after %s attempt(s): %s", row_id, attempts, error)
            self._mark(row_id, claim, report.failed, status="failed", last_error=error)
            return
        delay = min(self.retry_max, self.retry_base * 2 ** (attempts - 1))
        log.warning("outbox row %s not sent (attempt %s), retry in %s: %s", row_id, attempts, delay, error)
        self._mark(
            row_id,
            claim,
            report.retried,
            status="pending",
            next_attempt_at=self.clock() + delay,
            claimed_by=None,
            claimed_at=None,
            last_error=error,
        )

    def _mark(self, row_id: int, claim: str, bucket: list[int], **values: Any) -> None:
        with self.sessions() as session, session.begin():
            done = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.claimed_by == claim)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            bucket.append(row_id)
        else:
            log.warning("outbox row %s: claim %s was taken over before it was marked", row_id, claim)


# -- admin ------------------------------------------------------------------------------------------------
def retry_failed(session: Session, ids: list[int] | None = None, *, now: dt.datetime | None = None) -> int:
    """Queue failed rows again (all, or those of `ids`) with a fresh attempt count; returns how many."""
    stmt = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    result = session.execute(
        stmt.values(
            status="pending", attempts=0, next_attempt_at=now or utcnow(), claimed_by=None, claimed_at=None
        ).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    """Rows per status."""
    from sqlalchemy import func

    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in rows}
