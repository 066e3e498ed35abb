"""Feedback that keeps the customer where they are (issue 25), in a real browser, both languages:
"Yes" thanks in place with the focus on the message; "No" asks an optional reason and offers the
search's next-best articles, and files a request only when "Contact support" is chosen."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_violations, shot

TEXT = {
    "en": {
        "query": "my printer says offline",
        "thanks": "Glad it is solved",
        "reason": "The steps did not work",
    },
    "fr": {
        "query": "mon imprimante est hors ligne",
        "thanks": "Tant mieux",
        "reason": "Les étapes n'ont pas marché",
    },
}


def tickets(server: Any) -> int:
    url = server.app.config["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(url) as db:
        return int(db.execute("SELECT count(*) FROM ticket").fetchone()[0])


def search_and_open(page: Any, server: Any, lang: str) -> None:
    page.goto(f"{server.url}/?lang={lang}")
    page.fill("#q", TEXT[lang]["query"])
    page.press("#q", "Enter")
    page.wait_for_selector(".hits a")
    page.locator(".hits a").first.click()
    page.wait_for_selector("article[data-article]")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_yes_thanks_in_place_with_focus(live_server, page, lang: str) -> None:
    search_and_open(page, live_server, lang)
    page.click("button[value=yes]")
    thanks = page.locator(".feedback .thanks")
    expect(thanks).to_be_focused()
    expect(thanks).to_contain_text(TEXT[lang]["thanks"])
    assert page.evaluate(
        "(() => { const r = document.activeElement.getBoundingClientRect();"
        " return r.top >= 0 && r.top < innerHeight; })()"
    )  # in view, not 3 screens away
    shot(page, f"25-feedback-yes-{lang}")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_asks_why_offers_next_best_and_files_only_on_contact(live_server, page, lang: str) -> None:
    search_and_open(page, live_server, lang)
    page.click("button[value=no]")
    expect(page.locator(".not-helped")).to_be_focused()
    assert page.locator(".next-best a").count() >= 1
    assert tickets(live_server) == 0
    page.get_by_role("button", name=TEXT[lang]["reason"]).click()
    expect(page.locator(".not-helped .notice")).to_be_visible()
    assert tickets(live_server) == 0
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"25-feedback-no-{lang}-390")
    page.click("form.still-stuck button[type=submit]")
    page.wait_for_selector("form.contact")
    assert tickets(live_server) == 1


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_feedback_answers_have_no_serious_accessibility_violations(
    live_server,
    axe_page: Any,  # noqa: F811
    lang: str,
) -> None:
    search_and_open(axe_page, live_server, lang)
    axe_page.click("button[value=no]")
    axe_page.wait_for_selector(".not-helped")
    assert serious_violations(axe_page) == []
    axe_page.goto(f"{live_server.url}/articles/{lang}/printer-offline?answer=yes&lang={lang}#feedback")
    assert serious_violations(axe_page) == []
