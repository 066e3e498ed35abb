"""The agent workspace (issue 24) in headless Chromium: the composer, pickers, confirmations, notes after
escalating, the problems page and its banner, the queue at 390 px, queue noise rules, and axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps import app_problem, app_ticket
from tests.browser.conftest import axe_violations, rows, shot, staff_page

pytestmark = [pytest.mark.browser, pytest.mark.model]


def ticket(server: Any, **fields: Any) -> str:
    return app_ticket(server.app, **fields)[0]


def test_canned_reply_goes_in_at_the_cursor_and_the_draft_and_the_note_survive(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    reference = ticket(server, query="printer offline", contact_email="ana@example.com", contact_name="Ana")
    page = staff_page(browser, server, "lena")
    page.goto(f"{server.url}/console/tickets/{reference}")
    page.fill("#message", "Hi Ana,\n\nThanks.")
    page.check("#mode-note")
    assert not page.is_visible("#message")  # one composer: the note pane replaces the reply pane
    page.fill("#note", "called her at 10:05")
    page.check("#mode-reply")
    page.evaluate("() => { const m = document.getElementById('message'); m.setSelectionRange(9, 9); }")
    page.click(".canned button >> nth=0")
    value = page.input_value("#message")
    assert value.startswith("Hi Ana,\n\n") and value.endswith("Thanks.") and len(value) > 30
    assert page.input_value("#note") == "called her at 10:05"
    assert page.url.endswith(reference)  # no reload
    shot(page, "20-ticket-composer")
    page.click("#send")
    page.wait_for_selector(".timeline .msg.reply")
    assert "\n" in page.inner_text(".timeline .msg.reply .text")  # line breaks kept on the page
    assert page.input_value("#note") == "called her at 10:05"  # the note draft came back
    assert axe_violations(page) == []
    page.context.close()


def test_assign_with_the_picker_and_close_needs_a_reason_and_a_confirmation(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    server.create_user("nina", "agent-L1")
    server.create_user("omar", "agent-L2")
    reference = ticket(server, query="printer offline", contact_email="ana@example.com")
    page = staff_page(browser, server, "lena")
    page.goto(f"{server.url}/console/tickets/{reference}")
    options = page.locator("#assignee option").all_inner_texts()
    assert options == ["Unassigned", "Me (lena)", "nina", "omar"]  # agents allowed on L1
    page.select_option("#assignee", "nina")
    page.click("#assign button")
    page.wait_for_selector("[data-field=assignee]:has-text('nina')")

    page.click("#more-actions summary")
    page.click("#close button")  # no reason: the browser asks for one, nothing is sent
    assert page.evaluate("document.getElementById('close-reason').validity.valueMissing")
    page.fill("#close-reason", "duplicate of a phone call")
    page.click("#close button")
    page.wait_for_selector("#confirm-yes")
    assert rows(server, "SELECT status FROM ticket") == [("open",)]  # asked first
    page.click("#confirm-yes")
    page.wait_for_selector("[data-field=status]:has-text('closed')")
    page.context.close()


def test_l1_adds_a_note_after_escalating_and_l2_sees_the_reason_first(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    server.create_user("omar", "agent-L2")
    reference = ticket(server, query="VPN drops every 5 minutes", contact_email="ana@example.com")
    l1 = staff_page(browser, server, "lena")
    l1.goto(f"{server.url}/console/tickets/{reference}")
    l1.click("#take")
    l1.fill("#reason", "gateway certificate\nexpired")
    l1.click("#escalate button[type=submit]")
    l1.wait_for_selector("[data-field=tier]:has-text('L2')")
    l1.check("#mode-note")
    l1.fill("#note", "customer called again, still down")
    l1.click("#send")
    l1.wait_for_selector(".timeline .msg.note:has-text('customer called again')")
    l2 = staff_page(browser, server, "omar")
    l2.goto(f"{server.url}/console/tickets/{reference}")
    banner = l2.locator(".banner.escalation")
    assert "lena" in banner.inner_text() and "gateway certificate" in banner.inner_text()
    assert banner.bounding_box()["y"] < l2.locator(".conversation").bounding_box()["y"]
    shot(l2, "21-ticket-escalated")
    l1.context.close()
    l2.context.close()


def test_problem_confirmed_shows_its_banner_and_resolving_it_resolves_its_tickets(
    browser, live_server
) -> None:

    server = live_server
    server.create_user("lena", "agent-L1")
    refs = [
        ticket(server, query=q, contact_email=f"c{i}@example.com", lang=lang)
        for i, (q, lang) in enumerate(
            [("VPN down since 9", "en"), ("VPN en panne depuis 9 h", "fr"), ("VPN times out", "en")]
        )
    ]
    pid = app_problem(server.app, refs[:2])
    page = staff_page(browser, server, "lena")
    page.goto(f"{server.url}/console/problems")
    card = page.locator(f"#problem-{pid}")
    card.locator("input[name=references]").fill(refs[2])
    card.locator("form:has(input[name=references]) button").click()
    page.wait_for_selector(f"#problem-{pid} tr[data-reference={refs[2]}]")
    assert axe_violations(page) == []
    card = page.locator(f"#problem-{pid}")
    card.locator("input[name=banner_en]").fill("VPN is down; we are on it.")
    card.locator("input[name=banner_fr]").fill("Le VPN est en panne ; nous nous en occupons.")
    card.locator(".confirm-problem button").click()
    page.wait_for_selector(f"#problem-{pid}[data-status=open]")
    shot(page, "22-problems")

    customer = browser.new_page()
    customer.goto(server.url + "/?lang=fr")
    assert "Le VPN est en panne" in customer.inner_text(".known-issue:not(.suggest-issue)")
    customer.goto(server.url + "/?lang=en")
    assert "VPN is down; we are on it." in customer.inner_text(".known-issue:not(.suggest-issue)")

    page.goto(f"{server.url}/console/tickets/{refs[0]}")
    assert page.locator(f".badge.problem[data-problem='{pid}']").count() == 1
    page.goto(f"{server.url}/console/problems")
    card = page.locator(f"#problem-{pid}")
    card.locator("textarea[name=note]").fill("The gateway was restarted.")
    card.locator(".resolve-problem button").click()
    page.wait_for_selector("p.notice:has-text('resolved')")
    assert rows(server, "SELECT status FROM ticket ORDER BY id") == [("resolved",)] * 3
    customer.goto(server.url + "/?lang=en")
    assert customer.locator(".known-issue:not(.suggest-issue)").count() == 0
    customer.close()
    page.context.close()


def test_queue_at_390_px_has_no_horizontal_scroll_and_take_is_visible(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    for i in range(4):
        ticket(
            server,
            query=f"printer offline on floor {i} and the whole team cannot print the quarterly reports",
            contact_email=f"someone.with.a.long.address.{i}@example-company.com",
            contact_name="Anastasia Papadopoulou-Villeneuve",
        )
    page = staff_page(browser, server, "lena", width=390, height=844)
    page.goto(f"{server.url}/console/")
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], sizes
    take = page.locator("tr[data-reference] button:has-text('Take')").first
    box = take.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(page, "23-queue-390")
    assert axe_violations(page) == []
    # The bulk bar is one short row: only the field its chosen action needs shows.
    bar = page.locator("#bulk fieldset").bounding_box()
    assert bar is not None and bar["height"] < 120, bar
    assert not page.is_visible("#bulk-assignee") and not page.is_visible("#bulk-original")
    page.select_option("#bulk-action", "assign")
    assert page.is_visible("#bulk-assignee") and not page.is_visible("#bulk-problem")
    page.context.close()


def test_low_confidence_miss_goes_to_triage_and_solved_after_miss_leaves_the_queue(
    browser, live_server
) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    customer = browser.new_page()
    customer.goto(server.url + "/")
    customer.fill("input[name=q]", "SAP invoice module throws error ZX-442")
    customer.press("input[name=q]", "Enter")
    customer.wait_for_load_state("networkidle")
    assert rows(server, "SELECT source, tier, team, category FROM ticket") == [
        ("search_miss", "L1", "service-desk", None)
    ]
    page = staff_page(browser, server, "lena")
    page.goto(f"{server.url}/console/?view=misses")
    assert page.locator("tr[data-reference]").count() == 1  # in the misses view, by topic
    page.goto(f"{server.url}/console/")
    assert page.locator("tr[data-reference]").count() == 0  # not in the working queue

    # The same visitor then finds an article and marks it solved: their miss is solved by self-service.
    customer.fill("input[name=q]", "my printer shows offline and will not print")
    customer.press("input[name=q]", "Enter")
    customer.click(".hits a >> nth=0")
    customer.click("button[value=yes]")
    customer.wait_for_load_state("networkidle")
    assert rows(server, "SELECT status, resolution_note FROM ticket") == [
        ("resolved", "solved by self-service")
    ]
    page.goto(f"{server.url}/console/?view=misses")
    assert page.locator("tr[data-reference]").count() == 0
    customer.close()
    page.context.close()


def test_phone_intake_solved_on_the_call_shows_in_first_contact_resolution(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    server.create_user("root", "admin")
    earlier = ticket(server, query="mailbox full", contact_email="ana@example.com")
    page = staff_page(browser, server, "lena")
    page.goto(f"{server.url}/console/new")
    assert axe_violations(page) == []
    page.locator("#query").press_sequentially("my printer shows offline", delay=20)
    page.wait_for_selector(".suggest-list a")  # the customers' live suggestions
    page.wait_for_selector("#article option[value='en/printer-offline']", state="attached")  # mirrored
    page.fill("#email", "ana@example.com")
    page.wait_for_selector(f"#caller-history [data-reference={earlier}]")  # the caller's history
    page.select_option("#article", "en/printer-offline")
    shot(page, "24-new-ticket")
    page.click("#solved")
    page.wait_for_selector("[data-field=status]:has-text('resolved')")
    page.goto(f"{server.url}/console/dashboard")
    assert page.inner_text("[data-metric=first_contact]") == "1"
    assert page.inner_text("[data-metric=first_contact_rate]") == "100%"
    assert axe_violations(page) == []
    shot(page, "25-dashboard-lead")
    page.context.close()
    admin = staff_page(browser, server, "root")
    admin.goto(f"{server.url}/console/admin/users")
    assert admin.locator("tr[data-user=lena]").count() == 1
    assert axe_violations(admin) == []
    admin.context.close()
