"""Search quality with the default model, measured by `kb eval`, with floors that only move up.

The floors sit a little under today's measurements (see README); raise them when the engine improves,
never lower them to make a change pass. Every index here is fitted at index time only (no `kb calibrate`):
what a desk gets from `kb index` on its own articles.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.search.embedding import DEFAULT_MODEL, Embedder, load_embedder
from kb_engine.search.evaluation import evaluate, load_queries
from kb_engine.search.index_files import current_build, read_manifest
from kb_engine.search.searcher import Searcher
from tests.conftest import ROOT, SHIPPED, real_index

BENCH = ROOT.parent / "shared" / "bench" / "covidfaq"


@pytest.fixture(scope="module")
def default_embedder() -> Embedder:
    return load_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def default_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("default-model-cache") / "cache.sqlite3"


def default_index(articles: Path, out: Path, embedder: Embedder, cache: Path) -> Path:
    return real_index(articles, out, embedder, cache, model=DEFAULT_MODEL)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, default_embedder: Embedder, default_cache: Path) -> Searcher:
    index = default_index(SHIPPED, tmp_path_factory.mktemp("shipped-e5"), default_embedder, default_cache)
    return Searcher(index, model=DEFAULT_MODEL, embedder=default_embedder)


@pytest.fixture(scope="module")
def dev_report(shipped: Searcher):
    return evaluate(shipped, load_queries(ROOT / "eval" / "queries.tsv"), name="dev")


@pytest.fixture(scope="module")
def holdout_report(shipped: Searcher):
    return evaluate(shipped, load_queries(ROOT / "eval" / "holdout.tsv"), name="holdout")


def test_query_sets_are_big_enough_and_cover_every_topic() -> None:
    topics = {
        line.split("\t")[0]
        for line in (ROOT.parent / "shared" / "kb-topics.tsv").read_text().splitlines()[1:]
    }
    queries = load_queries(ROOT / "eval" / "queries.tsv")
    assert len(queries) >= 300
    assert sum(not q.expected for q in queries) >= 60
    for topic in topics:
        for lang in ("en", "fr"):
            assert sum(q.expected == topic and q.lang == lang for q in queries) >= 4, (topic, lang)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_dev_set_hit_at_3_per_language(dev_report, lang: str) -> None:
    assert dev_report.systems["engine"][lang].hit3 >= 0.97


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_holdout_hit_at_3_per_language(holdout_report, lang: str) -> None:
    assert holdout_report.systems["engine"][lang].hit3 >= 0.97


@pytest.mark.parametrize("report_name", ["dev_report", "holdout_report"])
def test_engine_beats_its_best_single_signal(request, report_name: str) -> None:
    systems = request.getfixturevalue(report_name).systems
    engine, bm25, dense = (systems[s]["all"] for s in ("engine", "bm25", "dense"))
    assert engine.mrr >= max(bm25.mrr, dense.mrr) + 0.01
    assert engine.hit1 > max(bm25.hit1, dense.hit1)


def test_out_of_scope_rejected_and_in_scope_served_not_misled(dev_report, holdout_report) -> None:
    assert dev_report.systems["engine"]["all"].rejected >= 0.93
    assert holdout_report.systems["engine"]["all"].rejected >= 0.90
    for report in (dev_report, holdout_report):
        for lang in ("en", "fr"):
            engine = report.systems["engine"][lang]
            assert engine.served >= 0.80, (report.name, lang, engine)
            assert engine.misled <= 0.02, (report.name, lang, engine)


def test_first_hit_is_in_the_query_language(dev_report) -> None:
    for lang in ("en", "fr"):
        assert dev_report.systems["engine"][lang].same_lang >= 0.97


def test_customers_never_see_internal_articles(shipped: Searcher) -> None:
    """Replay every eval query as a customer: no internal article in results."""
    internal = {a.id for a in shipped.articles if a.audience != "public"}
    assert internal
    for path in ("queries.tsv", "holdout.tsv"):
        for q in load_queries(ROOT / "eval" / path):
            response = shipped.search(q.query, k=10)
            assert not {h.id for h in response.hits} & internal, q.query


@pytest.mark.parametrize(
    ("query", "family"),
    [
        ("how many days of leave do I have left", "hr-leave"),
        ("la machine à café est en panne", "facilities-kitchen"),
    ],
)
def test_request_the_desk_does_not_handle_is_redirected(shipped: Searcher, query: str, family: str) -> None:
    response = shipped.search(query)
    assert not response.answered
    assert response.redirect and response.redirect["family"] == family and response.redirect["message"]
    assert all(not h.id.split("/")[1].startswith("_") for h in response.hits)


@pytest.fixture(scope="module")
def covid(tmp_path_factory, default_embedder: Embedder, default_cache: Path) -> Searcher:
    if not BENCH.is_dir():
        pytest.skip("../shared/bench is not beside the repository")
    index = default_index(
        BENCH / "articles", tmp_path_factory.mktemp("covid"), default_embedder, default_cache
    )
    return Searcher(index, model=DEFAULT_MODEL, embedder=default_embedder)


def test_public_covidfaq_benchmark(covid: Searcher) -> None:
    """A knowledge base we did not write, with no `questions` lines (queries merged, standard scoring)."""
    report = evaluate(covid, load_queries(BENCH / "queries.tsv"))
    engine, bm25, dense = (report.systems[s]["all"] for s in ("engine", "bm25", "dense"))
    assert engine.n_in == 1037  # 1,387 rows, identical queries merged
    assert engine.mrr >= max(bm25.mrr, dense.mrr)
    assert engine.mrr >= 0.85 and engine.hit1 >= 0.77
    assert engine.misled <= 0.05  # confident and wrong: the worst outcome, whatever the ranking


def test_each_knowledge_base_gets_its_own_fitted_threshold_in_the_manifest(
    shipped: Searcher, covid: Searcher
) -> None:
    fits = [read_manifest(current_build(s.index_dir))["fit"] for s in (shipped, covid)]
    for fit, searcher in zip(fits, (shipped, covid), strict=True):
        assert fit["pseudo_queries"] >= 60 and fit["leave_one_out"] >= 60
        assert fit["expected"]["misled"] <= fit["target_misled"] == 0.05
        assert fit["ranking"]["mode"] in {"fused", "dense", "lexical"}
        assert searcher.params.threshold == fit["params"]["threshold"]  # the fit is what serves
    assert sum(bool(a.questions) for a in covid.articles) <= 1  # one of its 67 FAQs has a second phrasing
    # Today 0.27 (shipped) and 0.32 (COVID-FAQ); the lexical weight and field mix differ too.
    assert abs(fits[0]["params"]["threshold"] - fits[1]["params"]["threshold"]) >= 0.04
    assert fits[0]["ranking"]["w_lex"] != fits[1]["ranking"]["w_lex"]


def test_kb_eval_prints_the_table_and_json(runner, index_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.tsv"
    queries.write_text(
        "lang\texpected\tquery\nen\tpassword-reset\ti forgot my password\n"
        "fr\tprinter-offline\tl'imprimante est hors ligne\nen\t\trecipe for pancakes\n",
        encoding="utf-8",
    )
    table = runner.invoke(cli, ["eval", str(queries), "--index-dir", str(index_dir)])
    assert table.exit_code == 0, table.output
    header = table.output.splitlines()[0]
    for column in (
        "hit@1",
        "hit@3",
        "MRR@10",
        "nDCG@10",
        "R@1",
        "served",
        "misled",
        "might help",
        "OOS rej.",
    ):
        assert column in header
    assert any(line.split()[1:3] == ["bm25", "all"] for line in table.output.splitlines()[2:])
    data = json.loads(
        runner.invoke(cli, ["eval", str(queries), "--index-dir", str(index_dir), "--json"]).output
    )
    engine = data["systems"]["engine"]
    assert engine["all"]["n_in"] == 2 and engine["all"]["n_out"] == 1
    assert engine["en"]["hit1"] == 1.0 and engine["fr"]["hit1"] == 1.0
    # The trade-off at other thresholds; at the fitted one it is the engine's row.
    assert "Trade-off of q" in table.output and "*" in table.output.split("Trade-off")[1]
    fitted = [r for r in data["tradeoff"] if r["fitted"] and r["lang"] == "all"]
    assert len(fitted) == 1 and len({r["threshold"] for r in data["tradeoff"]}) >= 9
    for key in ("served", "misled", "suggest", "rejected"):
        assert fitted[0][key] == engine["all"][key], key


@pytest.fixture(scope="module")
def one_language(tmp_path_factory, default_embedder: Embedder, default_cache: Path):
    """Searchers over the English articles only and over the French articles only."""
    out = {}
    for lang in ("en", "fr"):
        root = tmp_path_factory.mktemp(f"only-{lang}")
        shutil.copytree(SHIPPED / lang, root / "articles" / lang)
        shutil.copy(SHIPPED / "glossary.yml", root / "articles" / "glossary.yml")
        index = default_index(root / "articles", root / "index", default_embedder, default_cache)
        out[lang] = Searcher(index, model=DEFAULT_MODEL, embedder=default_embedder)
    return out


def test_cross_lingual_queries_find_the_article_of_the_other_language(one_language) -> None:
    """A French query whose only article is English, and the reverse (eval/crosslingual, 120 queries)."""
    found = total = 0
    for src, dst in (("fr", "en"), ("en", "fr")):
        queries = load_queries(ROOT / "eval" / "crosslingual" / f"{src}-queries-{dst}-articles.tsv")
        report = evaluate(one_language[dst], queries, baselines=False)
        engine = report.systems["engine"]["all"]
        found += round(engine.hit3 * engine.n_in)
        total += engine.n_in
        assert engine.hit3 >= 0.8, (src, dst, engine)
    assert total >= 100 and found / total >= 0.88
