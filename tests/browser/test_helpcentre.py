"""The help centre to browse in a real browser (issue 25), English and French, 1280 and 390 px wide:
topic tiles with counts and popular articles on the home page, a category page without internal
articles, the 404 page's search box, "Lost your link?"; axe-core finds no serious violation."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_violations, shot

NAMES = {"en": ("Accounts and passwords", "2 articles"), "fr": ("Comptes et mots de passe", "2 articles")}
POPULAR = {"en": "Printer offline", "fr": "Imprimante hors ligne"}


def open_article(page: Any, server: Any, lang: str) -> None:
    """A customer reads an article (its view beacon makes it popular)."""
    with page.expect_response(lambda r: r.url.endswith("/events/view")) as answer:
        page.goto(f"{server.url}/articles/{lang}/printer-offline?lang={lang}")
    assert answer.value.ok


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_home_shows_topics_with_counts_and_popular_articles(live_server, page, lang: str) -> None:
    open_article(page, live_server, lang)
    page.goto(f"{live_server.url}/?lang={lang}")
    name, count = NAMES[lang]
    tile = page.locator(".tile", has_text=name)
    expect(tile).to_contain_text(count)
    expect(page.locator(".popular li").first).to_have_text(POPULAR[lang])
    assert page.locator("a[href*=escalation-procedure]").count() == 0  # internal
    shot(page, f"25-home-{lang}")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, f"25-home-{lang}-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    tile.locator("a").click()
    page.wait_for_url("**/categories/accounts")
    expect(page.locator("h1")).to_have_text(name)
    hrefs = page.locator(".article-list a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert sorted(hrefs) == [f"/articles/{lang}/account-locked", f"/articles/{lang}/password-reset"]
    shot(page, f"25-category-{lang}")


def test_category_of_internal_articles_only_does_not_exist(live_server, page) -> None:
    answer = page.goto(f"{live_server.url}/categories/support")
    assert answer is not None and answer.status == 404


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_404_page_has_a_search_box_that_searches(live_server, page, lang: str) -> None:
    open_article(page, live_server, lang)
    answer = page.goto(f"{live_server.url}/tickets/KB-000001?lang={lang}")
    assert answer is not None and answer.status == 404
    expect(page.locator(".popular a").first).to_have_text(POPULAR[lang])
    page.fill("#q", "printer offline")
    page.click("form.searchbox button[type=submit]")
    page.wait_for_url("**/search?**")
    shot(page, f"25-404-results-{lang}")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_lost_link_form_confirms_with_focus_and_marks_a_bad_address(live_server, page, lang: str) -> None:
    page.goto(f"{live_server.url}/requests/lost-link?lang={lang}")
    page.fill("#email", "abc")
    page.click("form.contact button[type=submit]")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.activeElement.id") == "email"
    page.fill("#email", "someone@example.com")
    page.click("form.contact button[type=submit]")
    expect(page.locator("#lost-link-sent")).to_be_focused()
    shot(page, f"25-lost-link-{lang}")


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("path", ["/", "/categories/accounts", "/nope", "/requests/lost-link"])
def test_browse_pages_have_no_serious_accessibility_violations(
    live_server,
    axe_page: Any,
    lang: str,
    path: str,
) -> None:
    axe_page.goto(f"{live_server.url}/articles/{lang}/printer-offline?lang={lang}")
    axe_page.goto(f"{live_server.url}{path}?lang={lang}")
    assert serious_violations(axe_page) == []
    for width in (390, 1280):
        axe_page.set_viewport_size({"width": width, "height": 844})
        assert axe_page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_results_with_count_and_topics_have_no_serious_violations(
    live_server, axe_page: Any, lang: str
) -> None:  # noqa: F811
    query = {"en": "printer offline", "fr": "imprimante hors ligne"}[lang]
    axe_page.goto(f"{live_server.url}/search?q={query.replace(' ', '+')}&lang={lang}")
    expect(axe_page.locator("p.count")).to_be_visible()
    assert axe_page.locator(".hit-category a").count() >= 1
    # the query's words light up in the first title and snippet, readable (axe checks the contrast)
    first = axe_page.locator(".hits li").first
    marked = " ".join(first.locator("mark").all_inner_texts()).lower()
    assert set(query.split()) - {"hors"} <= set(marked.split()), marked
    assert first.locator(".snippet mark").count() >= 1
    assert serious_violations(axe_page) == []
    shot(axe_page, f"25-results-{lang}")
    axe_page.set_viewport_size({"width": 390, "height": 844})
    assert axe_page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(axe_page, f"25-results-{lang}-390")
