"""Section-level search quality (issue 26), measured on eval/sections.tsv over the shipped articles."""

from __future__ import annotations

import json
from pathlib import Path

from kb_engine.cli.main import cli
from kb_engine.content.articles import scan_articles
from kb_engine.content.sections import article_sections
from kb_engine.content.text import fold
from kb_engine.search.searcher import Searcher
from kb_engine.search.section_eval import (
    evaluate_ambiguity,
    evaluate_sections,
    load_ambiguity_queries,
    load_section_queries,
)
from tests.conftest import MODEL, ROOT, SHIPPED

SECTIONS = ROOT / "eval" / "sections.tsv"


def test_section_set_is_big_bilingual_and_names_real_sections() -> None:
    queries = load_section_queries(SECTIONS)
    assert len(queries) >= 200
    assert {q.lang for q in queries} == {"en", "fr"}
    assert min(sum(q.lang == lang for q in queries) for lang in ("en", "fr")) >= 100
    articles = {(a.lang, a.slug): a for a in scan_articles(SHIPPED).articles}
    for q in queries:
        article = articles[(q.lang, q.expected)]
        assert article.is_public, q
        paths = {fold(s.path) for s in article_sections(article.body)}
        assert fold(q.section) in paths, q
        # Customers' words, not the authors' anticipated ones.
        assert q.query not in article.questions, q


def test_section_hit_at_1_meets_the_target(shipped_index_dir: Path, embedder) -> None:
    searcher = Searcher(shipped_index_dir, model=MODEL, embedder=embedder)
    report = evaluate_sections(searcher, load_section_queries(SECTIONS))
    assert report.section_hit1 >= 0.85, report.failures[:10]
    assert report.section_hit3 >= report.section_hit1


def test_the_question_is_asked_when_the_steps_depend_on_the_platform(shipped_index_dir: Path, embedder):
    """Issue 26's targets on eval/ambiguity.tsv: asked for at least 80%, the right platform among the
    options whenever asked, and one click puts the expected section first for at least 90%."""
    searcher = Searcher(shipped_index_dir, model=MODEL, embedder=embedder)
    figures = evaluate_ambiguity(searcher, load_ambiguity_queries(ROOT / "eval" / "ambiguity.tsv"))
    assert figures["asked"] >= 0.8, figures["failures"][:10]
    assert figures["offered_right_value"] == figures["asked"]
    assert figures["right_section_after_click"] >= 0.9, figures["failures"][:10]


def test_kb_eval_reports_sections(runner, index_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.tsv"
    queries.write_text("lang\texpected\tquery\nen\tpassword-reset\tforgot my password\n", encoding="utf-8")
    sections = tmp_path / "sections.tsv"
    sections.write_text(
        "lang\texpected\tsection\tquery\nen\taccount-locked\tSteps > Phone\taccount locked on my iphone\n",
        encoding="utf-8",
    )
    ambiguity = tmp_path / "ambiguity.tsv"
    ambiguity.write_text(
        "lang\texpected\tsection\tfacet\tquery\nen\taccount-locked\tSteps > Phone\tphone\taccount locked\n",
        encoding="utf-8",
    )
    args = ["eval", str(queries), "--index-dir", str(index_dir), "--no-baselines"]
    args += ["--sections", str(sections), "--ambiguity", str(ambiguity)]
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)["sections"]
    assert data["n"] == 1 and data["section_hit1"] == 1.0
    assert json.loads(result.output)["ambiguity"]["right_section_after_click"] == 1.0
    text = runner.invoke(cli, args)
    assert "sec@1" in text.output and "clarifying question" in text.output


HELD_OUT = [ROOT / "eval" / f"clarify-holdout-{kind}.tsv" for kind in ("ambiguous", "clear")]


def test_held_out_clarify_sets_are_well_formed() -> None:
    from kb_engine.search.evaluation import load_queries
    from kb_engine.search.sections import Platforms

    ambiguous = load_ambiguity_queries(HELD_OUT[0])
    clear = load_queries(HELD_OUT[1])
    assert len(ambiguous) >= 40 and len(clear) >= 40
    assert {q.lang for q in ambiguous} == {q.lang for q in clear} == {"en", "fr"}
    articles = {(a.lang, a.slug): a for a in scan_articles(SHIPPED).articles}
    for q in ambiguous:
        assert not Platforms().of_text(q.query), q  # names no platform: the steps depend on it
        paths = {fold(s.path) for s in article_sections(articles[(q.lang, q.expected)].body)}
        assert fold(q.section) in paths, q
    assert all((q.lang, q.expected) in articles for q in clear)


def test_the_question_tells_the_held_out_sets_apart(shipped_index_dir: Path, embedder) -> None:
    """Written before any tuning (README "Is the ambiguity set realistic?"): asked for most queries whose
    steps depend on the platform, for few that name or imply it or have one answer for all."""
    from kb_engine.search.evaluation import load_queries
    from kb_engine.search.section_eval import question_rate

    searcher = Searcher(shipped_index_dir, model=MODEL, embedder=embedder)
    figures = evaluate_ambiguity(searcher, load_ambiguity_queries(HELD_OUT[0]))
    clear = [q for q in load_queries(HELD_OUT[1]) if q.expected]
    asked_clear = question_rate(searcher, [q.query for q in clear], [q.lang for q in clear])
    # The tests' all-MiniLM-L6-v2 measured 0.775 / 0.925 / 0.025 (the default model: 0.925 / 0.95 / 0.1).
    assert figures["asked"] >= 0.75, figures["failures"][:10]
    assert figures["right_section_after_click"] >= 0.85, figures["failures"][:10]
    assert asked_clear <= 0.15
