"""The personal-data pages and the known-issue page in Chromium: the privacy notice in English and French,
the admins' /console/privacy (export, erase with the address typed twice, the audit log), the known issue's
"Email me when it is fixed" from its banner; no axe-core violation, no horizontal scroll on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps import app_problem, app_ticket
from tests.browser.conftest import axe_violations, rows, shot, staff_page

pytestmark = [pytest.mark.browser, pytest.mark.model]


def fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_privacy_notice_in_both_languages_on_desktop_and_phone(browser, live_server, lang: str) -> None:
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 844}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{live_server.url}/privacy?lang={lang}")
        assert page.get_attribute("html", "lang") == lang
        assert page.locator("h1").count() == 1 and fits(page)
        assert axe_violations(page) == []
        shot(page, f"27-privacy-{lang}-{width}")
        context.close()
    # Linked from the contact form, where the customer leaves their details.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/contact?lang={lang}&s=my+printer+is+offline")
    assert page.locator("a[href^='/privacy']").count() >= 1
    context.close()


def test_admins_export_and_erase_on_the_console_privacy_page(browser, live_server) -> None:
    live_server.create_user("ada-admin", "admin")
    app_ticket(live_server.app, query="vpn drops", contact_email="eve@example.com", contact_name="Eve Ray")
    page = staff_page(browser, live_server, "ada-admin")
    page.goto(f"{live_server.url}/console/privacy")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.fill("#export-email", "eve@example.com")
        page.click("#export-email ~ button")
    assert download.value.suggested_filename.endswith(".json")
    page.fill("#erase-email", "eve@example.com")
    page.fill("#erase-confirm", "eve@example.com")
    page.click("button.danger")
    page.wait_for_load_state()
    assert rows(live_server, "SELECT count(*) FROM ticket WHERE contact_email = 'eve@example.com'") == [(0,)]
    assert page.locator("table").inner_text().count("privacy_erase") == 1
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert fits(page)
    shot(page, "27-console-privacy-390")
    page.context.close()


def test_known_issue_banner_leads_to_email_me_when_it_is_fixed(browser, live_server) -> None:
    app_problem(
        live_server.app, title="VPN outage", banners={"en": "The VPN is down.", "fr": "Le VPN est en panne."}
    )
    for lang, link in (
        ("fr", "Me prévenir par e-mail quand ce sera résolu"),
        ("en", "Email me when it is fixed"),
    ):
        context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{live_server.url}/?lang={lang}")
        page.click(f"text={link}")
        assert page.locator("h1").count() == 1 and fits(page)
        assert axe_violations(page) == []
        page.fill("#watch-email", "not an address")
        page.click("form.watch button")
        assert page.get_attribute("#watch-email", "aria-invalid") == "true"
        assert page.input_value("#watch-email") == "not an address"  # what was typed is kept
        assert axe_violations(page) == []
        page.fill("#watch-email", f"{lang}-visitor@example.com")
        page.click("form.watch button")
        page.wait_for_selector("#watch-done")
        assert axe_violations(page) == []
        shot(page, f"17-known-issue-{lang}-390")
        context.close()
    assert sorted(rows(live_server, "SELECT email, lang FROM problem_watch")) == [
        ("en-visitor@example.com", "en"),
        ("fr-visitor@example.com", "fr"),
    ]
