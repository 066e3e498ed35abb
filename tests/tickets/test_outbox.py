"""Notifications through the outbox, on SQLite and PostgreSQL, delivered to a real SMTP server on loopback:
every event a customer should hear about sends exactly one email in their language, threaded so that a reply
joins the ticket; teams get their alerts; failures (refused, dropped, 4xx, 5xx) lose and duplicate nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from kb_engine.errors import InvalidQuery, InvalidTransition
from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.mail_intake import intake, parse_message
from kb_engine.helpdesk.models import OutboxMessage, Problem, Ticket
from kb_engine.helpdesk.notifications import Notifier
from kb_engine.helpdesk.outbox import OutboxSender, retry_failed
from kb_engine.helpdesk.routing import load_routing
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.search.searcher import SearchResponse
from tests.conftest import SHIPPED
from tests.smtp_server import free_port, smtp_server

PUBLIC = "https://help.example.com"


@pytest.fixture()
def notifier() -> Notifier:
    return Notifier(
        public_url=PUBLIC, mail_from="IT Support <support@example.com>", reply_to="help@example.com"
    )


@pytest.fixture()
def service(session, clock, notifier) -> TicketService:
    return TicketService(
        session, routing=load_routing(SHIPPED / "routing.yml"), clock=clock, notifier=notifier
    )


@pytest.fixture()
def sessions(engine):
    return make_session_factory(engine)


def sender_for(sessions, url: str, clock, **kwargs) -> OutboxSender:
    return OutboxSender(sessions, smtp_url=url, clock=clock, **kwargs)


def rows(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def open_ticket(service, *, email="zoe@example.com", lang="fr", query="Mon imprimante n'imprime plus", **kw):
    return service.create(
        source="contact_form", query=query, lang=lang, contact_name="Zoé", contact_email=email, **kw
    )


def test_every_customer_event_sends_exactly_one_email_in_their_language(session, service, sessions, clock):
    ticket = open_ticket(service, shown=[{"id": "fr/imprimante", "title": "Réparer l'imprimante"}])
    service.ask_customer(ticket, "alice", "Quel est le modèle de l'imprimante ?")
    service.customer_reply(ticket, "Une HP LaserJet")  # the customer wrote it: no email back
    service.resolve(ticket, "alice", article="fr/imprimante", note="Pilote réinstallé.")
    service.reopen(ticket, "alice", "Le problème est revenu")
    service.close(ticket, "alice", "Remplacée par une neuve")
    session.commit()
    assert [r.kind for r in rows(session)] == ["opened", "question", "resolved", "reopened", "closed"]

    with smtp_server() as (url, mailbox):
        report = sender_for(sessions, url, clock).send_due()
        assert len(report.sent) == 5 and not report.retried and not report.failed
        assert sender_for(sessions, url, clock).send_due().sent == []  # nothing is sent twice
        received = list(mailbox.messages)
    assert all(count == 1 for count in mailbox.ids().values()) and len(received) == 5
    subjects = [str(m["Subject"]) for m in received]
    assert subjects == [
        f"[{ticket.reference}] Nous avons bien reçu votre demande",
        f"[{ticket.reference}] Une question sur votre demande",
        f"[{ticket.reference}] Votre demande est résolue",
        f"[{ticket.reference}] Votre demande est rouverte",
        f"[{ticket.reference}] Votre demande est clôturée",
    ]
    status_link = f"{PUBLIC}/tickets/{ticket.reference}?t={ticket.token}"
    for message in received:
        assert message["To"] == "zoe@example.com"
        assert message["Content-Language"] == "fr"
        assert message["Reply-To"] == "help@example.com"
        assert message["Auto-Submitted"] == "auto-generated"
        assert status_link in message.get_content()
    assert "Quel est le modèle de l'imprimante ?" in received[1].get_content()
    resolved = received[2].get_content()
    assert "Pilote réinstallé." in resolved and f"{PUBLIC}/articles/fr/imprimante" in resolved
    # Threaded: each message answers the previous one of the same request.
    assert received[1]["In-Reply-To"] == received[0]["Message-ID"]
    assert str(received[4]["References"]).split() == [str(m["Message-ID"]) for m in received[:4]]
    assert all(r.status == "sent" and r.attempts == 1 for r in rows(session))


def test_english_customer_gets_english_and_no_contact_means_no_email(session, service):
    english = open_ticket(service, email="bob@example.com", lang="en", query="My printer is jammed")
    service.create(source="search_miss", query="printer jammed", lang="en")  # anonymous miss
    session.commit()
    (row,) = rows(session)
    assert row.ticket_id == english.id and row.lang == "en"
    assert row.subject == f"[{english.reference}] We received your request"


def test_a_reply_to_a_notification_joins_the_ticket_through_mail_in(session, service, sessions, clock):
    ticket = open_ticket(service)
    service.ask_customer(ticket, "alice", "Quel modèle ?")
    session.commit()
    with smtp_server() as (url, mailbox):
        sender_for(sessions, url, clock).send_due()
        question = mailbox.messages[-1]
    answer = EmailMessage()
    answer["From"] = "Zoé <zoe@example.com>"
    answer["To"] = str(question["Reply-To"])
    answer["Subject"] = f"Re: {question['Subject']}"
    answer["Message-ID"] = "<answer-1@example.com>"
    answer["In-Reply-To"] = question["Message-ID"]
    answer["References"] = question["References"] or question["Message-ID"]
    answer.set_content("Une HP LaserJet 4000.\n\n> Quel modèle ?")

    def no_search(query: str) -> SearchResponse:
        raise AssertionError("a reply in a thread is not searched")

    result = intake(
        session,
        service,
        parse_message(bytes(answer)),
        search=no_search,
        public_url=PUBLIC,
        mail_from="support@example.com",
    )
    session.commit()
    assert result.action == "attached" and result.ticket.id == ticket.id
    assert ticket.status == "open"
    assert service.history(ticket)[-1].message == "Une HP LaserJet 4000."


def test_escalation_to_l3_and_l4_tells_the_customer_the_delay_may_be_long_and_alerts_the_team(
    session, service
):
    ticket = open_ticket(
        service, email="max@example.com", lang="en", query="The accounting app crashes on export"
    )
    service.escalate(ticket, "alice", "reproduced, needs desktop support")  # L2: no delay notice
    service.escalate(ticket, "bob", "bug in the export module")  # L3
    service.escalate(ticket, "carol", "vendor bug", vendor="Acme", vendor_ref="ACME-42")  # L4
    session.commit()
    kinds = [(r.kind, r.recipient) for r in rows(session)]
    assert kinds == [
        ("opened", "max@example.com"),
        ("staff_escalation", "desktop-support@example.com"),
        ("delay_notice", "max@example.com"),
        ("staff_escalation", "infrastructure@example.com"),
        ("delay_notice", "max@example.com"),
        ("staff_escalation", "vendor-management@example.com"),
    ]
    l3, l4 = (r for r in rows(session) if r.kind == "delay_notice")
    assert "delay may be long" in l3.body and "engineering team" in l3.body
    assert "outside vendor (Acme)" in l4.body and "What happens next" in l4.body
    alert = rows(session)[3]
    assert "bug in the export module" in alert.body and f"/console/tickets/{ticket.reference}" in alert.body


def test_a_new_p1_alerts_its_team_once(session, service):
    ticket = service.create(
        source="contact_form",
        query="ransomware: all our files are encrypted, whole office down",
        lang="en",
        category="security",
        contact_email="ceo@example.com",
    )
    service.set_priority(ticket, "alice", 1, "confirmed")  # already P1: no second alert
    session.commit()
    alerts = [r for r in rows(session) if r.kind == "staff_p1"]
    assert [(a.recipient, a.ticket_id) for a in alerts] == [("security-team@example.com", ticket.id)]
    assert "ransomware" in alerts[0].subject


def test_problem_resolved_tells_every_linked_customer_once(session, service, clock):
    first = open_ticket(service, email="ann@example.com", lang="en", query="VPN down")
    second = open_ticket(service, email="ben@example.com", lang="fr", query="VPN en panne")
    again = open_ticket(service, email="ann@example.com", lang="en", query="VPN still down")
    survivor = open_ticket(service, email="cat@example.com", lang="en", query="vpn broken")
    merged = open_ticket(service, email="dan@example.com", lang="en", query="cannot connect to vpn")
    service.merge(survivor, merged, "alice")
    problem = Problem(title="VPN outage", query="VPN down", status="proposed", created_at=clock.now)
    session.add(problem)
    for ticket in (first, second, again, survivor):
        service.link_problem(ticket, problem, "alice")
    service.confirm_problem(problem, "alice")
    service.resolve_problem(problem, "alice", "The VPN gateway was restarted.", resolve_tickets=True)
    session.commit()
    fixed = [r for r in rows(session) if r.kind == "problem_fixed"]
    assert sorted(r.recipient for r in fixed) == [
        "ann@example.com",
        "ben@example.com",
        "cat@example.com",
        "dan@example.com",
    ]
    dan = next(r for r in fixed if r.recipient == "dan@example.com")
    assert dan.ticket_id == merged.id and merged.token in dan.body  # their own request's link
    assert next(r for r in fixed if r.recipient == "ben@example.com").lang == "fr"
    # Resolving the tickets with the problem sent no second "resolved" email.
    assert not [r for r in rows(session) if r.kind == "resolved"]


def test_customers_who_asked_from_the_banner_are_told_once_and_forgotten(session, service, sessions, clock):
    from kb_engine.helpdesk.models import ProblemWatch

    linked = open_ticket(service, email="ann@example.com", lang="en", query="VPN down")
    problem = Problem(title="VPN outage", query="VPN down", status="proposed", created_at=clock.now)
    session.add(problem)
    service.link_problem(linked, problem, "alice")
    with pytest.raises(InvalidTransition):  # a proposal is not shown to customers: nothing to wait for
        service.watch_problem(problem, "eve@example.com", "fr")
    service.confirm_problem(
        problem, "alice", banners={"fr": "Le VPN est en panne.", "en": "The VPN is down."}
    )
    service.watch_problem(problem, "Eve@Example.com", "fr")
    service.watch_problem(problem, "eve@example.com ", "fr")  # twice: one request
    service.watch_problem(problem, "ann@example.com", "en")  # also has a linked ticket: told once
    with pytest.raises(InvalidQuery, match="email"):
        service.watch_problem(problem, "not an address", "en")
    session.commit()
    assert session.query(ProblemWatch).count() == 2
    service.resolve_problem(problem, "alice", "The VPN gateway was restarted.")
    session.commit()
    fixed = {r.recipient: r for r in rows(session) if r.kind in ("problem_fixed", "known_issue_fixed")}
    assert sorted(fixed) == ["ann@example.com", "eve@example.com"]
    assert fixed["ann@example.com"].kind == "problem_fixed" and fixed["eve@example.com"].ticket_id is None
    assert session.query(ProblemWatch).count() == 0  # the addresses are not kept
    with smtp_server() as (url, mailbox):
        sender_for(sessions, url, clock).send_due()
        eve = next(m for m in mailbox.messages if m["To"] == "eve@example.com")
    assert eve["Subject"] == "Résolu : VPN outage" and eve["Content-Language"] == "fr"
    body = eve.get_content()
    assert "Le VPN est en panne." in body and "The VPN gateway was restarted." in body
    with pytest.raises(InvalidTransition):
        service.watch_problem(problem, "late@example.com", "en")


def test_smtp_server_down_then_up_nothing_lost_nothing_twice(session, service, sessions, clock):
    for n in range(3):
        open_ticket(service, email=f"user{n}@example.com")
    session.commit()
    port = free_port()
    sender = sender_for(sessions, f"smtp://127.0.0.1:{port}", clock)
    report = sender.send_due()  # nothing listens: connection refused
    assert len(report.retried) == 3
    pending = rows(session)
    assert {r.status for r in pending} == {"pending"} and all("Connection" in r.last_error for r in pending)
    assert all(r.next_attempt_at == clock.now + dt.timedelta(minutes=1) for r in pending)
    with smtp_server(port) as (_url, mailbox):
        assert sender.send_due().sent == []  # not due yet: back-off
        clock.advance(minutes=1)
        assert len(sender.send_due().sent) == 3
        assert sender.send_due().sent == []
        assert sorted(mailbox.ids().values()) == [1, 1, 1]
    assert all(r.status == "sent" and r.attempts == 2 for r in rows(session))


@pytest.mark.parametrize("mode", ["drop", "tempfail"])
def test_dropped_connection_or_4xx_is_retried_with_growing_back_off(session, service, sessions, clock, mode):
    open_ticket(service)
    session.commit()
    with smtp_server() as (url, mailbox):
        sender = sender_for(sessions, url, clock)
        mailbox.mode = mode
        waits = []
        for _ in range(3):
            assert len(sender.send_due().retried) == 1
            (row,) = rows(session)
            waits.append(row.next_attempt_at - clock.now)
            clock.now = row.next_attempt_at
        assert waits == [dt.timedelta(minutes=1), dt.timedelta(minutes=2), dt.timedelta(minutes=4)]
        mailbox.mode = "accept"
        assert len(sender.send_due().sent) == 1
        assert list(mailbox.ids().values()) == [1]
    (row,) = rows(session)
    assert row.status == "sent" and row.attempts == 4


def test_permanent_refusal_fails_the_message_and_retry_queues_it_again(session, service, sessions, clock):
    open_ticket(service)
    session.commit()
    with smtp_server() as (url, mailbox):
        sender = sender_for(sessions, url, clock)
        mailbox.mode = "refuse"
        assert len(sender.send_due().failed) == 1
        (row,) = rows(session)
        assert row.status == "failed" and "550" in row.last_error
        clock.advance(days=1)
        assert sender.send_due().sent == []  # failed stays failed until someone retries it
        mailbox.mode = "accept"
        assert retry_failed(session, now=clock.now) == 1
        session.commit()
        assert len(sender.send_due().sent) == 1
        assert len(mailbox.messages) == 1


def test_a_message_out_of_attempts_is_failed_not_dropped(session, service, sessions, clock):
    open_ticket(service)
    session.commit()
    sender = sender_for(sessions, f"smtp://127.0.0.1:{free_port()}", clock, max_attempts=2)
    assert len(sender.send_due().retried) == 1
    clock.advance(hours=1)
    assert len(sender.send_due().failed) == 1
    (row,) = rows(session)
    assert row.status == "failed" and row.attempts == 2


def test_a_template_override_is_used_and_a_broken_one_falls_back(session, clock, tmp_path: Path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "delay_notice.txt").write_text(
        "Subject: [{{ reference }}] Patience please\n\nDear {{ name }}, this goes to {{ tier }}.\n"
    )
    (tmp_path / "en" / "opened.txt").write_text("Subject: {{ broken(\n\nbody\n")
    notifier = Notifier(public_url=PUBLIC, templates_dir=tmp_path)
    service = TicketService(session, clock=clock, notifier=notifier)
    ticket = open_ticket(service, lang="en")
    service.escalate(ticket, "a", "x")
    service.escalate(ticket, "a", "y")
    session.commit()
    opened, delay = rows(session)
    assert opened.subject == f"[{ticket.reference}] We received your request"  # built-in: override broken
    assert delay.subject == f"[{ticket.reference}] Patience please"
    assert delay.body == "Dear Zoé, this goes to L3.\n"


def test_contact_details_added_later_get_the_confirmation_once(session, service):
    miss = service.create(source="search_miss", query="printer offline", lang="en")
    service.add_contact_details(miss, name="Eve", email="eve@example.com")
    service.add_contact_details(miss, name="Eve", email="eve@example.com", details="still offline")
    session.commit()
    assert [(r.kind, r.recipient) for r in rows(session)] == [("opened", "eve@example.com")]


def test_ticket_change_and_its_message_commit_or_roll_back_together(session, service):
    ticket = open_ticket(service)
    session.commit()
    service.ask_customer(ticket, "alice", "Which model?")
    session.rollback()
    assert [r.kind for r in rows(session)] == ["opened"]
    assert session.get(Ticket, ticket.id).status == "new"


def test_cli_send_list_and_retry(db_url, engine, session, service, runner, clock):
    from kb_engine.cli.main import cli

    open_ticket(service)
    session.commit()
    env = {"KB_DATABASE_URL": db_url, "KB_SMTP_URL": "", "KB_CONFIG": os.devnull}
    result = runner.invoke(cli, ["outbox", "send"], env=env)
    assert result.exit_code == 2 and "KB_SMTP_URL is not set" in result.output
    listed = runner.invoke(cli, ["outbox", "list", "--json"], env=env)
    data = json.loads(listed.output)
    assert data["counts"] == {"pending": 1} and data["messages"][0]["kind"] == "opened"
    with smtp_server() as (url, mailbox):
        mailbox.mode = "refuse"
        sent = runner.invoke(cli, ["outbox", "send", "--json"], env={**env, "KB_SMTP_URL": url})
        assert json.loads(sent.output)["failed"] == 1
        failed = runner.invoke(cli, ["outbox", "list", "--status", "failed"], env=env)
        assert "550" in failed.output and "opened to zoe@example.com" in failed.output
        mailbox.mode = "accept"
        assert "1 message(s) queued again" in runner.invoke(cli, ["outbox", "retry"], env=env).output
        sent = runner.invoke(cli, ["outbox", "send"], env={**env, "KB_SMTP_URL": url})
        assert sent.output.startswith("sent 1,") and len(mailbox.messages) == 1


def test_web_server_sends_the_outbox_itself(app_config, db_url):
    from web import close_app, create_app
    from web.resources import get_db, get_tickets

    with smtp_server() as (url, mailbox):
        app = create_app({**app_config, "SMTP_URL": url, "OUTBOX_POLL_SECONDS": 3600})
        try:
            with app.app_context():
                get_tickets().create(
                    source="contact_form",
                    query="my screen is black",
                    lang="en",
                    contact_email="x@example.com",
                )
                get_db().commit()  # wakes the sender: no waiting for the hour-long poll
            assert mailbox.wait_for(1)
            assert str(mailbox.messages[0]["Subject"]).endswith("We received your request")
        finally:
            app.extensions["kb_periodic"].stop(timeout=60)
            close_app(app)


def test_an_agents_message_emails_the_customer_and_keeps_the_ticket_open(session, service, sessions, clock):
    ticket = open_ticket(service, lang="en", query="VPN drops every hour")
    service.send_message(ticket, "alice", "We are on it; a fix is planned for tonight.\nNothing to do.")
    session.commit()
    assert ticket.status == "open" and ticket.assignee == "alice" and ticket.first_response_at is not None
    assert [r.kind for r in rows(session)] == ["opened", "message"]
    with smtp_server() as (url, mailbox):
        assert len(sender_for(sessions, url, clock).send_due().sent) == 2
        received = list(mailbox.messages)
    news = received[1]
    assert news["Subject"] == f"[{ticket.reference}] News about your request"
    assert "a fix is planned for tonight.\nNothing to do." in news.get_content().replace("\r\n", "\n")
    assert news["In-Reply-To"] == received[0]["Message-ID"]  # threaded like the others
    # The customer's page shows it; a ticket waiting on the customer keeps waiting.
    assert service.customer_history(ticket)[-1]["text"].startswith("Support wrote: We are on it")
    service.ask_customer(ticket, "alice", "Does it still drop?")
    service.send_message(ticket, "alice", "Reminder: tell us if it still drops.")
    assert ticket.status == "waiting_on_customer"


def test_an_agents_message_to_nobody_is_refused_and_changes_nothing(session, service):
    anonymous = service.create(source="search_miss", query="printer jammed", lang="en")
    with pytest.raises(InvalidQuery, match="no contact"):
        service.send_message(anonymous, "alice", "Did you restart it?")
    assert anonymous.status == "new" and rows(session) == []
