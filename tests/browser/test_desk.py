"""The desk's timers in a real browser: an agent sees the time left to each target in the queue and on the
ticket page, and a breached target as a red badge."""

from __future__ import annotations

import datetime as dt

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.models import utcnow
from kb_engine.helpdesk.tickets import TicketService
from tests.browser.conftest import login, shot

RED = "rgb(179, 38, 30)"


def old_and_new_tickets(app) -> tuple[str, str]:
    with make_session_factory(app.extensions["kb_engine"])() as session:
        past = TicketService.from_settings(session, app.config)
        past.clock = lambda: (
            utcnow() - dt.timedelta(days=4)
        )  # arrived four days ago, nobody answered (P4: 3 days)
        old = past.create(source="agent", query="my mouse is slow", lang="en", actor="lena")
        fresh = TicketService.from_settings(session, app.config).create(
            source="agent", query="my keyboard is sticky", lang="en", actor="lena"
        )
        session.commit()
        return str(old.reference), str(fresh.reference)


def test_agent_sees_time_left_and_a_red_breached_badge(live_server, page) -> None:
    old, fresh = old_and_new_tickets(live_server.app)
    live_server.create_user("lena", "agent-L1")
    login(page, live_server, "lena")
    page.goto(f"{live_server.url}/console/")
    breached = page.locator(f"tr[data-reference='{old}'] .sla[data-state='breached']").first
    assert breached.is_visible()
    assert breached.text_content().startswith("First response: breached")
    assert breached.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    running = page.locator(f"tr[data-reference='{fresh}'] .sla[data-sla='first_response']")
    assert running.get_attribute("data-state") == "running" and "left" in running.text_content()
    assert running.evaluate("e => getComputedStyle(e).backgroundColor") != RED
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "desk-queue-sla-1280")
    page.goto(f"{live_server.url}/console/tickets/{old}")
    badge = page.locator(".sla-line .sla[data-sla='first_response']")
    assert badge.get_attribute("data-state") == "breached"
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert page.locator(".sla-line .sla[data-sla='resolution']").is_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "desk-ticket-sla-390")


def test_customer_answers_are_you_satisfied_in_one_click(live_server, page) -> None:
    with make_session_factory(live_server.app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, live_server.app.config)
        ticket = service.create(
            source="contact_form", query="imprimante hors ligne", lang="fr", contact_email="zoe@example.com"
        )
        service.resolve(ticket, "lena", note="Pilote réinstallé.")
        session.commit()
        reference, token = str(ticket.reference), str(ticket.token)
    page.goto(f"{live_server.url}/?lang=fr")
    page.goto(f"{live_server.url}/tickets/{reference}?t={token}")
    yes = page.get_by_role("button", name="Oui, satisfait(e)")
    no = page.get_by_role("button", name="Non, pas satisfait(e)")
    assert yes.is_visible() and no.is_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "desk-csat-buttons-fr-390")
    yes.click()
    page.wait_for_selector("[data-rated='good']")
    assert "Merci pour votre réponse." in page.text_content("[data-rated='good']")
    assert page.get_by_role("button", name="Oui, satisfait(e)").count() == 0  # once per request
