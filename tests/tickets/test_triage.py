"""Learned triage on a generated history of 540 tickets over 60 days (SQLite and PostgreSQL): the replay
sends at least 80% of the always-L2 categories straight to L2 (the routing file: none), `kb tickets triage
--evaluate` prints the table, and a trained model routes new tickets and says why."""

from __future__ import annotations

import os

import pytest

from kb_engine.helpdesk import triage
from kb_engine.helpdesk.routing import load_routing
from kb_engine.helpdesk.tickets import TicketService
from tests.conftest import SHIPPED
from tests.tickets.conftest import START
from tests.tickets.triage_history import ALWAYS_L2, DAYS, TICKETS, generate

ROUTING = load_routing(SHIPPED / "routing.yml")
SETTINGS = {"min_tickets": 60, "min_age": triage.dt.timedelta(days=2), "threshold": 0.6}


@pytest.fixture()
def history(session, service, clock):
    counts = generate(service, clock)
    assert sum(counts.values()) == TICKETS >= 500 and DAYS >= 60
    return counts


def test_replay_sends_always_l2_categories_straight_to_l2(session, history):
    result = triage.replay(triage.examples(session), ROUTING, **SETTINGS).to_dict()
    for category in ALWAYS_L2:
        row = result[category]
        assert row["straight"] / row["tickets"] >= 0.8, (category, row)
        assert row["routing_straight"] == 0  # the routing file sends them to L1
    overall = result["all"]
    assert overall["straight"] > overall["routing_straight"]
    assert overall["too_high"] / overall["tickets"] < 0.05


def test_kb_tickets_triage_evaluate_prints_the_replay_table(db_url, history, runner, tmp_path):
    from kb_engine.cli.main import cli

    env = {
        "KB_DATABASE_URL": db_url,
        "KB_ARTICLES_DIR": str(SHIPPED),
        "KB_INSTANCE_DIR": str(tmp_path),
        "KB_CONFIG": os.devnull,
        "KB_TRIAGE_MIN_TICKETS": "60",
        "KB_TRIAGE_MIN_AGE_DAYS": "2",
        "KB_TRIAGE_THRESHOLD": "0.6",
    }
    result = runner.invoke(cli, ["tickets", "triage", "--evaluate"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("category") and "straight to final tier" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [
        "accounts",
        "meetings",
        "network",
        "printing",
        "software",
        "all",
    ]
    print(result.output)  # the README shows this table
    trained = runner.invoke(cli, ["tickets", "triage", "--train"], env=env)
    assert trained.exit_code == 0 and "trained on" in trained.output
    assert (tmp_path / triage.FILENAME).is_file()


def test_a_trained_model_routes_a_new_ticket_and_says_why(session, history, clock, tmp_path):
    model = triage.train_now(session, now=clock.now, **SETTINGS)
    assert model is not None
    triage.save(model, tmp_path)
    loaded = triage.model_for(tmp_path, 0.6)
    service = TicketService(session, routing=ROUTING, clock=clock, triage=loaded)
    ticket = service.create(
        source="agent", query="SAP accounting module crash", lang="en", category="software", actor="a"
    )
    assert (ticket.tier, ticket.team) == ("L2", "desktop-support")
    said = service.history(ticket)[0].data["triage"]
    assert (
        said["used"]
        and said["confidence"] >= 0.6
        and said["routing"] == {"tier": "L1", "team": "service-desk"}
    )
    assert set(said["because"]) & {"sap", "accounting", "crash", "category:software", "module"}
    plain = service.create(
        source="agent", query="printer toner jam", lang="en", category="printing", actor="a"
    )
    assert plain.tier == "L1"
    low = TicketService(session, routing=ROUTING, clock=clock, triage=triage.model_for(tmp_path, 0.999))
    kept = low.create(source="agent", query="SAP crash", lang="en", category="software", actor="a")
    assert kept.tier == "L1" and not low.history(kept)[0].data["triage"]["used"]  # below the threshold


def test_agents_see_why_on_the_ticket_page(app, client, tmp_path):
    from kb_engine.helpdesk.db import make_session_factory
    from tests.conftest import login_staff

    data = [
        triage.Example(f"SAP crash {n}", "software", "en", "L2", "desktop-support", START, START)
        for n in range(5)
    ] + [
        triage.Example(f"printer jam {n}", "printing", "en", "L1", "service-desk", START, START)
        for n in range(5)
    ]
    model = triage.TriageModel.train(data, threshold=0.5)
    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        service.triage = model
        ticket = service.create(
            source="agent", query="SAP crash again", lang="en", category="software", actor="a"
        )
        session.commit()
        reference = ticket.reference
    login_staff(app, client, "omar", "agent-L2")
    page = client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert 'data-triage-used="yes"' in page and "Learned triage proposed L2 · desktop-support" in page
    assert "sap" in page.split("because of:")[1].split(";")[0]
