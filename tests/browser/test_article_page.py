"""The article page in a real browser (issue 25): breadcrumb, contents, related articles, the language
switch opening the translation, print styles, in both languages, without accessibility violations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import serious_violations, shot

CRUMB = {"en": ("Help centre", "Accounts and passwords"), "fr": ("Centre d'aide", "Comptes et mots de passe")}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_article_shows_breadcrumb_contents_and_related(live_server, page, lang: str) -> None:
    page.goto(f"{live_server.url}/articles/{lang}/account-locked?lang={lang}")
    crumbs = page.locator("nav.breadcrumb li").all_inner_texts()
    assert crumbs[:2] == list(CRUMB[lang])
    assert page.locator("nav.toc li").count() >= 4
    page.locator("nav.toc a").nth(1).click()
    assert page.evaluate("location.hash") in {"#quick-checks", "#verifications-rapides"}
    related = page.locator("nav.related a")
    assert related.count() >= 1
    hrefs = [related.nth(i).get_attribute("href") or "" for i in range(related.count())]
    assert all(href.startswith(f"/articles/{lang}/") for href in hrefs)
    shot(page, f"25-article-{lang}")


def test_language_switch_opens_the_translation(live_server, page) -> None:
    page.goto(f"{live_server.url}/articles/en/account-locked?lang=en")
    page.click("nav.languages a[lang=fr]")
    page.wait_for_url("**/articles/fr/account-locked?lang=fr")
    assert page.get_attribute("html", "lang") == "fr"
    assert page.inner_text("h1") == "Compte verrouillé après trop de tentatives"


def test_print_hides_header_footer_and_feedback(live_server, page) -> None:
    page.goto(f"{live_server.url}/articles/en/account-locked")
    page.emulate_media(media="print")
    for selector in ("header.top", "footer.foot", "section.feedback", "nav.breadcrumb", "nav.related"):
        assert page.eval_on_selector(selector, "el => getComputedStyle(el).display") == "none", selector
    assert page.eval_on_selector("article .body", "el => getComputedStyle(el).display") != "none"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_article_page_has_no_serious_accessibility_violations(live_server, axe_page: Any, lang: str) -> None:
    axe_page.goto(f"{live_server.url}/articles/{lang}/account-locked?lang={lang}")
    assert serious_violations(axe_page) == []
