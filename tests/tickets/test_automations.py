"""Automations and SLA timers driven by a fake clock, on SQLite and PostgreSQL: the shipped rules fire on
time, once, each firing in the history; a bad rules file is a clear error."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from sqlalchemy import select

from kb_engine.errors import ConfigError
from kb_engine.helpdesk import automations as automation
from kb_engine.helpdesk.models import OutboxMessage, utcnow
from kb_engine.helpdesk.routing import load_routing
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import SHIPPED

RULES = automation.load_automations(SHIPPED)


@pytest.fixture()
def service(session, clock) -> TicketService:
    return TicketService(session, routing=load_routing(SHIPPED / "routing.yml"), clock=clock)


def run(service) -> list[tuple[str, str]]:
    fired = automation.run(service, RULES)
    service.session.commit()
    return [(f.reference, f.rule) for f in fired]


def mail(session, kind: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def p1(service):
    return service.create(
        source="contact_form",
        query="production outage: the whole office is down, nobody can work",
        lang="en",
        category="network",
        contact_email="boss@example.com",
    )


def test_shipped_file_is_the_built_in_defaults() -> None:
    assert automation.defaults() == RULES
    assert [r.name for r in RULES.rules] == [
        "p1-unassigned-notify",
        "p1-unassigned-escalate",
        "waiting-reminder",
        "waiting-resolve",
        "sla-breach-raise-priority",
    ]


def test_p1_unassigned_notifies_the_team_at_15_minutes_and_escalates_at_one_hour(session, service, clock):
    ticket = p1(service)
    session.commit()
    clock.advance(minutes=14)
    assert run(service) == []
    clock.advance(minutes=1)
    assert run(service) == [(ticket.reference, "p1-unassigned-notify")]
    assert run(service) == []  # once
    (alert,) = mail(session, "staff_alert")
    assert alert.recipient == "network-team@example.com" and "15 minutes" in alert.body
    clock.advance(minutes=44)
    assert run(service) == []
    clock.advance(minutes=1)
    assert run(service) == [(ticket.reference, "p1-unassigned-escalate")]
    assert ticket.tier == "L2" and ticket.assignee is None
    firings = [e for e in service.history(ticket) if e.kind == "automation"]
    assert [e.message for e in firings] == ["p1-unassigned-notify", "p1-unassigned-escalate"]
    assert all(e.actor == "automation" for e in firings)


def test_a_taken_p1_is_left_alone(session, service, clock):
    ticket = p1(service)
    service.take(ticket, "alice")
    session.commit()
    clock.advance(minutes=50)
    assert run(service) == []


def test_waiting_on_customer_reminds_at_3_days_and_resolves_at_7(session, service, clock):
    ticket = service.create(
        source="contact_form", query="printer offline", lang="fr", contact_email="zoe@example.com"
    )
    service.take(ticket, "alice")
    service.ask_customer(ticket, "alice", "Quel modèle ?")
    session.commit()
    clock.advance(days=3)
    assert run(service) == [(ticket.reference, "waiting-reminder")]
    assert run(service) == []
    (reminder,) = mail(session, "reminder")
    assert reminder.lang == "fr" and "Quel modèle ?" in reminder.body and "3 jour(s)" in reminder.body
    clock.advance(days=4)
    assert run(service) == [(ticket.reference, "waiting-resolve")]
    assert ticket.status == "resolved" and "No answer for 7 days" in ticket.resolution_note
    assert len(mail(session, "resolved")) == 1
    clock.advance(days=30)
    assert run(service) == []  # resolved: no rule for it


def test_the_customer_answering_restarts_the_waiting_timer(session, service, clock):
    ticket = service.create(source="contact_form", query="vpn", lang="en", contact_email="a@example.com")
    service.ask_customer(ticket, "alice", "Which VPN client?")
    clock.advance(days=2)
    service.customer_reply(ticket, "Cisco")
    service.ask_customer(ticket, "alice", "Which version?")
    session.commit()
    clock.advance(days=2)
    assert run(service) == []
    clock.advance(days=1)
    assert run(service) == [(ticket.reference, "waiting-reminder")]


def test_sla_breach_raises_priority_one_level_once(session, service, clock):
    ticket = service.create(
        source="contact_form", query="my mouse is slow", lang="en", contact_email="m@e.com"
    )
    session.commit()
    assert service.priority_of(ticket).level == 3
    (first, resolution) = automation.timers(service, ticket, RULES)
    assert (first.target, first.due_at, first.breached) == (
        "first_response",
        ticket.created_at.replace(day=3),
        False,
    )
    assert resolution.target == "resolution" and not resolution.breached
    clock.advance(hours=23)
    assert run(service) == []
    clock.advance(hours=2)  # the one-day first-response target is past
    assert automation.timers(service, ticket, RULES)[0].breached
    assert run(service) == [(ticket.reference, "sla-breach-raise-priority")]
    assert ticket.priority_override == 2
    assert run(service) == []
    event = [e for e in service.history(ticket) if e.kind == "priority_set"][-1]
    assert event.actor == "automation" and "SLA target breached" in event.message


def test_a_rules_file_with_its_own_rules_and_clear_errors(tmp_path, session, service, clock):
    (tmp_path / "automations.yml").write_text(
        "rules:\n"
        "  - name: security-to-l2\n"
        "    when: {category: security, tier: L1, age: 10m}\n"
        "    do: [{escalate: security goes to L2}, {note: moved by the rule}]\n"
    )
    rules = automation.load_automations(tmp_path)
    ticket = service.create(source="agent", query="phishing mail", lang="en", category="support", actor="a")
    ticket.category = "security"
    session.commit()
    clock.advance(minutes=10)
    fired = automation.run(service, rules)
    assert [(f.rule, f.actions) for f in fired] == [("security-to-l2", ["escalate", "note"])]
    assert ticket.tier == "L2"
    for text, message in [
        ("rules: [{name: x, when: {colour: red}, do: [{note: n}]}]", "unknown condition"),
        ("rules: [{name: x, when: {age: soon}, do: [{note: n}]}]", "not a duration"),
        ("rules: [{name: x, when: {}, do: [{explode: now}]}]", "one of close, escalate"),
        ("rules: [{name: x, when: {tier: L9}, do: [{note: n}]}]", "is not one of L1"),
    ]:
        (tmp_path / "automations.yml").write_text(text)
        with pytest.raises(ConfigError, match=message):
            automation.load_automations(tmp_path)


def test_kb_tickets_automate(db_url, engine, session, service, clock, runner, tmp_path):
    from kb_engine.cli.main import cli

    clock.now = utcnow() - dt.timedelta(hours=2)  # the command runs on the real clock
    p1(service)
    session.commit()
    env = {"KB_DATABASE_URL": db_url, "KB_ARTICLES_DIR": str(SHIPPED), "KB_CONFIG": os.devnull}
    checked = runner.invoke(cli, ["tickets", "automate", "--check"], env=env)
    assert checked.exit_code == 0 and "p1-unassigned-notify" in checked.output
    result = runner.invoke(cli, ["tickets", "automate", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rules = {f["rule"] for f in json.loads(result.output)}
    assert {"p1-unassigned-notify", "p1-unassigned-escalate"} <= rules
    again = runner.invoke(cli, ["tickets", "automate"], env=env)
    assert again.output.strip().endswith("0 rule(s) fired")
    (tmp_path / "automations.yml").write_text("rules: [{name: x}]")
    bad = runner.invoke(cli, ["tickets", "automate"], env={**env, "KB_ARTICLES_DIR": str(tmp_path)})
    assert bad.exit_code == 2 and "rules[0].do: a list of actions" in bad.output
