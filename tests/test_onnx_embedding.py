"""Query embedding on ONNX Runtime: the same vectors and the same search quality as torch, an export made
once (under a lock, renamed into place) and reused, and torch wherever ONNX would not be the same model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.cache import EmbeddingCache, cache_key
from kb_engine.config import load_settings
from kb_engine.content.articles import scan_articles
from kb_engine.content.chunking import chunk_article
from kb_engine.errors import ConfigError
from kb_engine.search import embedding
from kb_engine.search.embedding import (
    Embedder,
    OnnxEmbedder,
    OnnxUnsupported,
    SentenceTransformerEmbedder,
    load_embedder,
    onnx_plan,
    resolve_model,
    runtime_of,
)
from kb_engine.search.evaluation import evaluate, load_queries
from kb_engine.search.onnx_export import MIN_COSINE
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL, ROOT, SHIPPED

pytestmark = pytest.mark.model
load_uncached = load_embedder.__wrapped__  # the per-process cache would hide what a fresh process does


@pytest.fixture(scope="module")
def onnx(model_cache: Path) -> OnnxEmbedder:
    """The bundled model on ONNX Runtime, as a server loads it (exported on first use in this session)."""
    loaded = load_embedder(MODEL, threads=1, runtime="auto", cache_dir=model_cache)
    assert isinstance(loaded, OnnxEmbedder), "the bundled model should pass the ONNX verification"
    return loaded


class Recording:
    """Passes queries to an embedder and keeps each text's vector (what a search embedded, and how)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.vectors: dict[str, np.ndarray] = {}

    def encode_documents(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)

    def encode_queries(self, texts) -> np.ndarray:
        vectors = self.inner.encode_queries(texts)
        self.vectors.update(zip(texts, vectors, strict=True))
        return vectors


class Replay(Recording):
    """Answers queries with vectors computed beforehand."""

    def encode_queries(self, texts) -> np.ndarray:
        return np.vstack([self.vectors[t] for t in texts])


@pytest.fixture(scope="module")
def eval_runs(onnx, embedder, shipped_index_dir: Path) -> dict[str, Any]:
    """`kb eval` of eval/queries.tsv on the shipped KB, queries embedded by ONNX Runtime, then by torch.

    Torch embeds the texts the ONNX run embedded (query plus glossary expansions) in one batch, which is
    many times quicker than one by one; the engine then replays its vectors."""
    queries = load_queries(ROOT / "eval" / "queries.tsv")
    on_onnx = Recording(onnx)
    onnx_report = evaluate(
        Searcher(shipped_index_dir, model=MODEL, embedder=on_onnx), queries, baselines=False
    )
    texts = list(on_onnx.vectors)
    on_torch = Replay(embedder)
    on_torch.vectors = dict(zip(texts, embedder.encode_queries(texts), strict=True))
    torch_report = evaluate(
        Searcher(shipped_index_dir, model=MODEL, embedder=on_torch), queries, baselines=False
    )
    return {
        "texts": texts,
        "onnx": np.vstack([on_onnx.vectors[t] for t in texts]),
        "torch": np.vstack([on_torch.vectors[t] for t in texts]),
        "onnx_metrics": onnx_report.systems["engine"]["all"],
        "torch_metrics": torch_report.systems["engine"]["all"],
    }


def test_bundled_model_runs_on_onnx_by_default_with_a_recorded_verdict(onnx, model_cache: Path) -> None:
    assert runtime_of(onnx) == "onnx" and onnx.dimension == 384 and onnx.name == MODEL
    verdict = json.loads(onnx.onnx_path.with_suffix(".json").read_text("utf-8"))
    assert verdict["verified"] is True and verdict["min_cosine"] >= MIN_COSINE
    assert verdict["texts"] >= 20 and verdict["onnxruntime"] == embedding._package_version("onnxruntime")
    assert not list(model_cache.glob(".tmp-*")), "temporary files are renamed or removed"


def test_onnx_query_vectors_match_torch_on_every_eval_query(eval_runs) -> None:
    one_by_one, reference = eval_runs["onnx"], eval_runs["torch"]  # ONNX: one query at a time, as served
    assert len(eval_runs["texts"]) >= 300 and one_by_one.shape == reference.shape
    assert one_by_one.dtype == np.float32 and np.allclose(np.linalg.norm(one_by_one, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(one_by_one * reference, axis=1))) >= MIN_COSINE


