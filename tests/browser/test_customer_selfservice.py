"""Customer self-service in headless Chromium: live suggestions, the contact form that tries first (solved
and ticket), the widget on another origin under a strict CSP, the language switch, and axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.apps import page_server
from tests.browser.conftest import rows, serious_violations, shot

pytestmark = [pytest.mark.browser, pytest.mark.model]

SEARCH_API = "/api/v1/search"


def api_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if SEARCH_API in request.url else None)
    return seen


def suggestion_titles(page: Any, scope: str = "") -> list[str]:
    return [t.strip() for t in page.locator(f"{scope} .suggest-list .suggest-title").all_inner_texts()]


def test_suggestions_update_as_the_customer_types_and_the_keyboard_reaches_them(live_server, page) -> None:
    seen = api_requests(page)
    page.goto(live_server.url + "/")
    page.locator("#q").press_sequentially("my printer says offline", delay=25)
    expect(page.locator(".suggest-title").first).to_have_text("Printer offline")
    assert len(seen) <= 3, seen  # debounced: not one request per keystroke
    # The count is announced 50 ms after the list (suggest.js): wait for it rather than race it.
    expect(page.locator(".suggest-status")).to_contain_text("suggested articles: 5", ignore_case=True)
    page.fill("#q", "")
    page.locator("#q").press_sequentially("I forgot my password", delay=25)
    expect(page.locator(".suggest-title").first).to_have_text("Reset a forgotten password")
    shot(page, "11-suggestions")
    assert rows(live_server, "SELECT count(*) FROM search_log") == [(0,)]  # suggesting never writes

    page.press("#q", "ArrowDown")
    assert page.evaluate("document.activeElement.textContent").startswith("Reset a forgotten password")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "q"
    page.press("#q", "ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("article[data-article='en/password-reset']")
    # the beacon logged the search and the page now names it
    page.wait_for_url(re.compile(r"\?s=\d+(#[\w-]+)?$"))
    assert rows(live_server, "SELECT query, channel FROM search_log") == [("I forgot my password", "web")]
    assert rows(live_server, "SELECT kind, channel FROM feedback") == [("view", "web")]


def test_suggestions_work_without_javascript_as_a_plain_form(browser, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    page.goto(live_server.url + "/")
    page.fill("#q", "printer offline")
    page.click("form.searchbox button[type=submit]")
    page.wait_for_selector(".hits a")
    assert "Printer offline" in page.inner_text(".hits")
    context.close()


def test_contact_form_deflects_when_an_article_solves_it(live_server, page) -> None:
    page.goto(live_server.url + "/contact")
    assert page.locator("#email").count() == 0  # the description comes first
    page.locator("#description").press_sequentially("the printer is offline and nothing prints", delay=20)
    page.wait_for_selector(".suggest-list a")
    shot(page, "12-contact-describe")
    page.click("form.describe button[type=submit]")
    page.wait_for_selector(".answers .hits")
    assert page.locator(".answers").bounding_box()["y"] < page.locator("#email").bounding_box()["y"]
    shot(page, "13-contact-answers")
    page.click(".answers .hit >> nth=0 >> button")
    page.wait_for_selector(".thanks-box")
    assert rows(live_server, "SELECT kind, channel FROM feedback") == [("solved", "form")]
    assert rows(live_server, "SELECT count(*) FROM ticket") == [(0,)]


def test_contact_form_opens_a_ticket_when_nothing_helps(live_server, page) -> None:
    page.goto(live_server.url + "/contact")
    page.fill("#description", "the printer is offline and nothing prints")
    page.click("form.describe button[type=submit]")
    page.wait_for_selector("#email")
    # An article opened from the form counts as the form's deflection attempt.
    with page.expect_navigation():
        page.click(".answers .hit a >> nth=0")
    page.wait_for_load_state("networkidle")
    page.go_back()
    page.fill("#name", "Ana Silva")
    page.fill("#email", "ana@example.com")
    page.fill("#phone", "01 23 45 67 89")
    page.fill("#availability", "weekdays after 2 pm")
    page.click(".needhelp button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/KB-\d{6}\?t="))
    assert "Your request was sent to support" in page.inner_text("main")
    shot(page, "14-contact-ticket")
    assert rows(live_server, "SELECT source, contact_email, availability FROM ticket") == [
        ("contact_form", "ana@example.com", "weekdays after 2 pm")
    ]
    assert rows(live_server, "SELECT kind, channel FROM feedback") == [("view", "form")]


class _HostPage(BaseHTTPRequestHandler):
    """A company intranet page on another origin, with a strict CSP that only lets kb-engine in."""

    kb_url = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Intranet</title></head>'
            "<body><main><h1>Intranet</h1><p>Welcome.</p></main>"
            f'<script src="{self.kb_url}/static/widget.js" defer></script></body></html>'
        ).encode()
        csp = (
            f"default-src 'none'; script-src {self.kb_url}; style-src {self.kb_url}; "
            f"connect-src {self.kb_url}; base-uri 'none'; form-action 'none'"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", csp)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def host_site(live_server) -> Iterator[str]:
    handler = type("HostPage", (_HostPage,), {"kb_url": live_server.url})
    with page_server(handler) as origin:
        live_server.app.config["CORS_ORIGINS"] = [origin]
        yield origin


def test_widget_on_another_origin_under_a_strict_csp(live_server, host_site, page) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in {"error", "warning"} else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(host_site + "/")
    page.wait_for_selector("[data-kb-engine-widget][data-ready=true]", state="attached")
    page.click(".kbw-toggle")  # playwright's CSS selectors go through the open shadow root
    page.locator(".kbw-input").press_sequentially("vpn cannot connect", delay=20)
    expect(page.locator(".kbw .suggest-title").first).to_have_text("VPN will not connect")
    shot(page, "15-widget")
    assert not problems, problems  # nothing refused by the CSP, no CORS error
    link = page.locator(".kbw .suggest-list a >> nth=0").get_attribute("href") or ""
    assert link.startswith(live_server.url + "/articles/en/vpn-cannot-connect?ch=widget&q=")
    with page.expect_popup() as popup_info:
        page.locator(".kbw .suggest-list a >> nth=0").click()
    article = popup_info.value
    article.wait_for_url(re.compile(r"\?s=\d+(#[\w-]+)?$"))
    assert rows(live_server, "SELECT channel FROM search_log") == [("widget",)]
    assert rows(live_server, "SELECT kind, channel FROM feedback") == [("view", "widget")]
    page.keyboard.press("Escape")


def test_widget_refused_by_an_origin_that_is_not_allowed(live_server, host_site, page) -> None:
    live_server.app.config["CORS_ORIGINS"] = []
    page.goto(host_site + "/")
    page.wait_for_selector("[data-kb-engine-widget][data-ready=true]", state="attached")
    page.click(".kbw-toggle")
    page.locator(".kbw-input").press_sequentially("vpn cannot connect", delay=20)
    expect(page.locator(".kbw .suggest")).to_have_attribute("data-state", "error")
    assert page.locator(".kbw .suggest-list li").count() == 0


def test_the_interface_switches_language(live_server, page, browser) -> None:
    page.goto(live_server.url + "/")
    assert page.inner_text("h1") == "How can we help?"
    page.click("nav.languages a[lang=fr]")
    page.wait_for_url(re.compile(r"lang=fr"))
    assert page.inner_text("h1") == "Comment pouvons-nous vous aider\u00a0?"
    assert page.get_attribute("html", "lang") == "fr"
    page.click("a.navlink")
    assert page.inner_text("h1") == "Contacter le support"  # remembered for the next pages
    shot(page, "16-french")
    french = browser.new_context(locale="fr-FR")
    other = french.new_page()
    other.goto(live_server.url + "/")
    assert other.get_attribute("html", "lang") == "fr"  # from the browser's Accept-Language
    french.close()


CUSTOMER_PAGES = {
    "home": "/",
    "results": "/search?q=my+printer+says+offline",
    "article": "/articles/en/printer-offline",
    "contact": "/contact",
    "article-fr": "/articles/fr/printer-offline?lang=fr",
}


@pytest.mark.parametrize("name", sorted(CUSTOMER_PAGES))
def test_customer_pages_have_no_serious_accessibility_violations(live_server, axe_page, name) -> None:
    axe_page.goto(live_server.url + CUSTOMER_PAGES[name])
    assert serious_violations(axe_page) == []


def test_contact_answers_and_suggestions_have_no_serious_accessibility_violations(
    live_server, axe_page
) -> None:
    axe_page.goto(live_server.url + "/contact")
    axe_page.locator("#description").press_sequentially("forgot my password", delay=20)
    axe_page.wait_for_selector(".suggest-list a")
    assert serious_violations(axe_page) == []
    axe_page.click("form.describe button[type=submit]")
    axe_page.wait_for_selector("#email")
    assert serious_violations(axe_page) == []


def test_customer_pages_fit_a_phone_screen(browser, live_server) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB", is_mobile=True)
    page = context.new_page()
    for path in ("/", "/search?q=printer+offline", "/articles/en/printer-offline", "/contact"):
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    shot(page, "17-phone-contact")
    context.close()
