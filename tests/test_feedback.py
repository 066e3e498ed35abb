"""`kb calibrate --from-feedback`: the confidence learns from customers' and agents' feedback, judged on
feedback held out from the fit, and never replaces a model that does better there."""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.build import build_index
from kb_engine.search import feedback
from kb_engine.search.evaluation import load_queries
from kb_engine.search.index_files import current_build, read_manifest
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, ROOT, SAMPLE_SLUGS, copy_sample


class RememberedQueries:
    """The real model, each query embedded once in this module: every test refits on the same ~600 eval
    queries, which the model embedded one by one again in each (the vectors are the model's own, kept)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for text in new:  # one by one, as the engine embeds a customer's query
            self.vectors[text] = self.inner.encode_queries([text])[0]
        return np.vstack([self.vectors[t] for t in texts])


@pytest.fixture(scope="module")
def queries_once(embedder) -> RememberedQueries:
    return RememberedQueries(embedder)


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder, embedding_cache: Path) -> Path:
    root = tmp_path_factory.mktemp("feedback")
    articles = copy_sample(root / "articles")
    build_index(
        articles, root / "index", model=MODEL, embedder_factory=lambda: embedder, cache_path=embedding_cache
    )
    return root / "index"


@pytest.fixture()
def searcher(built: Path, tmp_path: Path, queries_once: RememberedQueries) -> Searcher:
    shutil.copytree(built, tmp_path / "index", symlinks=True)  # each test writes its own manifest
    return Searcher(tmp_path / "index", model=MODEL, embedder=queries_once)


@pytest.fixture(scope="module")
def labels(built: Path, queries_once: RememberedQueries) -> list[feedback.Label]:
    """What customers would have said: "solved" on the right article of every in-scope eval query, and
    "did not help" on the first article shown for every out-of-scope one."""
    searcher = Searcher(built, model=MODEL, embedder=queries_once)
    out = []
    for q in load_queries(ROOT / "eval" / "queries.tsv") + load_queries(ROOT / "eval" / "holdout.tsv"):
        if q.expected in SAMPLE_SLUGS:
            out.append(feedback.Label(q.lang, q.query, q.expected, True))
        elif not q.expected:
            hits = searcher.search(q.query, k=1).hits
            if hits:
                out.append(feedback.Label(q.lang, q.query, hits[0].id.split("/")[1], False, "not_helpful"))
    return out


def test_feedback_improves_the_confidence_on_held_out_feedback(searcher: Searcher, labels) -> None:
    result = feedback.refit(searcher, labels)
    assert result.n_held_out >= 20 and result.n_train >= 60
    assert result.adopted, result
    assert result.after["served"] >= result.before["served"]
    assert result.after["misled"] <= max(0.05, result.before["misled"])
    assert result.after != result.before
    feedback.save(searcher, result, "test feedback")
    manifest = read_manifest(current_build(searcher.index_dir))
    assert manifest["calibration"]["format"] == 2 and manifest["calibration_log"][-1]["adopted"]
    served = Searcher(searcher.index_dir, model=MODEL, embedder=searcher.embedder)
    assert served.params.threshold == result.params.threshold  # the refitted model now serves


def test_feedback_never_replaces_a_model_that_does_better_on_held_out_feedback(
    searcher: Searcher, labels
) -> None:
    shuffled = [label.right for label in labels]
    random.Random(7).shuffle(shuffled)  # noise: what a broken feedback button would record
    noisy = [
        feedback.Label(x.lang, x.query, x.slug, right) for x, right in zip(labels, shuffled, strict=True)
    ]
    before = searcher.params.to_dict()
    result = feedback.refit(searcher, noisy)
    if result.adopted:  # allowed only when it is no worse where it was not fitted
        assert result.after["served"] >= result.before["served"]
        assert result.after["misled"] <= max(0.05, result.before["misled"])
    feedback.save(searcher, result, "noisy feedback")
    manifest = read_manifest(current_build(searcher.index_dir))
    assert manifest["calibration_log"][-1]["source"] == "noisy feedback"  # every run is logged
    if not result.adopted:
        assert "calibration" not in manifest or manifest["calibration"] is None
        assert (
            Searcher(searcher.index_dir, model=MODEL, embedder=searcher.embedder).params.to_dict() == before
        )


def test_too_little_feedback_changes_nothing(searcher: Searcher, labels) -> None:
    result = feedback.refit(searcher, labels[:10])
    assert not result.adopted and "not enough feedback" in result.note