def test_onnx_chunk_vectors_match_the_torch_vectors_of_the_index(
    onnx, shipped_index_dir: Path, embedding_cache: Path
) -> None:
    articles = scan_articles(SHIPPED).articles[::12]  # English and French, titles, questions, sections
    texts = [chunk.text for article in articles for chunk in chunk_article(article)]
    cache = EmbeddingCache(embedding_cache)  # holds what torch embedded for the shipped index
    try:
        stored = cache.get_many([cache_key(MODEL, t) for t in texts])
    finally:
        cache.close()
    texts = [t for t in texts if cache_key(MODEL, t) in stored]
    reference = np.vstack([stored[cache_key(MODEL, t)] for t in texts])
    vectors = onnx.encode_documents(texts, batch_size=32)
    assert len(texts) >= 100
    assert float(np.min(np.sum(vectors * reference, axis=1))) >= MIN_COSINE


def test_kb_eval_mrr_on_onnx_is_within_0_005_of_torch(eval_runs) -> None:
    on_onnx, on_torch = eval_runs["onnx_metrics"], eval_runs["torch_metrics"]
    assert on_onnx.n_in == on_torch.n_in >= 300
    assert abs(on_onnx.mrr - on_torch.mrr) <= 0.005, (on_onnx, on_torch)
    assert abs(on_onnx.hit1 - on_torch.hit1) <= 0.005, (on_onnx, on_torch)


