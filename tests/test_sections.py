"""Sections as search results (issue 26): stable heading anchors, the best section of each hit, links."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.content.anchors import slugify, unique_anchors
from kb_engine.content.articles import render_markdown, scan_articles
from kb_engine.content.sections import article_sections, section_by_anchor, subtree_markdown
from kb_engine.search.searcher import Searcher
from kb_engine.search.sections import is_answer_heading
from tests.conftest import MODEL, SHIPPED

BODY = """Intro text.

## Symptoms

It says *locked*.

## Steps

### Windows

1. Press Ctrl + Alt + Del.

### macOS

1. Open System Settings.

## Vérifications rapides

```
# not a heading
```

## Windows
"""


def test_anchors_fold_accents_and_punctuation() -> None:
    assert slugify("Vérifications rapides") == "verifications-rapides"
    assert slugify("Avant d'escalader") == "avant-d-escalader"
    assert slugify("Windows (Edge, Chrome, Firefox)") == "windows-edge-chrome-firefox"
    assert slugify("¿¡!") == "section"


def test_anchors_are_unique_and_never_take_the_page_ids() -> None:
    anchors = unique_anchors([(2, "Steps"), (3, "Windows"), (2, "Other"), (3, "Windows"), (2, "Main")])
    assert anchors == ["steps", "windows", "other", "other-windows", "main-2"]


def test_sections_skip_fenced_code_and_know_their_path() -> None:
    sections = article_sections(BODY)
    assert [s.path for s in sections] == [
        "Symptoms",
        "Steps",
        "Steps > Windows",
        "Steps > macOS",
        "Vérifications rapides",
        "Windows",
    ]
    assert [s.anchor for s in sections][-1] == "windows-2"
    steps = section_by_anchor(BODY, "steps")
    assert steps is not None
    assert "### macOS" in subtree_markdown(BODY, steps) and "Symptoms" not in subtree_markdown(BODY, steps)


def test_anchors_survive_edits_elsewhere_in_the_article() -> None:
    before = {s.path: s.anchor for s in article_sections(BODY)}
    edited = BODY.replace("Intro text.", "Intro text.\n\n## What changed\n\nNew section.")
    after = {s.path: s.anchor for s in article_sections(edited)}
    assert all(after[path] == anchor for path, anchor in before.items())


def test_rendered_headings_carry_the_same_anchors_for_every_shipped_article() -> None:
    for article in scan_articles(SHIPPED).articles:
        ids = re.findall(r'<h[2-6] id="([^"]+)"', render_markdown(article.body))
        expected = [s.anchor for s in article_sections(article.body) if s.level >= 2]
        assert ids == expected, article.id


@pytest.fixture(scope="module")
def searcher(index_dir: Path, embedder) -> Searcher:
    return Searcher(index_dir, model=MODEL, embedder=embedder)


@pytest.mark.parametrize(
    ("query", "article", "heading"),
    [
        ("my account is locked on my iphone", "en/account-locked", "Steps > Phone"),
        ("account locked on my mac", "en/account-locked", "Steps > macOS"),
        ("compte bloqué sur mon téléphone", "fr/account-locked", "Procédure > Téléphone"),
        ("mot de passe oublié sur mon mac", "fr/password-reset", "Procédure > macOS"),
    ],
)
def test_each_hit_carries_the_section_that_answers(
    searcher: Searcher, query: str, article: str, heading: str
) -> None:
    hit = searcher.search(query, k=3).hits[0]
    assert hit.id == article
    assert hit.section is not None and hit.section["heading"] == heading
    assert hit.section["url"] == f"{hit.url}#{hit.section['anchor']}"
    assert hit.section["passage"]


def test_desk_checklist_is_never_the_answer_section(searcher: Searcher) -> None:
    for query in ("printer offline", "vpn will not connect", "wifi connected but no internet"):
        for hit in searcher.search(query, k=5).hits:
            assert hit.section is None or is_answer_heading(hit.section["heading"]), query


def test_cli_json_adds_the_section_and_keeps_the_contract(runner, index_dir: Path) -> None:
    args = ["search", "--index-dir", str(index_dir), "--json", "printer offline on my mac"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    hit = json.loads(result.output)["hits"][0]
    assert hit["url"] == "/articles/en/printer-offline"  # unchanged: the section is an added field
    assert hit["section"]["heading"] == "Steps > macOS"
    assert hit["section"]["url"] == "/articles/en/printer-offline#macos"


def test_results_page_links_to_the_section_and_article_has_the_anchor(client) -> None:
    page = client.get("/search", query_string={"q": "account locked on my iphone"}).get_data(as_text=True)
    assert re.search(r'href="/articles/en/account-locked\?[^"]*#phone"', page)
    article = client.get("/articles/en/account-locked").get_data(as_text=True)
    assert '<h3 id="phone">' in article


def test_api_search_has_the_section(client) -> None:
    data = client.get("/api/v1/search", query_string={"q": "compte bloqué sur mon mac"}).get_json()
    assert data["hits"][0]["section"]["anchor"] == "macos"
