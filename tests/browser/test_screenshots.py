"""Screenshots of the support console for the README (docs/screenshots/), made by `scripts/screenshots.sh`.

Skipped unless KB_SCREENSHOTS_DIR names the folder to write to: the pages of a small demo desk (an L1
agent, an escalated ticket with a conversation, a proposed problem, phone intake, the dashboard, staff
administration) at 1280 px and 390 px wide, in English and in French (`-fr` files), and the customer's
home page with a known-issue banner in English and French.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.apps import app_ticket
from tests.browser.conftest import PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.model]

OUT = os.environ.get("KB_SCREENSHOTS_DIR")
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}


def _demo_desk(server: Any) -> dict[str, str]:
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.models import Problem
    from kb_engine.helpdesk.tickets import TicketService

    for name, role in (("lena", "agent-L1"), ("omar", "agent-L2"), ("root", "admin"), ("bea", "author")):
        server.create_user(name, role)
    refs = {
        "vpn1": app_ticket(
            server.app,
            source="contact_form",
            query="VPN refuses my password since this morning",
            contact_name="Ana Silva",
            contact_email="ana@example.com",
            lang="en",
        )[0],
        "vpn2": app_ticket(
            server.app,
            source="contact_form",
            query="Le VPN ne se connecte plus depuis 9 h",
            contact_name="Luc Martin",
            contact_email="luc@example.com",
            lang="fr",
        )[0],
        "vpn3": app_ticket(
            server.app,
            source="api",
            query="VPN times out at the login step",
            contact_email="kim@example.com",
            lang="en",
        )[0],
        "printer": app_ticket(
            server.app,
            source="contact_form",
            query="Printer on floor 2 shows offline",
            contact_name="Paul Durand",
            contact_phone="555-0101",
            lang="en",
        )[0],
        "miss": app_ticket(server.app, source="search_miss", query="SAP invoice module throws error ZX-442")[
            0
        ],
    }
    with make_session_factory(server.app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, server.app.config)
        t = service.get(refs["vpn1"])
        service.take(t, "lena")
        service.ask_customer(
            t, "lena", "Did you change your password recently?\nWhich VPN client version do you use?"
        )
        service.customer_reply(t, "Yes, on Monday.\nClient 5.2 on Windows 11.")
        service.add_note(t, "lena", "Gateway logs show TLS handshake failures for this account.")
        service.escalate(t, "lena", "Gateway certificate problem, not the password: needs desktop support.")
        problem = Problem(
            title="VPN connections failing",
            query="VPN refuses my password",
            status="proposed",
            created_by="engine",
        )
        session.add(problem)
        session.flush()
        for key in ("vpn1", "vpn2", "vpn3"):
            service.link_problem(service.get(refs[key]), problem, "engine")
        session.commit()
    return refs


@pytest.mark.skipif(not OUT, reason="set KB_SCREENSHOTS_DIR to make the README's screenshots")
def test_console_screenshots(browser: Any, live_server: Any) -> None:
    out = Path(str(OUT))
    out.mkdir(parents=True, exist_ok=True)
    refs = _demo_desk(live_server)
    pages = {
        "queue": "/console/",
        "ticket": f"/console/tickets/{refs['vpn1']}",
        "problems": "/console/problems",
        "new-ticket": "/console/new?email=ana@example.com",
        "dashboard": "/console/dashboard",
        "staff": "/console/admin/users",
    }
    # English, then French (a French browser: the console follows it while the account has no choice).
    for suffix, locale in (("", "en-GB"), ("-fr", "fr-FR")):
        for size, (width, height) in WIDTHS.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
            page = context.new_page()
            login(page, live_server, "omar" if size == "desktop" else "lena", PASSWORD)
            for name, path in pages.items():
                if name == "staff":
                    context.clear_cookies()
                    login(page, live_server, "root", PASSWORD)
                page.goto(live_server.url + path)
                page.wait_for_load_state("networkidle")
                shot = out / f"console-{name}-{size}{suffix}.png"
                page.screenshot(path=str(shot), full_page=size == "desktop")
            context.close()
    with_banner = browser.new_context(viewport={"width": 1280, "height": 800})
    page = with_banner.new_page()
    login(page, live_server, "lena", PASSWORD)
    page.goto(live_server.url + "/console/problems")
    problem = page.locator("section.problem").first
    problem.locator("input[name=banner_en]").fill("VPN connections are failing since 9:00; we are on it.")
    problem.locator("input[name=banner_fr]").fill(
        "Les connexions VPN échouent depuis 9 h ; nous nous en occupons."
    )
    problem.locator(".confirm-problem button").click()
    page.wait_for_selector("section.problem[data-status=open]")
    for lang in ("en", "fr"):
        page.goto(f"{live_server.url}/?lang={lang}")
        page.screenshot(path=str(out / f"customer-known-issue-{lang}.png"))
    with_banner.close()
