"""The out-of-scope page in a real browser (issue 25), English and French, 1280 and 390 px wide: a question
for HR gets where to go instead, with its web address and email as links, and "Is it about IT after all?"
leading to the contact form with the question; axe-core finds no violation.

A real index of the sample articles plus one out-of-scope family (HR leave) from the shipped file, built
with the real model through the session's embedding cache (only the family's examples are new to it).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from indexer.build import build_index
from tests.browser.conftest import LiveServer, axe_violations, serving, shot
from tests.conftest import MODEL, SHIPPED

QUERIES = {
    "en": ("I would like to book two weeks of holiday in August", "This is not handled by IT support"),
    "fr": ("je voudrais poser deux semaines de congés en août", "Cette demande ne relève pas du support"),
}
PORTAL = {"en": "https://hr.example.com", "fr": "https://rh.example.com"}


@pytest.fixture(scope="module")
def scope_server(
    tmp_path_factory: pytest.TempPathFactory, articles_dir: Path, embedder: Any, embedding_cache: Path
) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("scope-site")
    articles = root / "articles"
    shutil.copytree(articles_dir, articles)
    families = yaml.safe_load((SHIPPED / "out-of-scope.yml").read_text(encoding="utf-8"))
    (articles / "out-of-scope.yml").write_text(
        yaml.safe_dump({"hr-leave": families["hr-leave"]}, allow_unicode=True), encoding="utf-8"
    )
    index = root / "index"
    report = build_index(
        articles,
        index,
        model=MODEL,
        embedder_factory=lambda: embedder,
        progress=False,
        cache_path=embedding_cache,
    )
    assert not report.problems, report.problems
    with serving(root, articles, index) as server:
        yield server


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_out_of_scope_page_links_where_to_go_and_back_to_support(
    scope_server: LiveServer, axe_page: Any, lang: str
) -> None:
    query, heading = QUERIES[lang]
    axe_page.goto(f"{scope_server.url}/?lang={lang}")
    axe_page.fill("#q", query)
    axe_page.click("form.searchbox button[type=submit]")
    axe_page.wait_for_url("**/search?**")
    expect(axe_page.locator("h1")).to_contain_text(heading)
    portal = axe_page.locator(f".redirect a[href='{PORTAL[lang]}']")
    expect(portal).to_be_visible()
    expect(axe_page.locator(".redirect a[href^='mailto:']")).to_have_count(1)
    assert axe_page.locator(".hits li").count() == 0  # no articles offered for a question IT does not handle
    assert axe_violations(axe_page) == []
    shot(axe_page, f"25-out-of-scope-{lang}")
    axe_page.set_viewport_size({"width": 390, "height": 844})
    assert axe_page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(axe_page) == []
    shot(axe_page, f"25-out-of-scope-{lang}-390")
    axe_page.locator("p.hint a").click()
    axe_page.wait_for_url("**/contact?**")
    expect(axe_page.locator("textarea")).to_have_value(query)
