"""Answers, not just links (issue 26), in a real browser: the answer card above the results, its link
landing on the section, the section marked on the article page, and no accessibility violation."""

from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.apps import page_server
from tests.browser.conftest import axe_violations, rows, serious_violations, shot

CONFIDENT = {
    "en": ("my account is locked on my iphone", "Steps › Phone", "iPhone"),
    "fr": ("compte bloqué sur mon mac", "Procédure › macOS", "Trousseau"),
}


def search(page: Any, server: Any, query: str, lang: str) -> None:
    page.goto(f"{server.url}/?lang={lang}")
    page.fill("#q", query)
    page.locator("form.searchbox button[type=submit]").click()
    page.wait_for_url(re.compile(r"/search\?"))


def in_viewport(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            "(sel) => { const r = document.querySelector(sel).getBoundingClientRect();"
            " return r.top >= 0 && r.top < window.innerHeight; }",
            selector,
        )
    )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_confident_search_shows_the_answer_card_and_its_link_lands_on_the_section(
    live_server, page, lang: str
) -> None:
    query, heading, word = CONFIDENT[lang]
    search(page, live_server, query, lang)
    card = page.locator(".answer-card")
    assert card.is_visible()
    assert card.locator(".answer-section").inner_text() == heading
    assert card.locator(".answer-body ol li").count() >= 2  # the steps, as a list
    assert word in card.locator(".answer-body").inner_text()
    assert card.locator("mark").count() >= 1  # the query's words are marked
    shot(page, f"26-answer-card-{lang}")
    card.locator(".answer-more a").click()
    page.wait_for_url(re.compile(r"/articles/"))
    anchor = page.url.split("#", 1)[1]
    assert in_viewport(page, f"#{anchor}")
    assert "in-section" in (page.get_attribute(f"#{anchor}", "class") or "")
    assert page.evaluate("document.activeElement.id") == anchor
    shot(page, f"26-article-section-{lang}")


def test_yes_on_the_card_stays_on_the_results_and_counts_solved(live_server, page) -> None:
    search(page, live_server, CONFIDENT["en"][0], "en")
    page.locator(".answer-card button[value=yes]").click()
    page.wait_for_url(re.compile(r"solved=1"))
    assert page.evaluate("document.activeElement.id") == "answer-thanks"
    assert rows(live_server, "SELECT kind FROM feedback WHERE kind = 'solved'") == [("solved",)]
    assert rows(live_server, "SELECT count(*) FROM ticket") == [(0,)]


def test_results_with_the_answer_card_have_no_serious_accessibility_violations(live_server, axe_page) -> None:
    for lang, (query, _, _) in CONFIDENT.items():
        axe_page.goto(f"{live_server.url}/search?q={query}&lang={lang}")
        assert axe_page.locator(".answer-card").count() == 1
        assert serious_violations(axe_page) == []
        axe_page.goto(f"{live_server.url}/articles/{lang}/account-locked?lang={lang}#macos")
        assert serious_violations(axe_page) == []


AMBIGUOUS = {
    # query, the platform button to click, the heading the card then shows
    "en": ("the vpn wont connect", "Phone or tablet", "Steps › Phone"),
    "fr": ("le vpn ne se connecte pas", "Téléphone ou tablette", "Procédure › Téléphone"),
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_ambiguous_query_asks_which_one_and_a_click_reorders_without_retyping(
    live_server, page, lang: str
) -> None:
    query, button, heading = AMBIGUOUS[lang]
    search(page, live_server, query, lang)
    question = page.locator("form.clarify fieldset")
    assert question.is_visible()
    options = question.locator("button").all_inner_texts()
    assert button in options and len(options) >= 2
    shot(page, f"26-clarify-{lang}")
    question.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(r"facet=phone"))
    assert page.input_value("#q") == query  # nothing to retype
    assert page.locator(".answer-card .answer-section").inner_text() == heading
    first = page.locator(".hits a >> nth=0").get_attribute("href") or ""
    assert "/vpn-cannot-connect?" in first and re.search(r"#(phone|telephone)$", first)
    assert page.locator("form.clarify.chosen").is_visible()  # "Showing the steps for: …"
    assert rows(live_server, "SELECT clarify, facet FROM search_log") == [("platform", "phone")]
    shot(page, f"26-clarify-chosen-{lang}")
    # Kept for the session: the next search asks nothing and is logged with the choice.
    search(
        page,
        live_server,
        "connected to wifi but no internet" if lang == "en" else "wifi connecté mais pas d'internet",
        lang,
    )
    assert page.locator("form.clarify fieldset").count() == 0
    assert rows(live_server, "SELECT clarify, facet FROM search_log ORDER BY id")[-1] == (None, "phone")


