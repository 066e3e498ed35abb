"""Email intake on SQLite and PostgreSQL, with real .eml files: new tickets, threads, duplicates, replies."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from kb_engine.helpdesk.mail_intake import (
    IncomingMail,
    find_thread,
    html_to_text,
    intake,
    parse_message,
    strip_quoted,
)
from kb_engine.helpdesk.models import SearchLog, Ticket, TicketEvent
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"
PUBLIC = "https://help.example.com"


def eml(name: str) -> bytes:
    return (MAIL / f"{name}.eml").read_bytes()


@pytest.fixture(scope="module")
def searcher(index_dir: Path, model_cache: Path) -> Searcher:
    return Searcher(index_dir, model=MODEL, model_cache=model_cache)


@pytest.fixture()
def file_mail(session, service, searcher):
    def run(raw: bytes):
        result = intake(
            session,
            service,
            parse_message(raw),
            search=lambda q: searcher.search(q, k=3),
            public_url=PUBLIC,
            mail_from="IT Support <support@example.com>",
        )
        session.commit()
        return result

    return run


def as_reply_to(reply: EmailMessage, body: str, *, message_id: str = "<answer-1@example.com>") -> bytes:
    """What the customer's mail program sends when they answer our reply."""
    msg = EmailMessage()
    msg["From"] = reply["To"]
    msg["To"] = reply["From"]
    msg["Subject"] = f"Re: {reply['Subject']}"
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = reply["Message-ID"]
    msg["References"] = f"{reply['References']} {reply['Message-ID']}"
    msg.set_content(body)
    return bytes(msg)


def test_plain_email_becomes_a_ticket_and_the_reply_suggests_articles(file_mail, session) -> None:
    result = file_mail(eml("plain"))
    ticket = result.ticket
    assert result.action == "created" and ticket.source == "email"
    assert ticket.contact_email == "ana.silva@example.com" and ticket.contact_name == "Ana Silva"
    assert ticket.email_message_id == "<20260303091240.4411@mail.example.com>"
    assert ticket.query.startswith("My printer says offline")
    assert "Ana Silva | Accounting" not in ticket.query  # the signature is not searched
    assert ticket.shown[0]["id"] == "en/printer-offline" and ticket.lang == "en"
    reply = result.reply
    assert reply["To"] == "Ana Silva <ana.silva@example.com>"
    assert reply["In-Reply-To"] == ticket.email_message_id
    assert reply["Subject"] == f"Re: My printer says offline [{ticket.reference}]"
    assert reply["Auto-Submitted"] == "auto-replied"
    text = reply.get_content()
    assert f"We have received your request {ticket.reference}" in text
    assert f"{PUBLIC}/articles/en/printer-offline?ch=email" in text
    assert f"{PUBLIC}/tickets/{ticket.reference}?t={ticket.token}" in text
    log = session.scalars(select(SearchLog)).one()
    assert log.channel == "email" and ticket.search_id == log.id


def test_html_only_email_is_read_without_tags_scripts_or_styles(file_mail) -> None:
    ticket = file_mail(eml("html-only")).ticket
    assert "forgot my password & cannot log in" in ticket.details
    assert "Can you help me <urgently>?" in ticket.details
    for leftover in ("<p>", "alert(", "color: red", "ignored title"):
        assert leftover not in ticket.details
    assert ticket.shown[0]["id"] == "en/password-reset"


def test_french_quoted_printable_email_gets_a_french_reply(file_mail) -> None:
    result = file_mail(eml("french-qp"))
    ticket = result.ticket
    assert ticket.contact_name == "Françoise Léger"
    assert "3ème étage apparaît hors ligne" in ticket.details and "bloqués" in ticket.details
    assert ticket.lang == "fr" and ticket.shown[0]["id"] == "fr/printer-offline"
    text = result.reply.get_content()
    assert f"Nous avons bien reçu votre demande {ticket.reference}" in text
    assert f"{PUBLIC}/articles/fr/printer-offline?ch=email" in text
    assert result.reply["Content-Language"] == "fr"


def test_attachment_is_listed_not_stored(file_mail) -> None:
    ticket = file_mail(eml("attachment")).ticket
    assert "vpn-error.png (image/png, 70 B)" in ticket.details
    assert "iVBORw0KGgo" not in ticket.details
    assert ticket.shown[0]["id"] == "en/vpn-cannot-connect"


def test_reply_to_the_customers_first_email_joins_its_ticket(file_mail, session) -> None:
    first = file_mail(eml("plain")).ticket
    result = file_mail(eml("reply"))
    assert result.action == "attached" and result.ticket.id == first.id
    assert session.scalar(select(Ticket.id).where(Ticket.id != first.id)) is None
    event = session.scalars(select(TicketEvent).where(TicketEvent.kind == "customer_reply")).one()
    assert event.message.startswith("I restarted the printer") and "> Hello" not in event.message
    assert event.data["message_id"] == "<20260303114510.4419@mail.example.com>"
    assert f"added to request {first.reference}" in result.reply.get_content()
    assert first.token not in result.reply.get_content()  # no status link for whoever writes in a thread


