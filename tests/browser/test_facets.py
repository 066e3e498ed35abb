"""Articles that declare their platform in front matter (issue 26, `platform: [windows]`), in a real
browser: a knowledge base written one article per platform asks "Which one are you using?" with the
platforms of the close hits (a platform of `platforms.yml` under its label per language), a click puts that
platform's article first without retyping, and the page has no accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.build import build_index
from kb_engine.search.embedding import HashingEmbedder
from tests.apps import served_app, wsgi_server
from tests.browser.conftest import axe_violations, shot

STEPS = {
    "en": "## Steps\n1. Open **GlobalProtect**.\n2. Click **Connect** and sign in again.\n"
    "3. Restart if it fails.\n",
    "fr": "## Procédure\n1. Ouvrez **GlobalProtect**.\n2. Cliquez sur **Connecter** et reconnectez-vous.\n"
    "3. Redémarrez en cas d'échec.\n",
}
TITLES = {
    ("en", "windows"): "VPN will not connect on a Windows PC",
    ("en", "chromebook"): "VPN will not connect on a school laptop",
    ("fr", "windows"): "Le VPN ne se connecte pas sur un PC Windows",
    ("fr", "chromebook"): "Le VPN ne se connecte pas sur un portable de l'école",
}
PLATFORMS = "chromebook:\n  words: [chromebook, chromeos]\n  en: Chromebook\n  fr: Chromebook (école)\n"
# query, the labels offered, the one clicked and the article it must put first
ASK = {
    "en": ("the vpn will not connect", {"Windows", "Chromebook"}, "Chromebook", "vpn-chromebook"),
    "fr": ("le vpn ne se connecte pas", {"Windows", "Chromebook (école)"}, "Windows", "vpn-windows"),
}


def one_article_per_platform(root: Path) -> Path:
    for (lang, platform), title in TITLES.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        (root / lang / f"vpn-{platform}.md").write_text(
            f'---\ntitle: "{title}"\nlang: {lang}\ncategory: network\nplatform: [{platform}]\n---\n\n'
            f"{title}.\n\n{STEPS[lang]}",
            encoding="utf-8",
        )
    (root / "platforms.yml").write_text(PLATFORMS, encoding="utf-8")
    return root


@pytest.fixture()
def facet_server(tmp_path: Path) -> Iterator[str]:
    articles = one_article_per_platform(tmp_path / "articles")
    index = tmp_path / "index"
    report = build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    assert not report.problems, report.problems
    with served_app(tmp_path, articles, index, testing=False) as app, wsgi_server(app) as url:
        yield url


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_one_article_per_platform_asks_which_one_and_a_click_puts_it_first(
    facet_server: str, page: Any, lang: str
) -> None:
    query, labels, clicked, slug = ASK[lang]
    page.goto(f"{facet_server}/?lang={lang}")
    page.fill("#q", query)
    page.locator("form.searchbox button[type=submit]").click()
    page.wait_for_url(re.compile(r"/search\?"))
    question = page.locator("form.clarify fieldset")
    assert question.is_visible()
    assert set(question.locator("button").all_inner_texts()) == labels
    shot(page, f"26-facets-{lang}")
    question.get_by_role("button", name=clicked, exact=True).click()
    page.wait_for_url(re.compile(r"facet="))
    assert page.input_value("#q") == query  # nothing to retype
    first = page.locator(".hits a >> nth=0").get_attribute("href") or ""
    assert f"/articles/{lang}/{slug}" in first
    assert page.locator("form.clarify.chosen").is_visible()
    assert clicked in page.locator("form.clarify.chosen").inner_text()


def test_the_question_from_declared_platforms_has_no_accessibility_violation(
    facet_server: str, axe_page: Any
) -> None:
    for lang, (query, _, _, _) in ASK.items():
        axe_page.goto(f"{facet_server}/search?q={query}&lang={lang}&facet=")
        assert axe_page.locator("form.clarify fieldset").count() == 1
        assert axe_violations(axe_page) == []  # any impact
    axe_page.set_viewport_size({"width": 390, "height": 900})  # a phone: the buttons fit, no sideways scroll
    assert axe_page.evaluate("document.documentElement.scrollWidth") <= 390
    box = axe_page.locator("form.clarify fieldset").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(axe_page, "26-facets-fr-390")
