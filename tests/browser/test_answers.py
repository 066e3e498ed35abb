"""Answers, not just links (issue 26), in a real browser: the answer card above the results, its link
landing on the section, the section marked on the article page, and no accessibility violation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import rows, serious_violations, shot

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
