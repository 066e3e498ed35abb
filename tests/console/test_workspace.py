"""The agent workspace (issue 24) without a browser: the composer keeps drafts, pickers, confirmations,
notes after escalating, replies refused without a contact, the problems page, and the queue's noise rules."""

from __future__ import annotations

import datetime as dt
import re

from kb_engine.helpdesk.models import Ticket
from tests.apps import app_problem
from tests.conftest import csrf_token, login_staff
from tests.console.conftest import open_ticket, ticket_row


def post(client, path: str, **form):
    token = csrf_token(client, "/console/")
    return client.post(path, data={"csrf_token": token, **form})


def act(client, reference: str, action: str, **form):
    return post(client, f"/console/tickets/{reference}/{action}", **form)


def service_session(app):
    from kb_engine.helpdesk.db import make_session_factory

    return make_session_factory(app.extensions["kb_engine"])()


def test_canned_reply_without_js_keeps_the_typed_reply_and_the_note(app, client) -> None:
    reference = open_ticket(app, query="printer offline", contact_email="ana@example.com", contact_name="Ana")
    login_staff(app, client, "lena", "agent-L1")
    page = act(
        client,
        reference,
        "compose",
        message="First line\nsecond line",
        note="half-written note",
        canned="try-article",
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    message = re.search(r'<textarea id="message"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert message.startswith("First line\nsecond line\n\nHello Ana,")
    assert "half-written note</textarea>" in html
    assert [e["kind"] for e in ticket_row(app, reference)["history"]] == ["created"]  # nothing sent


def test_reply_keeps_line_breaks_and_the_other_draft(app, client) -> None:
    reference = open_ticket(app, query="printer offline", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    page = act(client, reference, "compose", mode="reply", message="Step 1\nStep 2", note="keep me")
    assert page.status_code == 200 and "keep me</textarea>" in page.get_data(as_text=True)
    history = ticket_row(app, reference)["history"]
    assert history[-1]["kind"] == "asked_customer" and history[-1]["message"] == "Step 1\nStep 2"
    assert 'class="text">Step 1\nStep 2</div>' in client.get(f"/console/tickets/{reference}").get_data(
        as_text=True
    )


def test_reply_that_keeps_the_ticket_open_is_emailed_and_shown_to_the_customer(app, client) -> None:
    reference = open_ticket(app, query="printer offline", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    sent = act(
        client, reference, "compose", mode="reply", after="open", message="Fixed on our side.\nTry now."
    )
    assert sent.status_code == 303
    row = ticket_row(app, reference)
    assert row["status"] == "open" and row["history"][-1]["kind"] == "message"
    from sqlalchemy import select

    from kb_engine.helpdesk.models import OutboxMessage

    with service_session(app) as session:
        queued = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "message")).all()
        assert [m.recipient for m in queued] == ["ana@example.com"] and "Try now." in queued[0].body
        token = session.scalar(select(Ticket.token).where(Ticket.reference == reference))
    assert "Fixed on our side." in client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    status = client.get(f"/tickets/{reference}?t={token}").get_data(as_text=True)
    assert "Support wrote: Fixed on our side." in status


def test_message_to_a_customer_without_contact_is_refused_with_an_offer_of_a_note(app, client) -> None:
    reference = open_ticket(app, query="wifi drops", source="search_miss")
    login_staff(app, client, "lena", "agent-L1")
    refused = act(client, reference, "compose", mode="reply", message="Did you restart it?")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "no contact" in html and "internal note" in html
    assert "Did you restart it?</textarea>" in html  # the text is not lost
    assert ticket_row(app, reference)["status"] == "new"


def test_assign_picker_lists_agents_of_the_tier_me_and_unassigned(app, client) -> None:
    reference = open_ticket(app, query="phishing email received", category="security")  # L2
    login_staff(app, app.test_client(), "lena", "agent-L1")
    login_staff(app, app.test_client(), "paul", "agent-L2")
    login_staff(app, client, "omar", "agent-L2")
    html = client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    picker = re.search(r'<select id="assignee".*?</select>', html, re.S).group(0)
    assert "Unassigned" in picker and "Me (omar)" in picker and "paul" in picker and "lena" not in picker
    assert act(client, reference, "assign", assignee="paul").status_code == 303
    assert ticket_row(app, reference)["assignee"] == "paul"
    assert act(client, reference, "assign", assignee="me").status_code == 303
    assert ticket_row(app, reference)["assignee"] == "omar"
    assert act(client, reference, "assign", assignee="").status_code == 303
    assert ticket_row(app, reference)["assignee"] is None
    team = act(client, reference, "team", team="desktop-support")
    assert team.status_code == 303 and ticket_row(app, reference)["team"] == "desktop-support"
    assert act(client, reference, "team", team="no-such-team").status_code == 400


def test_close_needs_a_reason_and_a_confirmation(app, client) -> None:
    reference = open_ticket(app, query="printer offline")
    login_staff(app, client, "lena", "agent-L1")
    no_reason = act(client, reference, "close", reason="")
    assert no_reason.status_code == 400 and "say why" in no_reason.get_data(as_text=True)
    asked = act(client, reference, "close", reason="duplicate of a phone call")
    assert asked.status_code == 200 and "Close " + reference + " for good?" in asked.get_data(as_text=True)
    assert ticket_row(app, reference)["status"] == "new"
    assert (
        act(client, reference, "close", reason="duplicate of a phone call", confirm="yes").status_code == 303
    )
    assert ticket_row(app, reference)["status"] == "closed"


def test_merge_history_is_written_once_on_the_survivor(app, client) -> None:
    first = open_ticket(app, query="VPN is down", contact_email="a@example.com")
    second = open_ticket(app, query="cannot reach the VPN", contact_email="b@example.com")
    login_staff(app, client, "lena", "agent-L1")
    act(client, first, "merge", others_text=second, reason="same outage", confirm="yes")
    kinds = [e["kind"] for e in ticket_row(app, first)["history"]]
    assert kinds.count("merged") == 1 and "merged_into" not in kinds


def test_the_escalating_agent_still_adds_notes_and_the_reason_is_a_banner(app, client) -> None:
    reference = open_ticket(app, query="VPN drops every 5 minutes", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    act(client, reference, "take")
    assert (
        act(client, reference, "escalate", reason="gateway certificate\nexpired on Monday").status_code == 303
    )
    assert act(client, reference, "compose", mode="note", note="customer called again").status_code == 303
    assert act(client, reference, "note", note="and again").status_code == 303
    assert act(client, reference, "resolve", note="x").status_code == 403  # notes only
    other = app.test_client()
    login_staff(app, other, "nina", "agent-L1")  # never touched it: read only
    assert act(other, reference, "note", note="hello").status_code == 403
    l2 = app.test_client()
    login_staff(app, l2, "omar", "agent-L2")
    html = l2.get(f"/console/tickets/{reference}").get_data(as_text=True)
    banner = re.search(r'<p class="banner escalation".*?</p>', html, re.S).group(0)
    assert "lena" in banner and "gateway certificate\nexpired on Monday" in banner


def test_problems_page_confirms_with_banners_links_and_resolves_tickets(app, client) -> None:
    from kb_engine.helpdesk.models import Problem

    refs = [
        open_ticket(app, query=q, contact_email=f"c{i}@example.com")
        for i, q in enumerate(["VPN down since 9", "VPN ne marche plus", "VPN timeout"])
    ]
    problem_id = app_problem(app, refs[:2])
    login_staff(app, client, "lena", "agent-L1")
    page = client.get("/console/problems").get_data(as_text=True)
    assert f'id="problem-{problem_id}"' in page and refs[0] in page and refs[2] not in page
    assert post(client, f"/console/problems/{problem_id}/link", references=refs[2]).status_code == 303
    assert (
        post(client, f"/console/problems/{problem_id}/confirm", banner_en="", banner_fr="").status_code == 400
    )
    confirmed = post(
        client,
        f"/console/problems/{problem_id}/confirm",
        title="VPN outage",
        banner_en="VPN is down; we are on it.",
        banner_fr="Le VPN est en panne ; nous nous en occupons.",
    )
    assert confirmed.status_code == 303
    assert "problem #" in client.get(f"/console/tickets/{refs[2]}").get_data(as_text=True)  # badge
    assert post(client, f"/console/problems/{problem_id}/unlink", reference=refs[1]).status_code == 303
    resolved = post(
        client, f"/console/problems/{problem_id}/resolve", note="Gateway\nrestarted", resolve_tickets="yes"
    )
    assert resolved.status_code == 303
    assert (
        ticket_row(app, refs[0])["status"] == "resolved" and ticket_row(app, refs[2])["status"] == "resolved"
    )
    assert ticket_row(app, refs[1])["status"] == "new"  # unlinked: left alone
    with service_session(app) as session:
        problem = session.get(Problem, problem_id)
        assert problem.banner_for("fr").startswith("Le VPN") and problem.status == "resolved"


def test_working_queue_leaves_out_anonymous_misses_which_have_their_own_view(app, client) -> None:
    anonymous = open_ticket(app, query="sap invoice module error ZX-442", source="search_miss")
    reachable = open_ticket(app, query="printer offline", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    queue = client.get("/console/").get_data(as_text=True)
    assert reachable in queue and anonymous not in queue
    misses = client.get("/console/?view=misses").get_data(as_text=True)
    assert anonymous in misses and reachable not in misses


def test_phone_intake_solved_on_the_call_counts_as_first_contact_resolution(app, client) -> None:
    earlier = open_ticket(app, query="mailbox full", contact_email="ana@example.com")
    login_staff(app, client, "lena", "agent-L1")
    page = client.get("/console/new?email=ANA@example.com").get_data(as_text=True)
    assert earlier in page  # the caller's history, by email
    assert earlier in client.get("/console/callers?phone=&email=ana@example.com").get_data(as_text=True)
    missing = post(client, "/console/new", query="printer offline", outcome="solved")
    assert missing.status_code == 400 and "printer offline</textarea>" in missing.get_data(as_text=True)
    done = post(
        client,
        "/console/new",
        query="printer offline",
        name="Ana",
        email="ana@example.com",
        article="en/printer-offline",
        outcome="solved",
        source="phone",
    )
    assert done.status_code == 303
    reference = done.headers["Location"].rsplit("/", 1)[1]
    row = ticket_row(app, reference)
    assert (row["source"], row["status"], row["assignee"]) == ("phone", "resolved", "lena")
    assert row["history"][-1]["data"]["first_contact"] is True
    opened = post(
        client, "/console/new", query="laptop fan very loud", phone="555-0101", outcome="open", level="2"
    )
    row = ticket_row(app, opened.headers["Location"].rsplit("/", 1)[1])
    assert (row["status"], row["priority"], row["tier"]) == ("open", 2, "L1")
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    assert re.search(r'data-metric="first_contact">1<', dashboard)
    assert re.search(r'data-metric="first_contact_rate">50%<', dashboard)


def test_admin_manages_staff_on_the_web_with_the_cli_rules(app, client) -> None:
    login_staff(app, client, "root", "admin")
    agent = app.test_client()
    login_staff(app, agent, "lena", "agent-L1")
    assert agent.get("/console/admin/users").status_code == 403
    assert "lena" in client.get("/console/admin/users").get_data(as_text=True)
    weak = post(client, "/console/admin/users", username="bob", role="agent-L2", password="short")
    assert weak.status_code == 400
    assert (
        post(
            client,
            "/console/admin/users",
            username="bob",
            role="agent-L2",
            password="velvet orbit lantern 42",
        ).status_code
        == 303
    )
    assert post(client, "/console/admin/users/lena/role", role="agent-L2").status_code == 303
    assert agent.get("/console/").status_code == 302  # the role change ended lena's session
    assert post(client, "/console/admin/users/root/disable").status_code == 400  # not yourself
    assert post(client, "/console/admin/users/bob/disable").status_code == 303
    page = client.get("/console/admin/users").get_data(as_text=True)
    assert re.search(r'data-user="bob">.*?data-field="state">disabled', page, re.S)
    from kb_engine.helpdesk import audit

    with service_session(app) as session:
        done = [
            (e.actor, e.action, e.target)
            for e in reversed(audit.entries(session))
            if e.action.startswith("user_")
        ]
    assert done == [
        ("root", "user_create", "bob"),
        ("root", "user_role", "lena"),
        ("root", "user_disable", "bob"),
    ]


def test_queue_and_dashboard_share_one_definition_of_past_targets(app, client) -> None:
    from sqlalchemy import update

    from kb_engine.helpdesk.models import Ticket

    late = open_ticket(app, query="printer offline", contact_email="ana@example.com")
    miss = open_ticket(app, query="printer offline", source="search_miss")  # nobody to answer: not late
    fresh = open_ticket(app, query="screen flickers", contact_email="bo@example.com")
    with service_session(app) as session:
        session.execute(
            update(Ticket)
            .where(Ticket.reference.in_([late, miss]))
            .values(created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=10))
        )
        session.commit()
    login_staff(app, client, "lena", "agent-L1")
    queue = client.get("/console/?view=past").get_data(as_text=True)
    assert late in queue and miss not in queue and fresh not in queue
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    count = re.search(r'data-metric="past_targets"[^>]*>(\d+)<', dashboard).group(1)
    listed = re.search(r'<ul class="plain" id="past-targets">(.*?)</ul>', dashboard, re.S).group(1)
    assert count == "1" and late in listed and miss not in listed and fresh not in listed
