"""The fast paths of search give exactly what the straightforward code gives, the cache behaves, the index
pages are shared, and `kb bench` runs. No timing assertions: `kb bench` is the measuring tool."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from kb_engine import stats
from kb_engine.bench import measure
from kb_engine.bench.measure import percentile, percentiles
from kb_engine.bench.synthetic import SyntheticEmbedder, write_synthetic_kb
from kb_engine.content.chunking import KINDS
from kb_engine.content.text import fold
from kb_engine.search.embedding import HashingEmbedder
from kb_engine.search.lexical import LexicalIndex
from kb_engine.search.ranking import (
    Group,
    RankingParams,
    article_dense_scores,
    chunk_segments,
    group_translations,
)
from kb_engine.search.searcher import Searcher
from tests.conftest import ROOT, copy_sample


# -- reference implementations: the code before it was made fast ------------------------------------------
def reference_groups(scores, slugs, langs, allowed, query_lang, params) -> list[Group]:
    best_row: dict[str, int] = {}
    shown: dict[str, int] = {}
    for row in np.flatnonzero(allowed).tolist():
        slug = slugs[row]
        if slug not in best_row or scores[row] > scores[best_row[slug]]:
            best_row[slug] = row
        current = shown.get(slug)
        if current is None or (langs[row] == query_lang and langs[current] != query_lang):
            shown[slug] = row
    groups = []
    for slug, row in best_row.items():
        other = langs[shown[slug]] != query_lang
        score = float(scores[row]) - (params.other_lang_penalty if other else 0.0)
        groups.append(Group(slug, shown[slug], score, other, row))
    groups.sort(key=lambda g: (-g.score, g.slug))
    return groups


def reference_dense(chunk_scores, chunk_rows, chunk_kinds, n_articles, params):
    bias = np.array([params.field_bias.get(kind, 0.0) for kind in KINDS], dtype=np.float32)
    adjusted = chunk_scores + bias[chunk_kinds]
    best = np.full(n_articles, -1.0, dtype=np.float32)
    best_chunk = np.full(n_articles, -1, dtype=np.int64)
    order = np.argsort(adjusted, kind="stable")
    best[chunk_rows[order]] = adjusted[order]
    best_chunk[chunk_rows[order]] = order
    return best, best_chunk


@pytest.mark.parametrize("seed", range(30))
def test_grouping_matches_the_reference_on_random_scores_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    slugs = [f"s{int(i)}" for i in rng.integers(0, max(1, n // 2), n)]
    langs = [("en", "fr", "de")[int(i)] for i in rng.integers(0, 3, n)]
    scores = rng.choice(np.array([0.1, 0.5, 0.5, 0.9, -0.2], dtype=np.float32), n)  # many exact ties
    allowed = rng.random(n) < 0.8
    params = RankingParams()
    for lang in ("en", "fr"):
        expected = reference_groups(scores, slugs, langs, allowed, lang, params)
        assert group_translations(scores, slugs, langs, allowed, lang, params) == expected


@pytest.mark.parametrize("seed", range(30))
def test_grouped_max_dense_scores_match_the_sort_on_random_chunks_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_articles = int(rng.integers(1, 40))
    sizes = rng.integers(0, 6, n_articles)  # some articles have no chunk
    rows = np.repeat(np.arange(n_articles), sizes).astype(np.int64)
    kinds = rng.integers(0, len(KINDS), rows.size).astype(np.int64)
    scores = rng.choice(np.array([0.2, 0.4, 0.4, 0.7], dtype=np.float32), rows.size)
    params = RankingParams()
    expected = reference_dense(scores, rows, kinds, n_articles, params)
    got = article_dense_scores(scores, rows, kinds, n_articles, params, chunk_segments(rows))
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_chunk_segments_refuses_a_table_out_of_article_order() -> None:
    assert chunk_segments(np.array([0, 0, 2, 1])) is None
    assert chunk_segments(np.array([0, 0, 1, 3, 3])).tolist() == [0, 2, 3]


def test_fold_fast_path_is_the_same_as_unicode_folding() -> None:
    import unicodedata

    for text in ["Écran", "MOT de PASSE", "ﬁchier", "straße", "İ", "Ça marche pas", "KB-42"]:
        decomposed = unicodedata.normalize("NFKD", text.lower())
        assert fold(text) == "".join(c for c in decomposed if not unicodedata.combining(c))


def test_typo_correction_finds_what_a_full_vocabulary_scan_finds(index_dir: Path) -> None:
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    from kb_engine.search.index_files import current_build

    lexical = LexicalIndex.load(current_build(index_dir) / "lexical")
    for lang in lexical.langs:
        vocab = lexical._vocab_lists[lang]
        for word in ["pasword", "imprimnte", "vpnn", "wfii", "bluescreen", "verouille", "mailboxx"]:
            limit = 1 if len(word) <= 6 else 2
            full = process.extractOne(word, vocab, scorer=Levenshtein.distance, score_cutoff=limit)
            assert lexical._correct(lang, word, limit) == (None if full is None else full[0])


def test_analyzer_memo_is_bounded_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb_engine.search import lexical

    monkeypatch.setattr(lexical, "MEMO_MAX", 5)
    memo, fresh = lexical.Analyzer("fr"), lexical.Analyzer("fr")
    text = "L'imprimante du 3e étage n'imprime plus ; j'ai redémarré l'imprimante et le PC, rien à faire."
    words = [w for raw in lexical._WORD.findall(text.lower()) for w in fresh._keep(raw)]
    assert "étage" in words and "imprime" in words and "du" not in words  # elisions, stopwords gone
    for _ in range(3):
        assert memo.terms(text) == [fresh._stemmer.stemWord(fold(w)) for w in words]
    assert len(memo._kept) <= 5 and len(memo._stems) <= 5


@pytest.mark.model
def test_single_query_fast_path_is_bit_identical_to_sentence_transformers(embedder) -> None:
    for text in ["I forgot my password", "imprimante hors ligne", "", "x " * 400]:
        expected = embedder.model.encode_query(
            [text], batch_size=32, show_progress_bar=False, normalize_embeddings=True, convert_to_numpy=True
        )
        assert np.array_equal(embedder.encode_queries([text]), np.asarray(expected, dtype=np.float32))


# -- the searcher -----------------------------------------------------------------------------------------
@pytest.fixture()
def fake_index(tmp_path: Path) -> tuple[Path, Path]:
    articles = copy_sample(tmp_path / "articles")
    index = tmp_path / "index"
    build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    return articles, index


def test_cache_answers_repeated_queries_with_the_callers_own_text(fake_index) -> None:
    _articles, index = fake_index
    searcher = Searcher(index, model="hashing")
    first = searcher.search("printer offline")
    again = searcher.search("PRINTER offline")
    assert again.query == "PRINTER offline" and first.query == "printer offline"
    assert again.to_dict()["hits"] == first.to_dict()["hits"] and again.confidence == first.confidence
    assert "cache_ms" in again.timings and "cache_ms" not in first.timings


def test_cache_size_zero_answers_every_query_afresh(fake_index) -> None:
    _articles, index = fake_index
    searcher = Searcher(index, model="hashing", cache_size=0)
    first = searcher.search("printer offline")
    again = searcher.search("printer offline")
    assert "cache_ms" not in again.timings and again.to_dict()["hits"] == first.to_dict()["hits"]
    assert len(searcher._cache) == 0


def test_cache_keeps_the_most_recently_used_answers(fake_index) -> None:
    _articles, index = fake_index
    searcher = Searcher(index, model="hashing", cache_size=2)
    searcher.search("printer offline")
    searcher.search("vpn cannot connect")
    searcher.search("printer offline")  # used again: the VPN answer is now the oldest
    searcher.search("password reset")
    assert "cache_ms" in searcher.search("printer offline").timings
    assert "cache_ms" not in searcher.search("vpn cannot connect").timings
    assert len(searcher._cache) == 2


def test_cache_is_dropped_when_a_new_build_is_published(fake_index) -> None:
    articles, index = fake_index
    searcher = Searcher(index, model="hashing")
    searcher.search("printer offline")
    page = articles / "en" / "printer-offline.md"
    page.write_text(page.read_text("utf-8") + "\nThe toner light blinks orange.\n", "utf-8")
    build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    assert searcher.reload_if_changed()
    response = searcher.search("printer offline")
    assert "cache_ms" not in response.timings


def test_flat_vectors_are_a_shared_read_only_mapping_of_the_index_file(fake_index) -> None:
    _articles, index = fake_index
    searcher = Searcher(index, model="hashing")
    matrix = searcher._matrix
    assert matrix is not None and not matrix.flags.writeable and not matrix.flags.owndata
    maps = [line for line in Path("/proc/self/maps").read_text().splitlines() if "vectors.faiss" in line]
    # r--s: read-only and shared: every worker process maps the same page-cache pages.
    assert any(line.split()[1] == "r--s" and str(searcher.build_dir) in line for line in maps), maps


def test_search_ranks_the_same_with_and_without_the_fast_grouping(fake_index) -> None:
    _articles, index = fake_index
    searcher = Searcher(index, model="hashing")
    for query in ["printer offline", "mot de passe oublié", "vpn", "écran bleu", "mailbox full"]:
        signals = searcher.signals(query)
        fast = searcher.rank(signals, include_internal=False, limit=3)
        full = searcher.rank(signals, include_internal=False)
        assert fast.groups == full.groups[:3] and fast.confidence == full.confidence


# -- the benchmark ----------------------------------------------------------------------------------------
def test_synthetic_kb_is_deterministic_and_of_the_asked_size(tmp_path: Path) -> None:
    one = write_synthetic_kb(tmp_path / "a", 200, seed=3)
    two = write_synthetic_kb(tmp_path / "b", 200, seed=3)
    assert one.chunks == 200 and one.queries == two.queries
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.md"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.md"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    from kb_engine.content.articles import scan_articles
    from kb_engine.content.chunking import chunk_article

    scan = scan_articles(tmp_path / "a")
    assert not scan.problems
    assert sum(len(chunk_article(a)) for a in scan.articles) == 200


def test_synthetic_embedder_is_deterministic_and_normalised() -> None:
    vectors = SyntheticEmbedder().encode_documents(["reset my password", "imprimante hors ligne"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(
        vectors, SyntheticEmbedder().encode_documents(["reset my password", "imprimante hors ligne"])
    )


def test_percentiles_use_nearest_rank() -> None:
    stats = percentiles([float(i) for i in range(1, 101)])
    assert (stats["p50"], stats["p95"], stats["p99"]) == (50.0, 95.0, 99.0)
    assert percentiles([])["n"] == 0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0 and math.isnan(percentile([], 50))


def test_load_test_prints_the_same_percentiles_as_kb_bench() -> None:
    """One definition: the stdlib-only load generator imports kb bench's, whose module needs nothing else."""
    spec = importlib.util.spec_from_file_location("loadtest", ROOT / "scripts" / "loadtest.py")
    assert spec is not None and spec.loader is not None
    loadtest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loadtest)
    assert loadtest.percentile is percentile
    latencies = [0.001 * (i % 37) + 0.0001 * i for i in range(523)]
    report = loadtest.summary("sustained", latencies, errors=0, seconds=1.0)
    assert report["p99_ms"] == round(percentiles([x * 1000 for x in latencies])["p99"], 1)
    for module in (measure, stats):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
        assert outside <= {"__future__", "kb_engine.stats"}


def test_kb_bench_quick_prints_its_table_and_writes_json(runner, tmp_path: Path) -> None:
    from kb_engine.cli.main import cli

    out = tmp_path / "bench.json"
    result = runner.invoke(cli, ["--model", "hashing", "bench", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| search p50 / p95 / p99 (ms) |" in result.output
    assert "HNSW recall@10 vs flat" in result.output and "BM25-only" in result.output
    report = json.loads(out.read_text())
    assert [row["size"] for row in report["sizes"]] == ["1k"]
    assert report["sizes"][0]["chunks"] == 1000 and report["machine"]["cores"]
