"""What customers and teams are told, as outbox rows written in the same transaction as the change.

The ticket service calls `Notifier.tell_customers` (every customer of a ticket with an email address,
each in their language, with the status link of their own request) and `Notifier.tell_team` (a team's
address from the routing file's `teams:`). Nothing is sent here: `kb_engine.helpdesk.outbox` delivers.

Messages are plain-text Jinja templates (sandboxed), `mail_templates/<lang>/<kind>.txt`, the first line the
subject. A folder named by `KB_MAIL_TEMPLATES_DIR` overrides any of them; an override that fails to render
is logged and the built-in template is used, so a bad edit never loses a message nor fails a ticket change.

Each message is threaded: its Message-ID names the customer's ticket with a MAC keyed by the ticket's token
(`kb_engine.helpdesk.mail_ids`), its References carry the email that opened the ticket and the earlier
messages of the thread, and Reply-To is the address `kb mail-in` reads: a reply joins the ticket.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import FileSystemLoader, TemplateError, TemplateNotFound, Undefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.content.canned import fill
from kb_engine.helpdesk.mail_ids import reply_message_id
from kb_engine.helpdesk.models import OutboxMessage, Ticket, TicketEvent

log = logging.getLogger(__name__)

BUILTIN_TEMPLATES = Path(__file__).parent / "mail_templates"
CUSTOMER_KINDS = (
    "opened",
    "question",
    "message",
    "resolved",
    "reopened",
    "closed",
    "problem_fixed",
    "delay_notice",
    "reminder",
    "links",  # "Lost your link?" (lost_links.py): the open requests of an address, not one ticket's event
)
STAFF_KINDS = ("staff_p1", "staff_escalation", "staff_alert")
THREAD_DEPTH = 10  # earlier messages named in References
QUEUED = "kb_outbox_queued"  # session.info flag: this transaction queued messages


def _environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=Undefined,
        autoescape=False,  # plain-text email
        keep_trailing_newline=True,
    )


@dataclass
class Notifier:
    """Writes the outbox rows of the ticket service's events.

    Args:
        public_url: base of the links in messages (`KB_PUBLIC_URL`).
        mail_from: the sender (`KB_MAIL_FROM`).
        reply_to: where replies go, the address `kb mail-in` reads (`KB_MAIL_REPLY_TO`; empty: mail_from).
        languages: the languages messages exist in, the first the default (`KB_LANGUAGES`).
        templates_dir: a folder of templates overriding the built-in ones (`KB_MAIL_TEMPLATES_DIR`).
    """

    public_url: str = "http://127.0.0.1:5000"
    mail_from: str = "support@example.com"
    reply_to: str = ""
    languages: tuple[str, ...] = ("en", "fr")
    templates_dir: Path | None = None
    _builtin: SandboxedEnvironment = field(init=False, repr=False)
    _custom: SandboxedEnvironment | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._builtin = _environment(BUILTIN_TEMPLATES)
        self._custom = _environment(self.templates_dir) if self.templates_dir else None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Notifier:
        folder = str(settings.get("MAIL_TEMPLATES_DIR") or "")
        return cls(
            public_url=str(settings["PUBLIC_URL"]),
            mail_from=str(settings["MAIL_FROM"]),
            reply_to=str(settings.get("MAIL_REPLY_TO") or ""),
            languages=tuple(settings["LANGUAGES"]) or ("en",),
            templates_dir=Path(folder) if folder else None,
        )

    # -- rendering ---------------------------------------------------------------------------------------
    def language(self, lang: str | None) -> str:
        """The language a message is written in: the customer's if there are templates for it."""
        if lang and (BUILTIN_TEMPLATES / lang).is_dir():
            return lang
        default = self.languages[0] if self.languages else "en"
        return default if (BUILTIN_TEMPLATES / default).is_dir() else "en"

    def render(self, kind: str, lang: str, context: Mapping[str, Any]) -> tuple[str, str]:
        """The subject and body of message `kind` in `lang` (an override first, else the built-in)."""
        name = f"{lang}/{kind}.txt"
        if self._custom is not None:
            try:
                return _split(self._custom.get_template(name).render(context))
            except TemplateNotFound:
                pass
            except (TemplateError, ValueError, TypeError) as exc:
                log.error(
                    "mail template %s in %s not used (built-in instead): %s", name, self.templates_dir, exc
                )
        return _split(self._builtin.get_template(name).render(context))

    @property
    def domain(self) -> str:
        if "@" in self.mail_from:
            return self.mail_from.rsplit("@", 1)[-1].strip(" >")
        return urlsplit(self.public_url).hostname or "localhost"

    def status_url(self, ticket: Ticket) -> str:
        return f"{self.public_url.rstrip('/')}/tickets/{ticket.reference}?{urlencode({'t': ticket.token})}"

    def satisfaction_url(self, ticket: Ticket, rating: str) -> str:
        query = urlencode({"t": ticket.token, "r": rating, "ch": "email"})
        return f"{self.public_url.rstrip('/')}/tickets/{ticket.reference}/satisfaction?{query}"

    def console_url(self, ticket: Ticket) -> str:
        return f"{self.public_url.rstrip('/')}/console/tickets/{ticket.reference}"

    def article_url(self, article: str) -> str:
        return f"{self.public_url.rstrip('/')}/articles/{article}"

    # -- customers ---------------------------------------------------------------------------------------
    def tell_customers(
        self,
        session: Session,
        ticket: Ticket,
        kind: str,
        *,
        now: dt.datetime,
        event: TicketEvent | None = None,
        once: str | None = None,
        only: Iterable[str] | None = None,
        to_reference: str | None = None,
        **context: Any,
    ) -> list[OutboxMessage]:
        """Queue message `kind` for every customer of `ticket` who left an email address.

        Args:
            session: the session of the change (the rows commit or roll back with it).
            ticket: the ticket the event happened on (after a merge: the surviving ticket, whose contacts
                include the merged tickets' customers; each gets their own request's link).
            kind: one of CUSTOMER_KINDS.
            now: the service's clock.
            event: the history event told about (one message per event and customer, whatever happens).
            once: a key making the message once per customer for good (e.g. `problem_fixed:7`).
            only: tell only these addresses (lower case).
            to_reference: tell only the customer who opened this request (one customer of a merged ticket).
            context: values for the template; `{customer_name}` and `{reference}` left in `message` are
                filled for each customer.

        Returns:
            The rows queued (none for a ticket without an email address).
        """
        wanted = {a.lower() for a in only} if only is not None else None
        rows = []
        for address, name, origin in self._customers(session, ticket):
            if wanted is not None and address not in wanted:
                continue
            if to_reference is not None and origin.reference != to_reference:
                continue
            key = f"{once}:{address}" if once else f"{kind}:{event.id}:{address}" if event else None
            if key and session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
                continue
            lang = self.language(origin.lang or ticket.lang)
            values = {
                "reference": origin.reference,
                "name": name or "",
                "query": origin.query,
                "status_url": self.status_url(origin),
                "message": "",
                **context,
            }
            if isinstance(context.get("message"), str):
                mine = {"customer_name": name or None, "reference": origin.reference}
                values["message"] = fill(context["message"], mine)
            if kind == "resolved":  # "Are you satisfied?" with one link per answer
                values["satisfied_url"] = self.satisfaction_url(origin, "good")
                values["unsatisfied_url"] = self.satisfaction_url(origin, "bad")
            rows.append(
                self._queue(
                    session, origin, kind, address, lang, values, now=now, event=event, key=key, threaded=True
                )
            )
        return rows

    def _customers(self, session: Session, ticket: Ticket) -> list[tuple[str, str | None, Ticket]]:
        """(address, name, the customer's own ticket) for each distinct email address on the ticket."""
        found: dict[str, tuple[str, str | None, Ticket]] = {}
        for contact in ticket.contacts:
            if not contact.email:
                continue
            address = contact.email.strip().lower()
            origin = ticket
            if contact.origin_reference and contact.origin_reference != ticket.reference:
                origin = (
                    session.scalar(select(Ticket).where(Ticket.reference == contact.origin_reference))
                    or ticket
                )
            found.setdefault(address, (address, contact.name, origin))
        if ticket.contact_email and ticket.contact_email.strip().lower() not in found:
            address = ticket.contact_email.strip().lower()
            found[address] = (address, ticket.contact_name, ticket)
        return list(found.values())

    def queue_standalone(
        self,
        session: Session,
        kind: str,
        address: str,
        lang: str,
        values: Mapping[str, Any],
        *,
        now: dt.datetime,
        key: str | None = None,
    ) -> OutboxMessage | None:
        """Queue a customer message about no single ticket (not threaded); with `key`, once for good
        (None when a message with that key was queued already)."""
        if key and session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            return None
        return self._queue(
            session, None, kind, address, lang, values, now=now, event=None, key=key, threaded=False
        )

    # -- teams -------------------------------------------------------------------------------------------
    def tell_team(
        self,
        session: Session,
        ticket: Ticket,
        kind: str,
        address: str,
        *,
        now: dt.datetime,
        event: TicketEvent | None = None,
        once: str | None = None,
        **context: Any,
    ) -> OutboxMessage | None:
        """Queue staff message `kind` (one of STAFF_KINDS) about `ticket` to a team's `address`."""
        address = address.strip().lower()
        key = f"{once}:{address}" if once else f"{kind}:{event.id}:{address}" if event else None
        if key and session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            return None
        values = {
            "reference": ticket.reference,
            "query": ticket.query,
            "tier": ticket.tier,
            "team": ticket.team,
            "priority": ticket.effective_priority,
            "console_url": self.console_url(ticket),
            "message": "",
            **context,
        }
        lang = self.language(None)
        return self._queue(
            session, ticket, kind, address, lang, values, now=now, event=event, key=key, threaded=False
        )

    # -- the row -----------------------------------------------------------------------------------------
    def _queue(
        self,
        session: Session,
        ticket: Ticket | None,
        kind: str,
        address: str,
        lang: str,
        values: Mapping[str, Any],
        *,
        now: dt.datetime,
        event: TicketEvent | None,
        key: str | None,
        threaded: bool,
    ) -> OutboxMessage:
        subject, body = self.render(kind, lang, values)
        headers = {"From": self.mail_from, "Reply-To": self.reply_to or self.mail_from}
        if threaded and ticket is not None:
            message_id = reply_message_id(ticket, self.domain)
            thread = self._thread(session, ticket, address)
            if thread:
                headers["In-Reply-To"] = thread[-1]
                headers["References"] = " ".join(thread)
        else:
            message_id = make_msgid(domain=self.domain)
        row = OutboxMessage(
            created_at=now,
            kind=kind,
            channel="email",
            ticket_id=ticket.id if ticket is not None else None,
            event_id=event.id if event is not None else None,
            recipient=address,
            lang=lang,
            subject=subject[:500],
            body=body,
            headers=headers,
            message_id=message_id,
            dedupe_key=key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
        )
        session.add(row)
        session.flush()
        session.info[QUEUED] = True  # a sender in this process may look at once after the commit
        return row

    @staticmethod
    def _thread(session: Session, ticket: Ticket, address: str) -> list[str]:
        """The Message-IDs this customer's thread already has: the email that opened the ticket, then ours."""
        ours = list(
            session.scalars(
                select(OutboxMessage.message_id)
                .where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.recipient == address)
                .order_by(OutboxMessage.id.desc())
                .limit(THREAD_DEPTH)
            )
        )
        first = [ticket.email_message_id] if ticket.email_message_id else []
        return first + ours[::-1]


def _split(text: str) -> tuple[str, str]:
    """A rendered template's subject (its first line, `Subject: …`) and body."""
    head, _, body = text.partition("\n")
    if not head.lower().startswith("subject:"):
        raise ValueError("a mail template starts with a 'Subject: …' line")
    return " ".join(head.split(":", 1)[1].split()), body.lstrip("\n").rstrip() + "\n"
