"""Retrieval pieces: language detection, lexical analysis, fusion, calibration, learning from use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.build import build_index
from kb_engine.cli.main import cli
from kb_engine.content.learned import LEARNED_FILE, approve, load_learned
from kb_engine.search.fusion import zscore
from kb_engine.search.index_files import current_build, read_manifest
from kb_engine.search.lexical import analyzer
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, copy_sample


@pytest.fixture(scope="module")
def searcher(index_dir: Path, embedder) -> Searcher:
    return Searcher(index_dir, model=MODEL, embedder=embedder)


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ("mdp oublié help", "fr"),
        ("imprimante hors ligne", "fr"),
        ("printer offline", "en"),
        ("vpn marche pas", "fr"),
        ("vpn not working", "en"),
        ("ecran bleu windows", "fr"),
        ("blue screen windows", "en"),
    ],
)
def test_language_of_three_word_queries(searcher: Searcher, query: str, lang: str) -> None:
    assert searcher.search(query).lang == lang


def test_french_analysis_folds_accents_elisions_and_stems() -> None:
    fr = analyzer("fr")
    assert fr.terms("l'imprimante") == fr.terms("imprimantes")
    assert fr.terms("écran") == fr.terms("ecran")
    assert fr.terms("Mot de passe oublié") == fr.terms("mot passe oublie")
    assert "de" not in fr.words("mot de passe")


def test_english_analysis_stems_and_drops_stop_words() -> None:
    en = analyzer("en")
    assert en.terms("printers") == en.terms("printer")
    assert en.words("the printer is not printing") == ["printer", "printing"]


def test_typo_tolerance_finds_the_article(searcher: Searcher) -> None:
    assert searcher.search("pasword forgoten").hits[0].id == "en/password-reset"
    assert searcher.search("imprimente hor ligne").hits[0].id == "fr/printer-offline"


def test_glossary_expands_lay_words(searcher: Searcher) -> None:
    assert "mot de passe" in searcher.glossary.expand("g oublié mon mdp").get("fr", [])
    assert searcher.search("g oublié mon mdp").hits[0].id == "fr/password-reset"


def test_zscore_is_zero_when_scores_are_flat_and_capped() -> None:
    assert not zscore(np.zeros(5, dtype=np.float32), 3.0).any()
    z = zscore(np.array([0, 0, 0, 0, 100], dtype=np.float32), 1.5)
    assert z.max() == pytest.approx(1.5)


def test_article_only_in_other_language_is_returned_and_marked(tmp_path: Path, embedder) -> None:
    articles = copy_sample(tmp_path / "a")
    (articles / "fr" / "printer-offline.md").unlink()
    build_index(articles, tmp_path / "i", model=MODEL, embedder_factory=lambda: embedder, progress=False)
    searcher = Searcher(tmp_path / "i", model=MODEL, embedder=embedder)
    hits = searcher.search("printer offline", lang="fr").hits  # a French-speaking customer
    assert hits[0].id == "en/printer-offline" and hits[0].other_language
    assert all(h.lang == "fr" and not h.other_language for h in hits[1:])


def test_approved_question_is_indexed(tmp_path: Path, embedder) -> None:
    articles = copy_sample(tmp_path / "a", ("password-reset", "printer-offline", "vpn-cannot-connect"))
    query = "the gizmo on floor three swallows my documents and nothing comes out"
    assert approve(articles, "en/printer-offline", query)
    assert not approve(articles, "en/printer-offline", query)  # once only
    assert load_learned(articles)[0] == {"en/printer-offline": [query]}
    report = build_index(
        articles, tmp_path / "i", model=MODEL, embedder_factory=lambda: embedder, progress=False
    )
    assert not report.problems
    hit = Searcher(tmp_path / "i", model=MODEL, embedder=embedder).search(query).hits[0]
    assert hit.id == "en/printer-offline" and hit.matched == "question"


def test_learned_file_naming_a_missing_article_is_reported(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "a", ("password-reset",))
    (articles / LEARNED_FILE).write_text("en/nope:\n  - hello\n", encoding="utf-8")
    report = build_index(articles, tmp_path / "i", model="hashing", embedder_factory=lambda: fake_embedder)
    assert [p.path for p in report.problems] == [LEARNED_FILE]


def test_calibrate_writes_threshold_and_curve_to_the_manifest(
    runner, tmp_path: Path, embedder, embedding_cache
) -> None:
    articles = copy_sample(tmp_path / "a")
    index = tmp_path / "i"
    build_index(articles, index, model=MODEL, embedder_factory=lambda: embedder, cache_path=embedding_cache)
    rows = ["lang\texpected\tquery"]
    inside = ["i forgot my password", "reset my password", "printer offline", "printer shows offline",
              "vpn will not connect", "cannot connect vpn", "wifi no internet", "wifi connected no web",
              "mailbox full", "my mailbox is full", "blue screen crash", "bsod at startup",
              "account locked", "locked out of my account"]  # fmt: skip
    outside = ["chocolate cake recipe", "football score", "holiday request", "my salary", "train to lyon",
               "weather tomorrow", "parking space", "canteen menu", "birthday party", "tax return",
               "buy a car", "gym opening hours"]  # fmt: skip
    slugs = ["password-reset", "printer-offline", "vpn-cannot-connect", "wifi-no-internet", "mailbox-full",
             "blue-screen", "account-locked"]  # fmt: skip
    rows += [f"en\t{slugs[i // 2]}\t{q}" for i, q in enumerate(inside)] + [f"en\t\t{q}" for q in outside]
    labelled = tmp_path / "labelled.tsv"
    labelled.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = runner.invoke(
        cli,
        ["--model", MODEL, "calibrate", str(labelled), "--index-dir", str(index), "--no-feedback", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fitted"] and data["fitted_on"]["in_scope"] == 14 and data["fitted_on"]["out_of_scope"] == 12
    assert [p["threshold"] for p in data["curve"]][:2] == [0.05, 0.1]
    manifest = read_manifest(current_build(index))
    threshold = manifest["calibration"]["params"]["threshold"]
    searcher = Searcher(index, model=MODEL, embedder=embedder)
    assert searcher.params.threshold == threshold
    rejected = sum(not searcher.search(q).answered for q in outside)
    assert rejected / len(outside) >= 0.9