def test_a_later_load_reuses_the_export_without_torch(onnx, model_cache: Path, monkeypatch) -> None:
    def no_export(*_args, **_kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(embedding, "_run_export", no_export)
    again = load_uncached(MODEL, threads=1, runtime="onnx", cache_dir=model_cache)
    assert isinstance(again, OnnxEmbedder) and again.onnx_path == onnx.onnx_path
    code = (
        "import sys; from pathlib import Path; from kb_engine.search.embedding import load_embedder; "
        f"e = load_embedder({MODEL!r}, threads=1, runtime='onnx', cache_dir=Path(sys.argv[1])); "
        "e.encode_queries(['I forgot my password']); print('torch' in sys.modules)"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(model_cache)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert fresh.stdout.strip() == "False", "a server on ONNX Runtime never imports torch"


def test_processes_starting_together_export_once(onnx, tmp_path: Path, monkeypatch) -> None:
    """Workers that start together: one exports under the lock, the others wait and read its verdict."""
    calls: list[Path] = []

    def fake_export(plan, onnx_path: Path, threads: int):
        calls.append(onnx_path)
        tmp = onnx_path.with_name(".tmp-" + onnx_path.name)
        shutil.copyfile(onnx.onnx_path, tmp)
        threading.Event().wait(0.3)  # the other loaders are waiting on the lock meanwhile
        tmp.replace(onnx_path)
        return {"verified": True, "min_cosine": 1.0}

    monkeypatch.setattr(embedding, "_run_export", fake_export)
    plan = onnx_plan(Path(resolve_model(MODEL)))
    paths: list[Path] = []
    workers = [
        threading.Thread(target=lambda: paths.append(embedding.ensure_onnx_export(MODEL, plan, tmp_path)))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == 1 and len(paths) == 3 and len(set(paths)) == 1 and paths[0].is_file()
    assert sorted(p.suffix for p in tmp_path.iterdir() if not p.name.startswith(".")) == [".json", ".onnx"]


def test_a_failed_verification_is_remembered_and_keeps_torch(onnx, tmp_path: Path, monkeypatch) -> None:
    calls = []

    def drifting_export(plan, onnx_path: Path, threads: int):
        calls.append(onnx_path)
        return {"verified": False, "reason": "ONNX vectors drift from torch's (lowest cosine 0.96)"}

    monkeypatch.setattr(embedding, "_run_export", drifting_export)
    for _ in range(2):
        with pytest.raises(ConfigError, match="drift"):
            load_uncached(MODEL, threads=1, runtime="onnx", cache_dir=tmp_path)
    assert len(calls) == 1, "the verdict is kept: no export at every start"
    monkeypatch.setattr(embedding, "SentenceTransformerEmbedder", FakeTorch)
    assert isinstance(load_uncached(MODEL, runtime="auto", cache_dir=tmp_path), FakeTorch)


class FakeTorch:
    """Stands for SentenceTransformerEmbedder where a test only checks which runtime was chosen."""

    runtime = "torch"

    def __init__(self, name: str, *, threads: int = 0) -> None:
        self.name = name


def test_model_runtime_torch_gives_the_torch_embedder(monkeypatch, model_cache: Path) -> None:
    monkeypatch.setattr(embedding, "SentenceTransformerEmbedder", FakeTorch)
    monkeypatch.setattr(embedding, "onnx_embedder", lambda *a, **k: pytest.fail("ONNX tried"))
    settings = load_settings(environ={"KB_MODEL_RUNTIME": "torch", "KB_MODEL_CACHE_DIR": str(model_cache)})
    assert settings["MODEL_RUNTIME"] == "torch"
    chosen = load_uncached(MODEL, runtime=settings["MODEL_RUNTIME"], cache_dir=model_cache)
    assert isinstance(chosen, FakeTorch) and runtime_of(chosen) == "torch"
    with pytest.raises(ConfigError, match="MODEL_RUNTIME"):
        load_settings(environ={"KB_MODEL_RUNTIME": "tensorflow"})


def _model_copy(tmp_path: Path, **changes: object) -> Path:
    """The bundled model folder (weights linked, not copied) with some of its JSON files changed."""
    source = Path(resolve_model(MODEL))
    copy = tmp_path / "model"
    shutil.copytree(source, copy, copy_function=lambda s, d: Path(d).symlink_to(s))
    for name, change in changes.items():
        path = copy / name.replace("__", "/")
        data = json.loads(path.read_text("utf-8"))
        path.unlink()
        path.write_text(json.dumps(change(data) if callable(change) else change), encoding="utf-8")
    return copy


CLS_POOLING = {
    "1_Pooling__config.json": lambda c: {
        **c,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_cls_token": True,
    }
}


@pytest.mark.parametrize(
    "changes",
    [
        CLS_POOLING,
        {"modules.json": lambda m: [*m, {"idx": 3, "name": "3", "path": "3_Dense", "type": "x.Dense"}]},
        {"config_sentence_transformers.json": {"prompts": {"query": "query: ", "document": ""}}},
        {"sentence_bert_config.json": {"max_seq_length": 256, "do_lower_case": True}},
    ],
    ids=["cls-pooling", "dense-layer", "query-prompt", "lower-case"],
)
def test_pipelines_onnx_does_not_reproduce_are_refused(tmp_path: Path, changes) -> None:
    with pytest.raises(OnnxUnsupported):
        onnx_plan(_model_copy(tmp_path, **changes))


def test_a_model_without_mean_pooling_falls_back_to_torch(tmp_path: Path, caplog) -> None:
    model = _model_copy(tmp_path, **CLS_POOLING)
    loaded = load_uncached(str(model), threads=1, runtime="auto", cache_dir=tmp_path / "models")
    assert isinstance(loaded, SentenceTransformerEmbedder) and runtime_of(loaded) == "torch"
    assert not (tmp_path / "models").exists(), "nothing exported for a model ONNX would not reproduce"
    assert loaded.encode_queries(["printer offline"]).shape == (1, 384)
    with pytest.raises(ConfigError, match="pooling"):
        load_uncached(str(model), threads=1, runtime="onnx", cache_dir=tmp_path / "models")


def test_healthz_says_which_runtime_serves(client) -> None:
    health = client.get("/healthz").get_json()
    assert health["model_runtime"] == "onnx" and health["status"] == "ok"


def test_length_sorted_dynamic_batches_give_each_text_its_own_vector(onnx) -> None:
    """Documents are tokenised once, sorted by token count and padded per batch (issue 19): every text gets
    the vector it gets alone, in its own row, whatever the batch size and the mix of lengths."""
    texts = [
        "VPN",
        "The printer on the third floor shows offline after the driver update. " * 12,
        "Réinitialiser le mot de passe",
        "",
        "Outlook asks for the password again and again after the password change on the portal.",
        "wifi",
    ] * 3
    alone = np.vstack([onnx._embed([t]) for t in texts])
    for batch_size in (1, 2, 32):
        batched = onnx.encode_documents(texts, batch_size=batch_size)
        assert batched.shape == alone.shape
        np.testing.assert_allclose((batched * alone).sum(axis=1), 1.0, atol=1e-4)
    assert onnx.encode_documents([]).shape == (0, onnx.dimension)
