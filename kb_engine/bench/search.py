"""In-process search measurements: per-stage latency, vector search flat vs HNSW with recall, the first
query, the BM25-only baseline and edit-to-live."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.bench.builds import edit_article, in_child
from kb_engine.bench.measure import percentiles
from kb_engine.bench.synthetic import SyntheticEmbedder


# -- in-process search ------------------------------------------------------------------------------------
def measure_queries(searcher: Any, queries: Sequence[str], *, warmup: int = 10) -> dict[str, Any]:
    """Warm latency per query (no cache), each stage's share, and repeated queries from the cache."""
    for q in queries[:warmup]:
        searcher.search(q, use_cache=False)
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for q in queries:
        started = time.perf_counter()
        response = searcher.search(q, use_cache=False)
        totals.append((time.perf_counter() - started) * 1000)
        for name, value in response.timings.items():
            stages.setdefault(name, []).append(value)
    for q in queries:  # fill the cache, then time the answers from it
        searcher.search(q)
    cached = []
    for q in queries:
        started = time.perf_counter()
        searcher.search(q)
        cached.append((time.perf_counter() - started) * 1000)
    return {
        "total_ms": percentiles(totals),
        "stages_ms": {name: percentiles(values) for name, values in stages.items()},
        "cached_ms": percentiles(cached),
    }


def measure_vectors(index_file: Path, queries: np.ndarray, *, threshold_kind: str) -> dict[str, Any]:
    """Flat (exact) against HNSW on the same vectors: time per query and HNSW's recall@10 against flat."""
    import faiss

    from kb_engine.search import vector_index

    index = vector_index.load(index_file)
    graph = vector_index.graph_of(index)
    hnsw: faiss.Index
    if graph is not None:
        hnsw = index
        storage = faiss.downcast_index(graph.storage)
        matrix = storage.reconstruct_n(0, storage.ntotal)  # storage order: id_map gives chunk positions
    else:
        matrix = vector_index.flat_matrix(index)
        started = time.perf_counter()
        hnsw = vector_index.build(np.asarray(matrix), kind="hnsw")
        hnsw_build_s = time.perf_counter() - started
    labels = vector_index.id_map(index)
    dead = labels < 0  # tombstones of an updated graph: not chunks
    flat_ms, hnsw_ms, recall = [], [], []
    for q in queries:
        started = time.perf_counter()
        exact = matrix @ q
        flat_ms.append((time.perf_counter() - started) * 1000)
        exact[dead] = -np.inf
        top = set(labels[np.argsort(-exact, kind="stable")[:10]].tolist())
        started = time.perf_counter()
        _, ids = vector_index.search(hnsw, q[None, :], vector_index.HNSW_CANDIDATES)
        hnsw_ms.append((time.perf_counter() - started) * 1000)
        recall.append(len(top & set(ids[0][:10].tolist())) / min(10, len(top)))
    out = {
        "served": threshold_kind,
        "flat_ms": percentiles(flat_ms),
        "hnsw_ms": percentiles(hnsw_ms),
        "hnsw_recall_at_10": round(float(np.mean(recall)), 4) if recall else None,
        "hnsw_candidates": vector_index.HNSW_CANDIDATES,
    }
    if graph is None:
        out["hnsw_build_s"] = round(hnsw_build_s, 2)
    return out


def _first_query_worker(args: dict[str, Any]) -> None:
    """Child process: open the index, answer a first query (the model loads on it), then a second."""
    started = time.perf_counter()
    from kb_engine.search.searcher import Searcher

    cache = args.get("model_cache")
    searcher = Searcher(
        Path(args["index_dir"]),
        model=args["model"],
        threads=args["threads"],
        runtime=args.get("runtime", "auto"),
        model_cache=Path(cache) if cache else None,
    )
    opened = time.perf_counter()
    searcher.search(args["query"], use_cache=False)
    first = time.perf_counter()
    searcher.search(args["query"] + " again", use_cache=False)
    second = time.perf_counter()
    timings = {
        "open_s": opened - started,
        "first_query_ms": (first - opened) * 1000,
        "second_query_ms": (second - first) * 1000,
    }
    print(json.dumps({k: round(v, 3) for k, v in timings.items()}))


def first_query(index_dir: Path, model: str, model_args: dict[str, Any], query: str) -> dict[str, Any]:
    """A fresh process: time to open the index, then the first query (the model loads on it)."""
    try:
        return in_child(
            f"{__name__}._first_query_worker",
            {"index_dir": str(index_dir), "model": model, "query": query, **model_args},
        )
    except RuntimeError as exc:
        return {"error": str(exc)[-500:]}


def bm25_loop(articles: Sequence[Any]) -> tuple[float, Callable[[str], Any]]:
    """Plain bm25s (its own tokenizer, English stop words) over the same articles: (index seconds, search)."""
    import bm25s

    from kb_engine.search.lexical import article_text

    texts = [article_text(a) for a in articles]
    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    index_s = time.perf_counter() - started
    k = min(10, len(texts))

    def one(q: str) -> Any:
        tokens = bm25s.tokenize([q], stopwords="en", show_progress=False)
        return retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1) if tokens.vocab else None

    return index_s, one


def measure_bm25(articles: Sequence[Any], queries: Sequence[str]) -> dict[str, Any]:
    """The BM25-only baseline (`bm25_loop`): index time and time per query."""
    index_s, one = bm25_loop(articles)
    timings = []
    for q in queries:
        started = time.perf_counter()
        one(q)
        timings.append((time.perf_counter() - started) * 1000)
    return {"index_s": round(index_s, 3), "query_ms": percentiles(timings)}


def edit_to_live(
    articles: Path, index_dir: Path, build: Callable[[], Any], timeout: float = 60.0
) -> float | None:
    """Seconds from saving an article to a searcher serving the rebuilt index, with the watcher running."""
    from indexer.watch import watch_in_background
    from kb_engine.search.searcher import Searcher

    searcher = Searcher(index_dir, model=None, embedder=SyntheticEmbedder())
    ready = threading.Event()
    thread, stop = watch_in_background(articles, build, on_rebuild=lambda _r: ready.set())
    try:
        if not ready.wait(timeout):  # the watcher's initial (up-to-date) build
            return None
        saved = time.perf_counter()
        edit_article(articles, marker="Live edit")
        while time.perf_counter() - saved < timeout:
            if searcher.reload_if_changed():
                return time.perf_counter() - saved
            time.sleep(0.02)
        return None
    finally:
        stop.set()
        thread.join(10)
