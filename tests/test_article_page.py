"""The article page customers read (issue 25): breadcrumb, updated date, contents, related articles, the
language switch opening the translation, the way back to the results."""

from __future__ import annotations

import re

import pytest

from kb_engine.content.categories import load_categories, parse_categories
from kb_engine.errors import ArticleError
from tests.conftest import SHIPPED, csrf_token


def test_every_shipped_category_has_names_in_both_languages() -> None:
    categories = load_categories(SHIPPED)
    used = {
        line.split(":", 1)[1].strip()
        for path in SHIPPED.glob("*/*.md")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("category:")
    }
    assert used <= set(categories)
    for category in categories.values():
        assert set(category.names) == {"en", "fr"} and set(category.descriptions) == {"en", "fr"}


def test_categories_file_errors_say_what_is_wrong() -> None:
    with pytest.raises(ArticleError, match="name"):
        parse_categories("accounts:\n  en: {description: x}\n")
    assert parse_categories("accounts:\n  en: Accounts\n")["accounts"].name("fr") == "Accounts"


def test_article_has_breadcrumb_updated_under_title_contents_and_related(client) -> None:
    page = client.get("/articles/en/account-locked?lang=en").get_data(as_text=True)
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', page, re.S).group(0)
    assert "Help centre" in crumbs and "Accounts and passwords" in crumbs and "Account locked" in crumbs
    assert page.index('class="updated"') < page.index('class="body"')
    toc = re.search(r'<nav class="toc".*?</nav>', page, re.S).group(0)
    assert 'href="#symptoms"' in toc and 'href="#quick-checks"' in toc
    related = re.search(r'<nav class="related".*?</nav>', page, re.S).group(0)
    links = re.findall(r'href="(/articles/[^"]+)"', related)
    assert links and all(link.startswith("/articles/en/") for link in links)
    assert "/articles/en/account-locked" not in links
    assert "escalation-procedure" not in related  # internal articles never shown


def test_language_switch_opens_the_translation(client) -> None:
    page = client.get("/articles/en/account-locked?lang=en").get_data(as_text=True)
    assert 'href="/articles/fr/account-locked?lang=fr" lang="fr" hreflang="fr"' in page


def test_back_to_your_results_when_arriving_from_a_search(client) -> None:
    response = client.post("/search", data={"q": "account locked", "csrf_token": csrf_token(client)})
    search_id = re.search(r"s=(\d+)", response.headers["Location"]).group(1)
    page = client.get(f"/articles/en/account-locked?s={search_id}").get_data(as_text=True)
    assert re.search(r'<p class="back"><a href="/search\?q=account\+locked&amp;s=' + search_id, page)
    assert 'class="back"' not in client.get("/articles/en/account-locked").get_data(as_text=True)
