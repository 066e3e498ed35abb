"""Email intake: a support email becomes a ticket, and the reply suggests the best articles.

The mail server hands each message to `kb mail-in` (a pipe alias or a `.eml` file). This module parses it
with the standard library (`email.policy.default`): plain text, or HTML only (tags stripped, scripts and
styles dropped), any charset and transfer encoding (quoted-printable accents included); attachments are
listed in the ticket (name, type, size), never stored.

A message is part of an existing ticket's thread, and attached to it as the customer's reply, only when
both hold:

1. the thread matches: its `In-Reply-To` or `References` name one of the replies we sent (their
   Message-IDs carry the ticket reference and a MAC keyed by the ticket's secret token, so they cannot be
   forged), the Message-ID of the email that opened the ticket (`Ticket.email_message_id`) or that of a
   reply already attached (`customer_reply` events keep theirs);
2. and its sender is one of that ticket's contacts.

A `From` is easy to forge and a reference in the subject (`[KB-000123]`) is no secret: a message that
names a ticket in its subject, or whose thread matches but whose sender is not a contact, opens a new
ticket linked to that one as "possibly related" (an event agents see), and never reopens or changes it.
Anything else opens a new ticket (source `email`); a message delivered twice (same Message-ID) changes
nothing. Automatic mail (`Auto-Submitted`, bulk or list mail, bounces) is ignored: answering it could loop.
The reply is written in the customer's language with links to the best articles (`?ch=email`: views and
"solved" reached from it count as email deflections); it carries `Auto-Submitted: auto-replied`.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import functools
import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery, InvalidTransition, KBError
from kb_engine.helpdesk.mail_ids import reply_message_id, ticket_of_our_id
from kb_engine.helpdesk.mail_stream import SIZE_HEADER
from kb_engine.helpdesk.models import Ticket, TicketEvent, utcnow
from kb_engine.helpdesk.recurring import RecurringRules, flag_recurring
from kb_engine.helpdesk.similarity import Embed
from kb_engine.helpdesk.tickets import LIMITS, TicketService
from kb_engine.helpdesk.tickets.rules import check_email
from kb_engine.insights import analytics
from kb_engine.search.searcher import SearchResponse

REFERENCE_IN_SUBJECT = re.compile(r"\[(KB-\d{6,})\]", re.IGNORECASE)
QUERY_CHARS = 1000  # the subject and the start of the message are what we search with
AUTOMATIC_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)@", re.IGNORECASE)
REPLY_LANGUAGES = ("en", "fr")


class MailError(KBError):
    """The message cannot be used (no sender, not an email): the mail server should not retry it."""

    status = 422
    code = "bad_mail"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int

    def describe(self) -> str:
        return f"{self.filename} ({self.content_type}, {_size(self.size)})"


@dataclass
class IncomingMail:
    """What intake needs from one message."""

    message_id: str | None
    subject: str
    sender_name: str
    sender: str
    body: str
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    attachments: list[Attachment] = field(default_factory=list)
    automatic: bool = False

    @property
    def reply_body(self) -> str:
        """The body without the quoted earlier messages and the signature (what the customer wrote now)."""
        return strip_quoted(self.body)


@dataclass
class IntakeResult:
    """What happened to a message: `created`, `attached`, `duplicate` or `ignored`."""

    action: str
    ticket: Ticket | None
    response: SearchResponse | None = None
    reply: EmailMessage | None = None

    @property
    def reference(self) -> str | None:
        return self.ticket.reference if self.ticket is not None else None


# -- parsing --------------------------------------------------------------------------------------------
class _TextExtractor(HTMLParser):
    """HTML → plain text: drops script/style/head, keeps line breaks at block ends, link targets."""

    BLOCKS = frozenset(
        ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre")
    )
    SKIP = frozenset(("script", "style", "head", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML email body (no tags, no scripts or styles, entities decoded)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTE_HEADER = re.compile(
    r"^\s*(on .{3,200} wrote:|le .{3,200} a écrit\s?:|-{2,}\s*original message\s*-{2,}|"
    r"-{2,}\s*message d'origine\s*-{2,}|from: .+|de\s?: .+)\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: stops at the quoted earlier message or the signature ("-- ")."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == "--" or _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _ids(value: Any) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(value or ""))


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


def _is_automatic(msg: EmailMessage, sender: str) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in {"bulk", "junk", "list"}
        or msg.get("List-Id") is not None
        or bool(AUTOMATIC_SENDERS.match(sender))
    )


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _one_line(text: str) -> str:
    """A header value fit to be written back into a header: no CR, LF or other control characters."""
    return " ".join(_CONTROLS.sub(" ", text).split())


def _is_email(address: str) -> bool:
    try:
        return check_email("contact_email", address) is not None
    except InvalidQuery:
        return False


def parse_message(raw: bytes) -> IncomingMail:
    """Parse one RFC 5322 message (bytes as the mail server hands them over).

    Raises:
        MailError: no usable sender address, nothing that looks like an email, or a message the email
            package cannot read (any error it raises becomes this one: the mail server bounces it).
    """
    try:
        return _parse(raw)
    except MailError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a malformed message makes the parser raise
        raise MailError(f"the message cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _parse(raw: bytes) -> IncomingMail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or (msg.get("From") is None and msg.get("Message-ID") is None):
        raise MailError("not an email message (no From or Message-ID header)")
    addresses = getaddresses([str(msg.get("From") or "")])
    name, sender = next(((n, a) for n, a in addresses if _is_email(a)), ("", ""))
    if not sender:
        raise MailError("the message has no sender address to answer")
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        content = body_part.get_content()
        body = html_to_text(content) if body_part.get_content_type() == "text/html" else content
    attachments = []
    for part in msg.iter_attachments():
        counted = str(part.get(SIZE_HEADER) or "")  # the body was left out by mail_stream.read_message
        size = int(counted) if counted.isdigit() else len(part.get_payload(decode=True) or b"")
        attachments.append(Attachment(part.get_filename() or "(unnamed)", part.get_content_type(), size))
    references = _ids(msg.get("In-Reply-To")) + _ids(msg.get("References"))
    message_ids = _ids(msg.get("Message-ID"))
    return IncomingMail(
        message_id=message_ids[0] if message_ids else None,
        subject=_one_line(str(msg.get("Subject") or "")),
        sender_name=_one_line(name),
        sender=sender.strip().lower(),
        body=body.replace("\r\n", "\n").strip(),
        references=list(dict.fromkeys(references)),
        attachments=attachments,
        automatic=_is_automatic(msg, sender),
    )


# -- threads --------------------------------------------------------------------------------------------
def _ticket_with_message(session: Session, message_id: str) -> Ticket | None:
    """The ticket opened by, or already holding, the email with this Message-ID."""
    ticket = session.scalar(select(Ticket).where(Ticket.email_message_id == message_id))
    if ticket is not None:
        return ticket
    # JSON columns differ between SQLite and PostgreSQL: a text match first, then an exact check.
    events = session.scalars(
        select(TicketEvent).where(
            TicketEvent.kind == "customer_reply", cast(TicketEvent.data, String).contains(message_id)
        )
    )
    for event in events:
        if (event.data or {}).get("message_id") == message_id:
            return event.ticket
    return None


def _named_ticket(session: Session, mail: IncomingMail) -> tuple[Ticket | None, bool]:
    """The ticket the message names, and whether its thread proves it (True) or only its subject does."""
    for ref in mail.references:
        ticket = ticket_of_our_id(session, ref) or _ticket_with_message(session, ref)
        if ticket is not None:
            return ticket, True
    match = REFERENCE_IN_SUBJECT.search(mail.subject)
    if match:
        return session.scalar(select(Ticket).where(Ticket.reference == match.group(1).upper())), False
    return None, False


def _contacts(session: Session, ticket: Ticket) -> set[str]:
    """Email addresses of the ticket's customer(s), including those that moved to a survivor on a merge."""
    emails = {ticket.contact_email.lower()} if ticket.contact_email else set()
    emails |= {c.email.lower() for c in ticket.contacts if c.email}
    if ticket.merged_into_id is not None:
        survivor = session.get(Ticket, ticket.merged_into_id)
        if survivor is not None:
            emails |= {
                c.email.lower()
                for c in survivor.contacts
                if c.email and c.origin_reference == ticket.reference
            }
    return emails


