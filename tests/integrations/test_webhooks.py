"""Signed webhooks against a real HTTP receiver on loopback (pytest-httpserver): every event once, in order
per ticket, with a valid signature; a receiver failing for a while loses nothing; URL rules; the CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

from kb_engine.cli.main import cli
from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import Feedback, OutboxMessage
from kb_engine.helpdesk.outbox import OutboxSender
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.integrations.webhooks import add_endpoint, check_url, install, send_again, sign, verify
from kb_engine.integrations.webhooks.delivery import WebhookSender
from tests.tickets.conftest import fresh_postgres_schema

SECRET = "s3cret-for-the-tests-0123456789"


class Receiver:
    """Records every delivery; answers `failures` errors first (a receiver down for a while)."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                self.refused += 1
                return Response("down", status=self.status)
            body = request.get_data()
            self.received.append(
                {
                    "body": body,
                    "payload": json.loads(body),
                    "signature": request.headers.get("KB-Signature", ""),
                    "delivery": request.headers.get("KB-Delivery"),
                    "event": request.headers.get("KB-Event"),
                }
            )
        return Response("ok", status=200)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 6, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Sessions on a migrated ticket store: a SQLite file, or a fresh PostgreSQL schema."""
    with ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'tickets.sqlite3'}"
        if request.param == "postgresql":
            url = stack.enter_context(fresh_postgres_schema("webhooks"))
        engine = make_engine(url)
        upgrade(engine)
        install("https://support.example.com")
        yield make_session_factory(engine)
        engine.dispose()


def endpoint(store: Any, url: str, events: list[str] | None = None) -> int:
    from kb_engine.integrations.webhooks import EVENTS

    with store() as session:
        row = add_endpoint(session, url, events or list(EVENTS), "admin", allow_private=True, secret=SECRET)
        session.commit()
        return row.id


def work_two_tickets(store: Any) -> tuple[str, str]:
    """Two tickets whose changes interleave: created, assigned, escalated, resolved, closed."""
    with store() as session:
        service = TicketService(session)
        a = service.create(source="agent", query="VPN drops every ten minutes", contact_email="a@example.com")
        b = service.create(source="agent", query="printer offline on floor 2")
        session.commit()
        service.assign(a, "ana", "ana")
        service.escalate(b, "ana", "needs the print server team")
        session.commit()
        service.escalate(a, "ana", "tunnel logs show resets")
        service.resolve(b, "bob", note="spooler restarted")
        session.commit()
        service.resolve(a, "bob", note="MTU lowered")
        service.close(b, "bob", "confirmed by the customer")
        session.commit()
        return str(a.reference), str(b.reference)


def deliver_all(sender: WebhookSender, clock: Clock | None = None, rounds: int = 50) -> None:
    for _ in range(rounds):
        report = sender.send_due()
        if clock is not None:
            clock.now += dt.timedelta(hours=1)  # past any back-off
        if not report.sent and not report.retried:
            with sender.sessions() as session:
                if session.query(OutboxMessage).filter_by(channel="webhook", status="pending").count() == 0:
                    return


EXPECTED = {
    "a": ["ticket.created", "ticket.assigned", "ticket.escalated", "ticket.resolved"],
    "b": ["ticket.created", "ticket.escalated", "ticket.resolved", "ticket.closed"],
}


def per_ticket(received: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in received:
        out.setdefault(r["payload"]["data"]["ticket"]["reference"], []).append(r["payload"]["type"])
    return out


def test_every_event_once_in_order_per_ticket_with_a_valid_signature(store, httpserver) -> None:
    receiver = Receiver()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint(store, httpserver.url_for("/hook"))
    a, b = work_two_tickets(store)
    deliver_all(WebhookSender(store, allow_private=True))
    assert per_ticket(receiver.received) == {a: EXPECTED["a"], b: EXPECTED["b"]}
    deliveries = [r["delivery"] for r in receiver.received]
    assert len(deliveries) == len(set(deliveries)) == 8
    for r in receiver.received:
        assert verify(SECRET, r["body"], r["signature"])
        assert not verify("another secret", r["body"], r["signature"])
        assert r["event"] == r["payload"]["type"] and r["delivery"] == r["payload"]["id"]
    escalated = next(r["payload"] for r in receiver.received if r["event"] == "ticket.escalated")
    assert (
        escalated["data"]["actor"] == "ana" and escalated["data"]["message"] == "needs the print server team"
    )
    assert escalated["data"]["ticket"]["url"] == f"https://support.example.com/console/tickets/{b}"
    assert escalated["created_at"].endswith("Z")
    # nothing left to send, and a second pass sends nothing again
    assert WebhookSender(store, allow_private=True).send_due().sent == []
    # the e-mail sender never takes webhook rows
    mails: list[Any] = []
    OutboxSender(store, transport=mails.append).send_due()
    assert all(m["To"] != httpserver.url_for("/hook") for m in mails)


def test_receiver_failing_for_a_while_loses_nothing_and_keeps_the_order(store, httpserver) -> None:
    receiver = Receiver(failures=5)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint(store, httpserver.url_for("/hook"))
    a, b = work_two_tickets(store)
    clock = Clock()
    sender = WebhookSender(store, allow_private=True, clock=clock, max_attempts=50)
    deliver_all(sender, clock)
    assert receiver.refused == 5
    assert per_ticket(receiver.received) == {a: EXPECTED["a"], b: EXPECTED["b"]}
    assert len({r["delivery"] for r in receiver.received}) == len(receiver.received) == 8
    with store() as session:
        rows = session.query(OutboxMessage).filter_by(channel="webhook").all()
        assert {r.status for r in rows} == {"sent"} and max(r.attempts for r in rows) > 1


def test_failed_delivery_holds_the_tickets_later_events_until_sent_again(store, httpserver) -> None:
    receiver = Receiver(failures=2, status=500)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint(store, httpserver.url_for("/hook"), ["ticket.created", "ticket.assigned"])
    with store() as session:
        service = TicketService(session)
        ticket = service.create(source="agent", query="mail bounces")
        service.assign(ticket, "ana", "ana")
        session.commit()
    clock = Clock()
    sender = WebhookSender(store, allow_private=True, clock=clock, max_attempts=2)
    deliver_all(sender, clock)
    assert receiver.received == []  # the first failed for good; the second waits behind it
    with store() as session:
        rows = session.query(OutboxMessage).filter_by(channel="webhook").order_by(OutboxMessage.id).all()
        assert [r.status for r in rows] == ["failed", "pending"] and "HTTP 500" in (rows[0].last_error or "")
        send_again(session, rows[0].id, now=clock.now)
        session.commit()
    deliver_all(sender, clock)
    assert [r["event"] for r in receiver.received] == ["ticket.created", "ticket.assigned"]


def test_subscriptions_feedback_and_a_rolled_back_change_send_nothing_extra(store, httpserver) -> None:
    receiver = Receiver()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint(store, httpserver.url_for("/hook"), ["article.solved", "ticket.closed"])
    with store() as session:
        service = TicketService(session)
        ticket = service.create(source="agent", query="screen flickers")
        session.add(Feedback(article_id="en/monitor-flicker", kind="solved", query="my screen flickers"))
        session.add(Feedback(article_id="en/monitor-flicker", kind="view"))
        session.commit()
        service.close(ticket, "ana", "duplicate")
        session.flush()
        session.rollback()  # the close never happened: neither does its event
    deliver_all(WebhookSender(store, allow_private=True))
    assert [r["event"] for r in receiver.received] == ["article.solved"]
    assert receiver.received[0]["payload"]["data"] == {
        "article": {"id": "en/monitor-flicker"},
        "query": "my screen flickers",
    }


def test_removed_endpoint_gets_nothing_more(store, httpserver) -> None:
    receiver = Receiver()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint_id = endpoint(store, httpserver.url_for("/hook"))
    with store() as session:
        TicketService(session).create(source="agent", query="keyboard missing keys")
        session.commit()
        from kb_engine.integrations.webhooks import remove_endpoint

        remove_endpoint(session, endpoint_id)
        session.commit()
        TicketService(session).create(source="agent", query="second one")
        session.commit()
    deliver_all(WebhookSender(store, allow_private=True))
    assert receiver.received == []
    with store() as session:
        rows = session.query(OutboxMessage).filter_by(channel="webhook").all()
        assert [(r.status, r.last_error) for r in rows] == [
            ("failed", "DeliveryFailed: the endpoint was removed")
        ]


def test_signature_replay_window() -> None:
    body = b'{"type": "ticket.created"}'
    header = sign(SECRET, body, timestamp=1_800_000_000)
    assert verify(SECRET, body, header, now=1_800_000_000 + 299)
    assert not verify(SECRET, body, header, now=1_800_000_000 + 301)
    assert not verify(SECRET, body + b" ", header, now=1_800_000_000)
    assert not verify(SECRET, body, "garbage", now=1_800_000_000)


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://93.184.215.14/hooks", True),
        ("http://93.184.215.14/hooks", False),
        ("https://127.0.0.1/hooks", False),
        ("https://10.1.2.3/hooks", False),
        ("https://169.254.169.254/latest", False),
        ("https://[::1]/hooks", False),
        ("https://user:pw@93.184.215.14/", False),
        ("ftp://93.184.215.14/", False),
        ("https://localhost/hooks", False),
    ],
)
def test_only_https_to_public_hosts_unless_allowed(url: str, allowed: bool) -> None:
    if allowed:
        assert check_url(url, allow_private=False) == url
    else:
        with pytest.raises(InvalidQuery):
            check_url(url, allow_private=False)
    if "@" not in url and not url.startswith("ftp"):
        assert check_url(url, allow_private=True) == url


def test_cli_declares_lists_and_sends_again(store, runner, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_DATABASE_URL", str(store.kw["bind"].url.render_as_string(hide_password=False)))
    refused = runner.invoke(cli, ["webhooks", "add", "http://127.0.0.1:9/x"])
    assert refused.exit_code == 2 and "https" in refused.output
    monkeypatch.setenv("KB_WEBHOOKS_ALLOW_PRIVATE", "1")
    added = runner.invoke(
        cli, ["webhooks", "add", "http://127.0.0.1:9/x", "--event", "ticket.created", "--json"]
    )
    assert added.exit_code == 0, added.output
    data = json.loads(added.output)
    assert data["events"] == ["ticket.created"] and len(data["secret"]) >= 32
    bad = runner.invoke(cli, ["webhooks", "add", "http://127.0.0.1:9/x", "--event", "ticket.exploded"])
    assert bad.exit_code == 2 and "events are some of" in bad.output
    with store() as session:
        TicketService(session).create(source="agent", query="laptop will not boot")
        session.commit()
    listed = json.loads(runner.invoke(cli, ["webhooks", "deliveries", "--json"]).output)
    assert [(d["event"], d["status"]) for d in listed] == [("ticket.created", "pending")]
    sent = runner.invoke(cli, ["webhooks", "send", "--json"])  # nothing listens on port 9: retried later
    assert json.loads(sent.output)["retried"] == 1
    again = runner.invoke(cli, ["webhooks", "send-again", str(listed[0]["id"])])
    assert again.exit_code == 0
    assert runner.invoke(cli, ["webhooks", "remove", str(data["id"])]).exit_code == 0
    assert json.loads(runner.invoke(cli, ["webhooks", "list", "--json"]).output)[0]["active"] is False


def test_problem_confirmed_and_resolved_and_article_not_helped(store, httpserver) -> None:
    from kb_engine.helpdesk.models import Problem

    receiver = Receiver()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    endpoint(
        store, httpserver.url_for("/hook"), ["problem.confirmed", "problem.resolved", "article.not_helped"]
    )
    with store() as session:
        service = TicketService(session)
        ticket = service.create(source="agent", query="VPN down", contact_email="ann@example.com")
        problem = Problem(
            title="VPN down", query="VPN down", status="proposed", created_at=dt.datetime(2026, 12, 6)
        )
        session.add(problem)
        service.link_problem(ticket, problem, "alice")
        session.commit()
        service.confirm_problem(problem, "alice", title="VPN outage")
        session.commit()
        service.resolve_problem(problem, "alice", "The VPN gateway was restarted.", resolve_tickets=True)
        session.add(Feedback(article_id="fr/vpn", kind="not_helpful", query="le vpn coupe"))
        session.commit()
        problem_id = problem.id
    deliver_all(WebhookSender(store, allow_private=True))
    assert [r["event"] for r in receiver.received] == [
        "problem.confirmed",
        "problem.resolved",
        "article.not_helped",
    ]
    confirmed = receiver.received[0]["payload"]["data"]["problem"]
    assert confirmed == {"id": problem_id, "title": "VPN outage", "status": "open"}
    assert receiver.received[2]["payload"]["data"]["article"] == {"id": "fr/vpn"}
