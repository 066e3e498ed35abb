"""SQLAlchemy models of the ticket store, search log and feedback (schema owned by Alembic)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True, index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(24), default="new", index=True)
    tier: Mapped[str] = mapped_column(String(4), default="L1", index=True)
    team: Mapped[str | None] = mapped_column(String(80))
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    priority_override: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[float] = mapped_column(Float, default=0.0)
    category: Mapped[str | None] = mapped_column(String(40), index=True)
    lang: Mapped[str | None] = mapped_column(String(8))
    query: Mapped[str] = mapped_column(Text, default="")
    shown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320), index=True)
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    availability: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text)
    vendor: Mapped[str | None] = mapped_column(String(120))
    vendor_ref: Mapped[str | None] = mapped_column(String(120))
    resolution_article: Mapped[str | None] = mapped_column(String(120))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("search_log.id"))
    email_message_id: Mapped[str | None] = mapped_column(String(300), index=True)
    # The address an anonymous visitor opened it from (web pages, API): problems count customers by it.
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="save-update, merge"
    )
    contacts: Mapped[list[TicketContact]] = relationship(back_populates="ticket", order_by="TicketContact.id")
    problem: Mapped[Problem | None] = relationship(back_populates="tickets")

    @property
    def effective_priority(self) -> int:
        return self.priority_override if self.priority_override is not None else self.priority


class TicketContact(Base):
    """Every customer attached to a ticket (several after a merge): nobody's contact is ever lost."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    availability: Mapped[str | None] = mapped_column(String(200))
    origin_reference: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="contacts")


class TicketEvent(Base):
    """Append-only history of a ticket: rows are inserted, never updated or deleted."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set once when personal data is erased or past retention (kb_engine/ops/privacy.py): the text goes,
    # who did what and when stays. The only change the history accepts (migration 0009).
    redacted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    ticket: Mapped[Ticket] = relationship(back_populates="events")


def _refuse_history_change(_mapper: Any, _connection: Any, target: TicketEvent) -> None:
    raise ValueError(f"ticket history is append-only: event {target.id} cannot be changed or deleted")


# The ORM refuses too, before the database triggers of migration 0002 would.
event.listen(TicketEvent, "before_update", _refuse_history_change)
event.listen(TicketEvent, "before_delete", _refuse_history_change)


class Problem(Base):
    """A recurring incident linking several tickets; while open it shows as a banner to customers."""

    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    banner: Mapped[str | None] = mapped_column(Text)
    # The banner in each interface language ({"en": ..., "fr": ...}); `banner` is the default one.
    banners: Mapped[dict[str, str] | None] = mapped_column(JSON)
    query: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    tickets: Mapped[list[Ticket]] = relationship(back_populates="problem", order_by="Ticket.id")

    def banner_for(self, lang: str | None) -> str | None:
        """The customer-facing banner in `lang`, else the default one."""
        return (self.banners or {}).get(lang or "") or self.banner


class ProblemWatch(Base):
    """A customer who saw a known issue's banner and asked to be told when it is fixed (no ticket): an email
    address, kept only until that message is queued."""

    __tablename__ = "problem_watch"
    __table_args__ = (UniqueConstraint("problem_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    lang: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SearchLog(Base):
    __tablename__ = "search_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    query: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    visitor: Mapped[str | None] = mapped_column(String(64), index=True)
    # Who searched, as a keyed hash of the client's address (never the address: analytics.client_key);
    # the dashboard's top queries count distinct clients, so a client dropping its cookies counts once.
    client: Mapped[str | None] = mapped_column(String(64))
    # "Which one are you using?" (issue 26): the facet asked about ("platform") when the question was shown,
    # and the value the results were shown for (chosen on the question, or kept from the session).
    clarify: Mapped[str | None] = mapped_column(String(32))
    facet: Mapped[str | None] = mapped_column(String(32))


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    article_id: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # view | solved | not_helpful
    # Why it did not help, when the customer said (insights.analytics.NOT_HELPFUL_REASONS).
    reason: Mapped[str | None] = mapped_column(String(24))
    query: Mapped[str | None] = mapped_column(Text)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("search_log.id"))
    visitor: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")


class QuestionCandidate(Base):
    """A customer's query that led to "solved" on an article: a candidate `questions` line for authors."""

    __tablename__ = "question_candidate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[str] = mapped_column(String(120), index=True)
    query: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The console language this member chose (web/i18n.py UI_LANGUAGES); None follows their browser.
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True, default=None)


class LoginFailure(Base):
    """A failed staff login, kept for the throttle's window (kb_engine.helpdesk.throttle)."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class AnonymousAction(Base):
    """Something an anonymous visitor created (a ticket, a reply, feedback), kept for the limits' window
    (kb_engine.helpdesk.limits)."""

    __tablename__ = "anonymous_action"
    __table_args__ = (
        Index("ix_anonymous_action_address", "action", "address", "at"),
        Index("ix_anonymous_action_email", "action", "email", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class OutboxMessage(Base):
    """A message owed to someone (a customer's notification, a team's alert), written in the same
    transaction as the change it tells about and delivered by the outbox sender (kb_engine.helpdesk.outbox).

    `status`: pending (due at `next_attempt_at`) → sending (claimed by `claimed_by` at `claimed_at`) →
    sent; or failed (refused for good, or out of attempts; `kb outbox retry` queues it again).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    lang: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Satisfaction(Base):
    """A customer's answer to "Are you satisfied?" about their resolved request: one per ticket. The tier,
    team and category are kept as they were when the customer answered (the dashboard groups by them)."""

    __tablename__ = "satisfaction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    rating: Mapped[str] = mapped_column(String(8))  # good | bad
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16), default="web")  # web | email
    tier: Mapped[str | None] = mapped_column(String(4))
    team: Mapped[str | None] = mapped_column(String(80))
    category: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AuditEntry(Base):
    """One staff action that matters (kb_engine/helpdesk/audit.py); append-only (migration 0009)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(timespec="seconds"),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


class ApiToken(Base):
    """A staff member's personal token for the staff API (kb_engine/integrations/tokens.py): only its
    SHA-256 is kept; it acts as its user, within its scopes, until it expires or is revoked."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists, so a token can be recognised
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebhookEndpoint(Base):
    """An address an admin declared to receive signed events (kb_engine/integrations/webhooks.py); the
    deliveries are outbox rows of channel `webhook`."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(300))
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
