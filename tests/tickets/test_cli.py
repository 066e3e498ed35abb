"""`kb tickets` at a terminal, on SQLite and PostgreSQL, through click's CliRunner."""

from __future__ import annotations

import json

import pytest

from kb_engine.cli.main import cli
from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.tickets import TicketService


@pytest.fixture()
def seeded(engine, db_url):
    """Two customer tickets and one anonymous miss in the store; returns (db_url, references)."""
    with make_session_factory(engine)() as session:
        service = TicketService(session)
        refs = [
            service.create(
                source="contact_form", query="production is down for everyone", contact_email="a@example.com"
            ).reference,
            service.create(
                source="contact_form", query="VPN asks for my password twice", contact_email="b@example.com"
            ).reference,
            service.create(source="search_miss", query="recipe for a chocolate cake").reference,
        ]
        session.commit()
    return db_url, refs


def kb(runner, db_url: str, *args: str):
    result = runner.invoke(cli, ["tickets", "--database", db_url, *args], catch_exceptions=False)
    return result


def test_list_shows_the_queue_in_priority_order_as_json(runner, seeded) -> None:
    db_url, refs = seeded
    result = kb(runner, db_url, "list", "--no-model", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [e["reference"] for e in entries] == refs
    assert [e["priority"] for e in entries] == [1, 3, 4]
    assert set(entries[0]) >= {"kind", "label", "customers", "priority_reasons", "tier", "team", "status"}


def test_take_note_escalate_and_show_are_recorded_with_the_actor(runner, seeded) -> None:
    db_url, refs = seeded
    assert kb(runner, db_url, "take", refs[1], "--actor", "ana").exit_code == 0
    assert (
        kb(runner, db_url, "note", refs[1], "Gateway logs show TLS errors", "--actor", "ana").exit_code == 0
    )
    escalated = kb(runner, db_url, "escalate", refs[1], "--reason", "gateway", "--actor", "ana", "--json")
    assert escalated.exit_code == 0, escalated.output
    packet = json.loads(escalated.output)
    assert packet["tier"] == "L2" and packet["notes"][0]["note"] == "Gateway logs show TLS errors"
    shown = json.loads(kb(runner, db_url, "show", refs[1], "--json").output)
    assert [(e["actor"], e["kind"]) for e in shown["history"]] == [
        ("customer", "created"),
        ("ana", "taken"),
        ("ana", "note"),
        ("ana", "escalated"),
    ]
    text = kb(runner, db_url, "show", refs[1]).output
    assert refs[1] in text and "escalated" in text and "b@example.com" in text


def test_merge_and_resolve_from_the_terminal(runner, seeded) -> None:
    db_url, refs = seeded
    merged = kb(runner, db_url, "merge", refs[0], refs[1], "--reason", "same outage", "--actor", "ana")
    assert merged.exit_code == 0 and "2 contacts" in merged.output
    resolved = kb(runner, db_url, "resolve", refs[0], "--note", "Restarted the gateway", "--actor", "ana")
    assert resolved.exit_code == 0 and "resolved" in resolved.output
    shown = json.loads(kb(runner, db_url, "show", refs[1], "--json").output)
    assert shown["status"] == "closed" and shown["merged_into"] == refs[0]


def test_refused_transitions_are_one_clear_line_and_exit_code_2(runner, seeded) -> None:
    db_url, refs = seeded
    kb(runner, db_url, "close", refs[0], "--reason", "duplicate")
    result = kb(runner, db_url, "resolve", refs[0], "--note", "fixed")
    assert result.exit_code == 2
    assert f"cannot resolve {refs[0]}: it is closed" in result.output
    assert "Traceback" not in result.output
    assert kb(runner, db_url, "show", "KB-999999").exit_code == 2


def test_priority_override_from_the_terminal(runner, seeded) -> None:
    db_url, refs = seeded
    result = kb(runner, db_url, "priority", refs[2], "2", "--reason", "sales demo at noon", "--actor", "lead")
    assert result.exit_code == 0
    entries = json.loads(kb(runner, db_url, "list", "--no-model", "--json").output)
    assert [e["reference"] for e in entries] == [refs[0], refs[2], refs[1]]
    assert entries[1]["priority_overridden"] is True


def test_agent_creates_a_ticket_routed_by_category(runner, engine, db_url) -> None:
    result = kb(
        runner,
        db_url,
        "create",
        "--query",
        "Suspicious email asking for my password",
        "--category",
        "security",
        "--phone",
        "555-0199",
        "--actor",
        "ana",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["source"], data["tier"], data["team"], data["priority"]) == ("agent", "L2", "security", 2)
    assert f"/tickets/{data['reference']}?t=" in data["status_url"]
    shown = json.loads(kb(runner, db_url, "show", data["reference"], "--json").output)
    assert shown["history"][0]["actor"] == "ana"


def test_problems_are_proposed_confirmed_and_resolved_from_the_terminal(runner, engine, db_url) -> None:
    with make_session_factory(engine)() as session:
        service = TicketService(session)
        refs = [
            service.create(source="search_miss", query="payroll app error 502").reference for _ in range(3)
        ]
        session.commit()
    model_free = ["--model", "hashing", "tickets", "--database", db_url, "problems"]
    proposed = runner.invoke(cli, [*model_free, "propose", "--json"], catch_exceptions=False)
    assert proposed.exit_code == 0, proposed.output
    (problem,) = json.loads(proposed.output)
    assert problem["status"] == "proposed" and sorted(problem["tickets"]) == refs
    pid = str(problem["id"])
    assert kb(runner, db_url, "problems", "confirm", pid).exit_code == 2  # the public title is required
    confirmed = kb(runner, db_url, "problems", "confirm", pid, "--title", "Payroll outage", "--actor", "lead")
    assert confirmed.exit_code == 0 and "Known issue: Payroll outage. We are on it." in confirmed.output
    listed = json.loads(kb(runner, db_url, "problems", "--json").output)
    assert [(p["id"], p["status"], p["confirmed_by"]) for p in listed] == [(problem["id"], "open", "lead")]
    resolved = kb(
        runner, db_url, "problems", "resolve", pid, "--note", "server restarted", "--resolve-tickets"
    )
    assert resolved.exit_code == 0 and "resolved" in resolved.output
    statuses = {json.loads(kb(runner, db_url, "show", ref, "--json").output)["status"] for ref in refs}
    assert statuses == {"resolved"}


def test_every_tickets_subcommand_has_a_docstring_with_an_example() -> None:
    group = cli.commands["tickets"]
    commands = [*group.commands.values(), *group.commands["problems"].commands.values()]
    for command in commands:
        assert command.help and "Example: kb tickets" in command.help, command.name
