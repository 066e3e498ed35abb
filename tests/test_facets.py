"""Front-matter facets (issue 26): an article declares the platforms it is for (`platform: [windows,
macos]`, field named by the FACET_FIELD setting); the clarifying question offers them, asks when the close
hits are one-platform articles for different platforms, and `kb lint` checks the values."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from kb_engine.authoring.lint import lint_articles
from kb_engine.content.articles import Article, parse_article
from kb_engine.content.platforms import PLATFORMS_FILE
from kb_engine.search.sections import Platforms, SectionPicker, SectionQuery, platforms_for

BODY = "Some text.\n\n## Steps\n1. Do this.\n2. Then that.\n"


def write(root: Path, slug: str, front: str, lang: str = "en") -> Path:
    (root / lang).mkdir(parents=True, exist_ok=True)
    path = root / lang / f"{slug}.md"
    path.write_text(f"---\ntitle: {slug}\n{front}---\n\n{BODY}", encoding="utf-8")
    return path


def test_declared_fields_are_kept_lowercased_and_survive_the_index_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, "vpn-mac", "platform: [macOS, Windows]\nproduct: GlobalProtect\nowner: {a: 1}\n")
    article = parse_article(path, tmp_path)
    assert article.facet("platform") == ("macos", "windows")
    assert article.facet("product") == ("globalprotect",)
    assert article.facet("owner") == ()  # a mapping is not a facet
    assert article.facet("title") == ()  # fields with a meaning of their own are not facets
    assert Article.from_dict(article.to_dict()) == article
    legacy = {k: v for k, v in article.to_dict().items() if k != "facets"}  # an index built before
    assert Article.from_dict(legacy).facets == ()


def picker(declared: list[list[str]], platforms: Platforms | None = None) -> SectionPicker:
    rows = np.array([], dtype=np.int64)
    return SectionPicker(
        rows, rows, [], [], ["en"] * len(declared), None, platforms or Platforms(), declared=declared
    )


def hit(row: int, score: float) -> SimpleNamespace:
    return SimpleNamespace(row=row, score=score)


NO_PLATFORM = SectionQuery(frozenset({"vpn"}), frozenset())


def test_close_hits_for_different_platforms_ask_which_one() -> None:
    found = picker([["windows"], ["macos"], []])
    question = found.clarify([hit(0, 1.0), hit(1, 0.98), hit(2, 0.5)], None, NO_PLATFORM)
    assert question == {"facet": "platform", "options": ["windows", "macos"]}
    # A click puts the chosen platform's article first.
    assert [g.row for g in found.facet_first([hit(0, 1.0), hit(1, 0.98)], "macos")] == [1, 0]


@pytest.mark.parametrize(
    ("hits", "query"),
    [
        ([hit(0, 1.0), hit(1, 0.7)], NO_PLATFORM),  # the second is far behind: the first answers
        ([hit(0, 1.0), hit(1, 0.98)], SectionQuery(frozenset(), frozenset({"macos"}))),  # platform named
        ([hit(0, 1.0), hit(2, 0.99)], NO_PLATFORM),  # both for Windows: nothing to choose
    ],
)
def test_no_question_when_the_results_do_not_split(hits: list[SimpleNamespace], query: SectionQuery) -> None:
    assert picker([["windows"], ["macos"], ["windows"]]).clarify(hits, None, query) is None


def test_declared_platforms_are_the_article_s_options(tmp_path: Path) -> None:
    found = picker([["phone", "windows"], []])
    assert found.article_platforms(0) == ["phone", "windows"]
    assert found.article_platforms(1) == []


def test_a_custom_field_and_platforms_file_values(tmp_path: Path) -> None:
    (tmp_path / PLATFORMS_FILE).write_text(
        "teams:\n  words: [teams]\n  en: Teams\n  fr: Teams\nzoom:\n  words: [zoom]\n", encoding="utf-8"
    )
    platforms = platforms_for(tmp_path, "product")
    article = parse_article(write(tmp_path, "join", "product: [Teams, zoom, webex]\n"), tmp_path)
    assert platforms.declared(article) == ["teams", "zoom"]  # webex is unknown: left out (lint says so)


def test_lint_reports_unknown_and_malformed_platform_values(tmp_path: Path) -> None:
    write(tmp_path, "good", "platform: [windows, macos]\n")
    write(tmp_path, "typo", "platform: [windwos]\n")
    write(tmp_path, "shape", "platform: {os: windows}\n")
    for slug in ("good", "typo", "shape"):
        write(tmp_path, slug, "platform: [windows]\n" if slug == "shape" else "", lang="fr")
    problems = [p for p in lint_articles(tmp_path).problems if "platform" in p.reason]
    by_file = {p.path: p for p in problems}
    assert set(by_file) == {"en/typo.md", "en/shape.md"}
    assert "'windwos' is not a known platform" in by_file["en/typo.md"].reason
    assert "did you mean windows?" in by_file["en/typo.md"].reason
    assert by_file["en/typo.md"].line == 3
    assert "must be a platform or a list of them" in by_file["en/shape.md"].reason


def test_lint_checks_the_configured_field(tmp_path: Path) -> None:
    write(tmp_path, "join", "product: [teams]\nplatform: [nonsense]\n")
    write(tmp_path, "join", "", lang="fr")
    problems = lint_articles(tmp_path, facet_field="product").problems
    assert [p.reason for p in problems if "product" in p.reason]  # teams is not a known platform
    assert not [p for p in problems if "nonsense" in p.reason]  # not the configured field


def test_the_split_is_asked_when_the_engine_is_unsure_too() -> None:
    found = picker([["windows"], ["macos"], ["windows", "phone"]])
    close = [hit(0, 1.0), hit(1, 0.98)]
    assert found.clarify(close, None, NO_PLATFORM, answered=False) == {
        "facet": "platform",
        "options": ["windows", "macos"],
    }
    assert found.clarify([hit(2, 1.0)], None, NO_PLATFORM, answered=False) is None  # one article: no


def test_kb_eval_prints_the_held_out_question_rates() -> None:
    from kb_engine.search.section_eval import format_section_figures

    rates = {"n": 40, "asked": 0.925, "offered_right_value": 0.9, "right_section_after_click": 0.95}
    text = format_section_figures({"clarify_holdout": {**rates, "asked_on_query_set": 0.1}})
    assert "asked 0.925 of the held-out ambiguous set (n=40)" in text
    assert "asked 0.100 of the clear set" in text


def test_kb_lint_checks_the_field_the_setting_names(tmp_path: Path, runner) -> None:
    from kb_engine.cli.main import cli

    write(tmp_path, "join", "product: [teamz]\n")
    write(tmp_path, "join", "", lang="fr")
    base = ["lint", "--no-semantic", "--articles", str(tmp_path)]
    assert runner.invoke(cli, base).exit_code == 0  # `platform` is the field by default
    flagged = runner.invoke(cli, base, env={"KB_FACET_FIELD": "product"})
    assert flagged.exit_code == 1
    assert "en/join.md:3: error: `product`: 'teamz' is not a known platform" in flagged.output