def test_answers_to_our_reply_and_to_an_attached_reply_join_the_ticket(file_mail, session) -> None:
    created = file_mail(eml("plain"))
    answer = file_mail(as_reply_to(created.reply, "Still offline after a restart."))
    assert answer.action == "attached" and answer.ticket.id == created.ticket.id
    again = file_mail(as_reply_to(answer.reply, "It works now, thanks!", message_id="<answer-2@example.com>"))
    assert again.action == "attached" and again.ticket.id == created.ticket.id
    # A reply whose In-Reply-To names an earlier reply (not ours, not the first email) also joins.
    later = EmailMessage()
    later["From"], later["To"], later["Subject"] = "ana.silva@example.com", "support@example.com", "more"
    later["Message-ID"], later["In-Reply-To"] = "<answer-3@example.com>", "<answer-2@example.com>"
    later.set_content("One more thing.")
    assert file_mail(bytes(later)).ticket.id == created.ticket.id
    assert session.scalar(select(Ticket).where(Ticket.id != created.ticket.id)) is None


def test_forged_reply_ids_and_subject_tokens_from_strangers_open_a_new_ticket(file_mail, session) -> None:
    created = file_mail(eml("plain"))
    reference = created.ticket.reference
    forged = EmailMessage()
    forged["From"], forged["To"] = "mallory@example.net", "support@example.com"
    forged["Subject"] = f"Re: something [{reference}]"
    forged["Message-ID"] = "<forged-1@example.net>"
    forged["In-Reply-To"] = f"<{reference}.0123456789abcdef.0123456789abcdef01234567@example.com>"
    forged.set_content("Please send me the status link.")
    result = file_mail(bytes(forged))
    assert result.action == "created" and result.ticket.id != created.ticket.id


@pytest.mark.parametrize("sender", ["Ana Silva <ANA.SILVA@example.com>", "mallory@example.net"])
def test_a_subject_reference_alone_opens_a_possibly_related_ticket_and_never_reopens(
    file_mail, service, session, sender: str
) -> None:
    """A `From` is easy to forge and the reference in a subject is no secret: without the thread (our
    reply's Message-ID, or the ticket's own emails), the message opens a new ticket linked to the other."""
    created = file_mail(eml("plain"))
    original = created.ticket
    service.resolve(original, "bob", note="restarted the spooler")
    session.commit()
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, "support@example.com"
    msg["Subject"] = f"About [{original.reference}]"
    msg["Message-ID"] = "<new-thread@example.com>"
    msg.set_content("Another detail: it is the HP in room 2.14.")
    result = file_mail(bytes(msg))
    assert result.action == "created" and result.ticket.id != original.id
    assert f"Possibly related to request {original.reference}" in result.ticket.details
    related = [e for e in result.ticket.events if e.kind == "possibly_related"]
    assert related and related[0].data["related"] == original.reference
    session.refresh(original)
    assert original.status == "resolved"  # untouched: not reopened, no reply attached
    assert not [e for e in original.events if e.kind == "customer_reply"]
    # The customer's history does not show the link.
    assert "possibly_related" not in {e["kind"] for e in service.customer_history(result.ticket)}


def test_our_reply_answered_from_another_address_opens_a_possibly_related_ticket(file_mail, session) -> None:
    created = file_mail(eml("plain"))
    forged = email.message_from_bytes(
        as_reply_to(created.reply, "Send me the link"), policy=email.policy.default
    )
    forged.replace_header("From", "Mallory <mallory@example.net>")
    result = file_mail(bytes(forged))
    assert result.action == "created" and result.ticket.id != created.ticket.id
    assert "mallory@example.net is not one of its contacts" in result.ticket.details


def test_the_same_email_delivered_twice_changes_nothing(file_mail, session) -> None:
    first = file_mail(eml("plain"))
    again = file_mail(eml("plain"))
    assert again.action == "duplicate" and again.ticket.id == first.ticket.id and again.reply is None
    assert len(session.scalars(select(Ticket)).all()) == 1


def test_automatic_mail_is_ignored_so_that_robots_never_loop(file_mail, session) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ana.silva@example.com", "support@example.com", "Out of office"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("I am out of the office until Monday.")
    result = file_mail(bytes(msg))
    assert result.action == "ignored" and result.reply is None
    assert session.scalars(select(Ticket)).all() == []


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(file_mail, service, session) -> None:
    first = file_mail(eml("plain")).ticket
    service.close(first, "bob", "fixed")
    session.commit()
    result = file_mail(eml("reply"))
    assert result.action == "created" and result.ticket.id != first.id
    assert f"Follow-up of the closed request {first.reference}" in result.ticket.details


def test_html_to_text_and_strip_quoted() -> None:
    assert html_to_text("<p>a&nbsp;b</p><p>c<br>d</p>") == "a b\n\nc\nd"
    assert strip_quoted("new\n\nLe mar. 3 mars 2026 à 09:12, Ana a écrit :\n> old") == "new"
    assert strip_quoted("new\n> quoted\nafter\n-- \nsig") == "new\nafter"


def test_unusable_messages_are_refused() -> None:
    from kb_engine.helpdesk.mail_intake import MailError

    with pytest.raises(MailError):
        parse_message(b"just some bytes, not an email")
    with pytest.raises(MailError):
        parse_message(b"From: nobody\r\nMessage-ID: <x@y>\r\n\r\nno address")


def test_find_thread_needs_a_reference(session) -> None:
    mail = IncomingMail(message_id=None, subject="hello", sender_name="", sender="a@b.c", body="x")
    assert find_thread(session, mail) is None