def test_results_with_the_question_have_no_accessibility_violation(live_server, axe_page) -> None:  # noqa: F811
    for lang, (query, _, _) in AMBIGUOUS.items():
        axe_page.goto(f"{live_server.url}/search?q={query}&lang={lang}&facet=")
        assert axe_page.locator("form.clarify fieldset").count() == 1
        assert axe_violations(axe_page) == []  # any impact


class _Intranet(BaseHTTPRequestHandler):
    """A page on another origin in `lang`, with a strict CSP that only lets kb-engine in."""

    kb_url = ""
    lang = "en"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (
            f'<!doctype html><html lang="{self.lang}"><head><meta charset="utf-8">'
            "<title>Intranet</title></head><body><main><h1>Intranet</h1></main>"
            f'<script src="{self.kb_url}/static/widget.js" defer></script></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        kb = self.kb_url
        csp = f"default-src 'none'; script-src {kb}; style-src {kb}; connect-src {kb}"
        self.send_header("Content-Security-Policy", csp)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_widget_shows_the_answer_card_under_a_strict_csp(live_server, page, lang: str) -> None:
    handler = type("Intranet", (_Intranet,), {"kb_url": live_server.url, "lang": lang})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in {"error", "warning"} else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    with page_server(handler) as intranet:
        live_server.app.config["CORS_ORIGINS"] = [intranet]
        page.goto(f"{intranet}/")
        page.wait_for_selector("[data-kb-engine-widget][data-ready=true]", state="attached")
        page.click(".kbw-toggle")
        query, heading, word = CONFIDENT[lang]
        page.locator(".kbw-input").press_sequentially(query, delay=20)
        card = page.locator(".kbw .answer-card")
        expect(card).to_be_visible()
        assert card.locator(".answer-section").inner_text() == heading
        assert card.locator(".answer-body ol li").count() >= 2 and word in card.inner_text()
        more = card.locator(".answer-more a").get_attribute("href") or ""
        assert more.startswith(f"{live_server.url}/articles/{lang}/account-locked?ch=widget&q=")
        assert re.search(r"#[\w-]+$", more)
        for href in card.locator(".answer-body a").evaluate_all("links => links.map(a => a.href)"):
            assert href.startswith(live_server.url + "/")  # the article's own links, on the help centre
        shot(page, f"26-widget-card-{lang}")
        assert not problems, problems


def test_agents_see_the_answer_card_and_insert_its_steps_at_the_cursor(live_server, browser) -> None:
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService
    from tests.browser.conftest import login

    app = live_server.app
    with make_session_factory(app.extensions["kb_engine"])() as session:
        ticket = TicketService.from_settings(session, app.config).create(
            source="agent", query="my account is locked on my iphone", lang="en", actor="lena"
        )
        session.commit()
        reference = str(ticket.reference)
    live_server.create_user("lena", "agent-L1")
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
        page = context.new_page()
        login(page, live_server, "lena")
        page.goto(f"{live_server.url}/console/tickets/{reference}")
        card = page.locator("#agent-answer")
        assert card.locator(".answer-section").inner_text() == "Steps › Phone"
        assert card.locator(".answer-body ol li").count() >= 2
        shot(page, f"26-console-card-{width}")
        card.get_by_role("button", name="Insert these steps in the reply").click()
        text = page.input_value("#message")
        assert text.startswith("Account locked after too many attempts › Steps › Phone")
        assert f"{app.config['PUBLIC_URL'].rstrip('/')}/articles/en/account-locked#phone" in text
        assert page.url.endswith(f"/console/tickets/{reference}")  # inserted in place, no reload
        context.close()