def find_thread(session: Session, mail: IncomingMail) -> Ticket | None:
    """The ticket whose email thread this message continues, if any: its thread matches and its sender
    is one of the ticket's contacts (see the module's doc)."""
    ticket, proven = _named_ticket(session, mail)
    if ticket is not None and proven and mail.sender in _contacts(session, ticket):
        return ticket
    return None


def possibly_related(session: Session, mail: IncomingMail) -> tuple[Ticket | None, str]:
    """A ticket the message names without joining it (`find_thread` refused), and why it did not."""
    ticket, proven = _named_ticket(session, mail)
    if ticket is None:
        return None, ""
    if not proven:
        return ticket, "its subject names it, but the email is not an answer to its thread"
    return ticket, f"the email answers its thread, but {mail.sender} is not one of its contacts"


# -- intake ---------------------------------------------------------------------------------------------
def _query_of(mail: IncomingMail) -> str:
    subject = REFERENCE_IN_SUBJECT.sub("", mail.subject)
    subject = re.sub(r"^\s*((re|fwd?|tr|réf)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()
    text = " ".join(f"{subject}\n{mail.reply_body}".split())
    return text if len(text) <= QUERY_CHARS else text[:QUERY_CHARS].rsplit(" ", 1)[0]


def _details_of(mail: IncomingMail) -> str:
    details = mail.body
    if mail.attachments:
        listed = "\n".join(f"- {a.describe()}" for a in mail.attachments)
        details += f"\n\nAttachments (not stored; ask the customer if needed):\n{listed}"
    if mail.subject:
        details = f"Subject: {mail.subject}\n\n{details}"
    limit = LIMITS["details"]
    return details if len(details) <= limit else details[: limit - 1] + "…"


def intake(
    session: Session,
    service: TicketService,
    mail: IncomingMail,
    *,
    search: Callable[[str], SearchResponse],
    public_url: str,
    mail_from: str,
    embed: Embed | None = None,
    recurring: RecurringRules | None = None,
    card: Callable[[SearchResponse], str | None] | None = None,
) -> IntakeResult:
    """File one incoming email: a new ticket, or a reply attached to its thread's ticket.

    Args:
        session: the database session (the caller commits).
        service: the ticket service on that session.
        mail: the parsed message.
        search: query → SearchResponse (public articles, `k` of the caller's choosing).
        public_url: base URL of the help centre, for the links in the reply.
        mail_from: our address, the reply's sender.
        embed: query embedding, to attach the ticket to a known problem and flag a customer's recurring
            incident (None: neither is done).
        recurring: when a customer's tickets make a recurring incident (default: RecurringRules()).
        card: the answer card of a search as plain text (None: the reply lists articles only).

    Returns:
        What happened, the ticket, the search made and the reply to send (None for automatic mail and
        duplicates).
    """
    if mail.automatic:
        return IntakeResult("ignored", None)
    if mail.message_id:
        seen = _ticket_with_message(session, mail.message_id)
        if seen is not None:
            return IntakeResult("duplicate", seen)
    thread = find_thread(session, mail)
    related, why = possibly_related(session, mail) if thread is None else (None, "")
    closed_thread = None
    if thread is not None:
        text = mail.reply_body or mail.body or mail.subject
        if mail.attachments:
            text += "\n\n" + "\n".join(f"[attachment: {a.describe()}]" for a in mail.attachments)
        try:
            target = service.customer_reply(thread, text[: LIMITS["message"]], message_id=mail.message_id)
        except InvalidTransition:
            closed_thread = thread.reference  # a closed request takes no replies: this becomes a new one
        else:
            reply = build_reply(
                target, mail, None, public_url=public_url, mail_from=mail_from, lang=target.lang
            )
            return IntakeResult("attached", target, reply=reply)
    query = _query_of(mail) or "(empty email)"
    try:
        response = search(query)
    except InvalidQuery:
        response = SearchResponse(query=query, answered=False, confidence=0.0)
    entry = analytics.log_search(session, response, channel="email", visitor=None)
    details = _details_of(mail)
    if closed_thread:
        details = f"Follow-up of the closed request {closed_thread}.\n\n{details}"[: LIMITS["details"]]
    elif related is not None:
        details = f"Possibly related to request {related.reference}: {why}.\n\n{details}"[: LIMITS["details"]]
    ticket = service.create(
        source="email",
        query=query,
        lang=response.lang,
        shown=[h.to_dict() for h in response.hits],
        category=response.hits[0].category if response.hits else None,
        search_id=entry.id,
        contact_name=mail.sender_name[: LIMITS["contact_name"]] or None,
        contact_email=mail.sender,
        details=details,
    )
    ticket.email_message_id = mail.message_id
    if related is not None:
        # Seen by agents (the console's history), never by the customer; the other ticket is left alone.
        service.note_related(ticket, related, why)
    session.flush()
    problem = service.link_or_propose_problem(ticket, embed) if embed is not None else None
    if embed is not None:
        flag_recurring(service, ticket, embed, recurring)
    known = problem.banner if problem is not None and problem.status == "open" else None
    reply = build_reply(
        ticket,
        mail,
        response,
        public_url=public_url,
        mail_from=mail_from,
        lang=response.lang,
        known=known,
        card=card(response) if card is not None else None,
    )
    return IntakeResult("created", ticket, response=response, reply=reply)


# -- the reply ------------------------------------------------------------------------------------------
# The reply's texts are gettext messages in English; translations live in the library's own catalogue
# (translations/<lang>/LC_MESSAGES/mail.po beside this module, compiled to .mo), read with the standard
# library's gettext so that `kb mail-in` needs no web framework.
LOCALE_DIR = Path(__file__).resolve().parent / "translations"
MAIL_DOMAIN = "mail"


@functools.cache
def reply_catalogue(lang: str) -> gettext.NullTranslations:
    """The reply texts in `lang` (English, the source language, for any language without a catalogue)."""
    return gettext.translation(MAIL_DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def _subject(mail: IncomingMail, reference: str) -> str:
    subject = mail.subject or reference
    if not re.match(r"^\s*(re|réf)\s*:", subject, re.IGNORECASE):
        subject = f"Re: {subject}"
    if reference.lower() not in subject.lower():
        subject = f"{subject} [{reference}]"
    return subject


def build_reply(
    ticket: Ticket,
    mail: IncomingMail,
    response: SearchResponse | None,
    *,
    public_url: str,
    mail_from: str,
    lang: str | None,
    known: str | None = None,
    card: str | None = None,
) -> EmailMessage:
    """The answer to the customer, in their language: the reference, the best articles, the status link.

    `response` None: an acknowledgement that their message joined the ticket (no links: whoever wrote
    into a thread is not necessarily the ticket's customer). `card`: the answer card as plain text (the
    first article's best section in its own words), shown above the links when the engine is confident.
    """
    lang = lang if lang in REPLY_LANGUAGES else REPLY_LANGUAGES[0]
    _ = reply_catalogue(lang).gettext
    base = public_url.rstrip("/")
    reference = ticket.reference or ""
    name = mail.sender_name
    lines = [_("Hello {name},").format(name=name) if name else _("Hello,"), ""]
    if response is None:
        joined = _("Your message has been added to request {reference}. Thank you.")
        lines += [joined.format(reference=reference)]
    else:
        lines += [
            _("We have received your request {reference}. A technician will get back to you.").format(
                reference=reference
            ),
            "",
        ]
        if known:
            lines += [
                _("{banner} No need to report it again: technicians are already working on it.").format(
                    banner=known
                ),
                "",
            ]
        if response.redirect:
            message = response.redirect["message"]
            lines += [_("This does not seem to be for IT support: {message}").format(message=message), ""]
        elif response.hits:
            if card and response.answered:
                lines += [_("This step from our help centre should solve it:"), "", card, ""]
            lines += [_("While you wait, these articles may already solve it:"), ""]
            for n, hit in enumerate(response.hits, 1):
                lines += [f"{n}. {hit.title}", f"   {base}{hit.url}?{urlencode({'ch': 'email'})}"]
            lines.append("")
        status = f"{base}/tickets/{reference}?{urlencode({'t': ticket.token})}"
        lines += [
            _("Follow your request: {url}").format(url=status),
            _("To add information, reply to this email (keep {reference} in the subject).").format(
                reference=reference
            ),
        ]
    lines += ["", "-- ", _("The support desk")]
    reply = EmailMessage()
    reply["From"] = mail_from
    reply["To"] = (
        Address(display_name=mail.sender_name, addr_spec=mail.sender) if mail.sender_name else mail.sender
    )
    reply["Subject"] = _subject(mail, reference)
    reply["Date"] = format_datetime(utcnow().replace(tzinfo=dt.UTC))
    domain = mail_from.rsplit("@", 1)[-1] if "@" in mail_from else urlsplit(base).hostname or "localhost"
    reply["Message-ID"] = reply_message_id(ticket, domain) if reference else make_msgid(domain=domain)
    if mail.message_id:
        reply["In-Reply-To"] = mail.message_id
        reply["References"] = " ".join([*mail.references[-10:], mail.message_id])
    reply["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    reply.set_content("\n".join(lines) + "\n")
    # After set_content, which drops every Content-* header.
    reply["Content-Language"] = lang
    return reply
