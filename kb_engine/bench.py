"""`kb bench`: how fast indexing, search and the web server are, on the shipped knowledge base and on
synthetic ones of 1k, 10k and 100k chunks, with a BM25-only baseline (bm25s) measured in the same run.

A benchmark, not a test: it measures and reports, it asserts nothing. Everything it builds lives in a
temporary work folder; the shipped articles are copied, never touched.

Synthetic knowledge bases are generated deterministically (seeded) from the shipped articles' words:
articles in English and French pairs, 20 chunks each (title, 4 questions, intro, 14 short sections), each
article drawing on its own topic words. Embedding 100k chunks with the real model would take hours on 2
cores, so their chunks are embedded by a synthetic embedder (a fixed random vector per word, summed and
normalised: similar texts get similar vectors, so approximate search and its recall are meaningful). The
query embedding is still timed with the real model: a synthetic-KB search runs the real model on the
query text, then searches with the synthetic vector. The table says which embedder each row used.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.embedding import Embedder

CHUNKS_PER_ARTICLE = 20  # title, 4 questions, an intro and 14 sections of under 120 words (one window each)
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
SYNTHETIC_MODEL = "bench-synthetic"
CATEGORIES = ("accounts", "network", "email", "printing", "computer", "software", "files", "security")
HTTP_LEVELS = (1, 8, 32)
ROOT = Path(__file__).resolve().parents[1]


# -- measuring helpers ----------------------------------------------------------------------------------
def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of a list of milliseconds (nearest rank; empty -> zeros)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0, "n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {
        "p50": round(rank(50), 3),
        "p95": round(rank(95), 3),
        "p99": round(rank(99), 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "n": len(ordered),
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on (CPU, cores, memory, load, library versions)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    versions = {}
    for name, package in (
        ("torch", "torch"),
        ("faiss", "faiss-cpu"),
        ("bm25s", "bm25s"),
        ("sentence_transformers", "sentence-transformers"),
        ("onnxruntime", "onnxruntime"),
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(package)  # without importing torch here
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        **versions,
    }


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- synthetic knowledge bases ----------------------------------------------------------------------------
_WORDS = re.compile(r"[^\W\d_]{4,14}", re.UNICODE)


def vocabulary(articles_dir: Path) -> dict[str, list[str]]:
    """Distinct words of the shipped articles per language (sorted: the generator is deterministic)."""
    words: dict[str, set[str]] = {"en": set(), "fr": set()}
    for lang in words:
        for path in sorted((articles_dir / lang).glob("*.md")):
            words[lang].update(w.lower() for w in _WORDS.findall(path.read_text("utf-8")))
    if not all(words.values()):  # no shipped articles at hand: made-up words, still deterministic
        rng = np.random.default_rng(7)
        letters = list("abcdefghijklmnopqrstuvwxyz")
        for lang in words:
            words[lang] = {"".join(rng.choice(letters, int(rng.integers(4, 10)))) for _ in range(3000)}
    return {lang: sorted(found) for lang, found in words.items()}


@dataclass
class SyntheticKB:
    articles_dir: Path
    chunks: int
    articles: int
    queries: list[str]


def write_synthetic_kb(
    dest: Path, n_chunks: int, *, seed: int = 42, source: Path | None = None
) -> SyntheticKB:
    """Write a deterministic knowledge base of about `n_chunks` chunks under dest (Markdown articles).

    Args:
        dest: folder to create (`en/`, `fr/`).
        n_chunks: chunks wanted; articles have CHUNKS_PER_ARTICLE chunks each.
        seed: random seed (same seed, same files).
        source: articles folder whose words are used (default: the shipped one).

    Returns:
        The folder, its size, and search queries drawn from its articles' words (some with a typo).
    """
    rng = np.random.default_rng(seed)
    vocab = vocabulary(source or ROOT / "articles")
    n_articles = max(2, -(-n_chunks // CHUNKS_PER_ARTICLE))
    n_articles += n_articles % 2  # English and French pairs
    queries: list[str] = []
    for lang in ("en", "fr"):
        (dest / lang).mkdir(parents=True, exist_ok=True)
    for pair in range(n_articles // 2):
        slug = f"topic-{pair:05d}"
        category = CATEGORIES[pair % len(CATEGORIES)]
        for lang in ("en", "fr"):
            words = vocab[lang]
            topic = [words[i] for i in rng.integers(0, len(words), 12)]

            def sentence(n: int, topic: list[str] = topic, words: list[str] = words) -> str:
                own = rng.random(n) < 0.4
                picks = [
                    topic[int(rng.integers(0, len(topic)))] if o else words[int(rng.integers(0, len(words)))]
                    for o in own
                ]
                return " ".join(picks)

            title = sentence(5).capitalize()
            questions = [sentence(int(rng.integers(5, 10))) for _ in range(4)]
            sections = [
                f"## {sentence(3).capitalize()}\n\n{sentence(int(rng.integers(40, 90)))}." for _ in range(14)
            ]
            front = "\n".join(
                [
                    "---",
                    f"title: {json.dumps(title, ensure_ascii=False)}",
                    f"lang: {lang}",
                    f"category: {category}",
                    f"tags: [{', '.join(topic[:3])}]",
                    "questions:",
                    *(f"  - {json.dumps(q, ensure_ascii=False)}" for q in questions),
                    "updated: 2026-01-01",
                    "---",
                ]
            )
            intro = sentence(20).capitalize() + "."
            (dest / lang / f"{slug}.md").write_text(
                f"{front}\n\n{intro}\n\n" + "\n\n".join(sections) + "\n", "utf-8"
            )
            if len(queries) < 2000:
                query = " ".join(topic[int(i)] for i in rng.integers(0, len(topic), int(rng.integers(3, 7))))
                if rng.random() < 0.2:  # a typo: the lexical side corrects it
                    cut = int(rng.integers(1, max(2, len(query) - 1)))
                    query = query[:cut] + query[cut + 1 :]
                queries.append(query)
    return SyntheticKB(dest, n_articles * CHUNKS_PER_ARTICLE, n_articles, queries)


class SyntheticEmbedder:
    """Deterministic model-free vectors shaped like the real model's: a fixed random vector per word,
    summed, normalised, and pulled towards one common direction.

    Word vectors have a decaying variance spectrum (dimension i scaled by i^-0.4) and the common
    direction gives an average similarity of about 0.12: on the shipped articles, the real model's chunk
    vectors need 33/113/172 principal components for 50/80/90% of their variance and average 0.12
    similarity; these need about 25/100/165 and average 0.12. Approximate search is as hard on them as
    on real embeddings (uniformly random vectors would make it much harder, clustered ones much easier).
    """

    SPECTRUM = 0.4
    COMMON = 0.35

    def __init__(self, dimension: int = 384) -> None:
        self.name = SYNTHETIC_MODEL
        self.dimension = dimension
        self._words: dict[str, np.ndarray] = {}
        scales = np.arange(1, dimension + 1, dtype=np.float64) ** -self.SPECTRUM
        self._scales = (scales / np.linalg.norm(scales) * np.sqrt(dimension)).astype(np.float32)
        common = np.random.default_rng(1).standard_normal(dimension).astype(np.float32)
        self._common = common / np.linalg.norm(common)

    def _word(self, word: str) -> np.ndarray:
        vec = self._words.get(word)
        if vec is None:
            rng = np.random.default_rng(zlib.crc32(word.encode("utf-8")))
            vec = rng.standard_normal(self.dimension).astype(np.float32) * self._scales
            self._words[word] = vec
        return vec

    def _one(self, text: str) -> np.ndarray:
        words = re.findall(r"\w+", text.lower())
        if not words:
            return np.zeros(self.dimension, dtype=np.float32)
        vec = np.sum([self._word(w) for w in words], axis=0, dtype=np.float32)
        pulled = vec / max(float(np.linalg.norm(vec)), 1e-12) + self.COMMON * self._common
        return np.asarray(pulled / np.linalg.norm(pulled), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._one(t) for t in texts]).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


class TimedQueryEmbedder:
    """For a synthetic KB: runs the real model on each query (so its time counts), searches with the
    synthetic vector (so the search means something in the synthetic index's space)."""

    def __init__(self, real: Embedder, synthetic: SyntheticEmbedder) -> None:
        self.name = synthetic.name
        self.dimension = synthetic.dimension
        self.real = real
        self.synthetic = synthetic

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return self.synthetic.encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.real.encode_queries(texts)
        return self.synthetic.encode_queries(texts)


# -- index builds (in a child process: its peak memory is the build's) -----------------------------------
def _build_worker(args: dict[str, Any]) -> None:
    """Child process: build cold, re-build unchanged, re-build after one article changed; print JSON."""
    from indexer.build import build_index

    articles, index_dir = Path(args["articles"]), Path(args["index_dir"])
    model = args["model"]
    synthetic = model == SYNTHETIC_MODEL
    loaded: dict[str, Embedder] = {}

    def factory() -> Embedder:
        if "e" not in loaded:
            loaded["e"] = SyntheticEmbedder() if synthetic else _real_embedder(args)
        return loaded["e"]

    def build() -> tuple[float, Any]:
        started = time.perf_counter()
        report = build_index(articles, index_dir, model=model, embedder_factory=factory, progress=False)
        return time.perf_counter() - started, report

    cold_s, cold = build()
    unchanged_s, unchanged = build()
    edit_article(articles)
    edited_s, edited = build()
    print(
        json.dumps(
            {
                "cold_s": cold_s,
                "embedded": cold.embedded,
                "chunks": cold.chunks,
                "articles": cold.articles,
                "problems": len(cold.problems),
                "unchanged_s": unchanged_s,
                "unchanged_up_to_date": unchanged.up_to_date,
                "edited_s": edited_s,
                "edited_embedded": edited.embedded,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts at its parent's
    RSS at the fork and survives exec, so a build child of a bench that holds the model would report the
    bench's own size (a synthetic 10k build "peaked" at 741 MB: the parent's torch)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def edit_article(articles: Path, marker: str = "Edited") -> Path:
    """Change one sentence of one article (the first in name order), as an author would."""
    path = sorted(articles.glob("*/*.md"))[0]
    text = path.read_text("utf-8")
    path.write_text(text.rstrip("\n") + f"\n\n{marker} {time.time_ns()}: restart the computer.\n", "utf-8")
    return path


def _child(function: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run `function(args)` of this module in a fresh Python process; its last output line is JSON."""
    code = f"import json, sys; from kb_engine.bench import {function}; {function}(json.loads(sys.argv[1]))"
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(f"{function} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _real_embedder(args: dict[str, Any]) -> Embedder:
    """The model of a child's arguments (model, threads, runtime, model_cache), as the server loads it."""
    from kb_engine.embedding import load_embedder

    cache = args.get("model_cache")
    return load_embedder(
        args["model"],
        threads=args["threads"],
        runtime=args.get("runtime", "auto"),
        cache_dir=Path(cache) if cache else None,
    )


def _model_args(options: BenchOptions) -> dict[str, Any]:
    cache = options.model_cache
    return {"threads": options.threads, "runtime": options.runtime, "model_cache": cache and str(cache)}


def run_build(articles: Path, index_dir: Path, model: str, model_args: dict[str, Any]) -> dict[str, Any]:
    args = {"articles": str(articles), "index_dir": str(index_dir), "model": model, **model_args}
    return _child("_build_worker", args)


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

    from kb_engine import vector_index
    from kb_engine.searcher import Searcher

    index = vector_index.load(index_file)
    graph = vector_index.graph_of(index)
    hnsw: faiss.Index
    if graph is not None:
        hnsw = index
        storage = faiss.downcast_index(graph.storage)
        matrix = storage.reconstruct_n(0, storage.ntotal)  # storage order: id_map gives chunk positions
    else:
        matrix = Searcher._flat_matrix(index)
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
    from kb_engine.searcher import Searcher

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
        return _child(
            "_first_query_worker",
            {"index_dir": str(index_dir), "model": model, "query": query, **model_args},
        )
    except RuntimeError as exc:
        return {"error": str(exc)[-500:]}


def measure_bm25(articles: Sequence[Any], queries: Sequence[str]) -> dict[str, Any]:
    """The BM25-only baseline: plain bm25s (its own tokenizer, English stop words) over the same articles."""
    import bm25s

    from kb_engine.lexical import article_text

    texts = [article_text(a) for a in articles]
    started = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    index_s = time.perf_counter() - started
    k = min(10, len(texts))
    timings = []
    for q in queries:
        started = time.perf_counter()
        tokens = bm25s.tokenize([q], stopwords="en", show_progress=False)
        if tokens.vocab:
            retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        timings.append((time.perf_counter() - started) * 1000)
    return {"index_s": round(index_s, 3), "query_ms": percentiles(timings)}


def edit_to_live(
    articles: Path, index_dir: Path, build: Callable[[], Any], timeout: float = 60.0
) -> float | None:
    """Seconds from saving an article to a searcher serving the rebuilt index, with the watcher running."""
    from indexer.watch import watch_in_background
    from kb_engine.searcher import Searcher

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


# -- HTTP against the production server ------------------------------------------------------------------
def gunicorn_command(port: int) -> list[str]:
    """The production server command (README), bound to a loopback port."""
    config = str(ROOT / "web" / "gunicorn.conf.py")
    return [sys.executable, "-m", "gunicorn", "-c", config, "--bind", f"127.0.0.1:{port}", "web:create_app()"]


@contextlib.contextmanager
def production_server(
    index_dir: Path, workdir: Path, model: str, workers: int, model_env: dict[str, str] | None = None
) -> Iterator[tuple[int, int]]:
    """gunicorn with web/gunicorn.conf.py on a free loopback port; yields (port, master pid)."""
    port = free_port()
    env = {
        **os.environ,
        **(model_env or {}),
        "KB_INDEX_DIR": str(index_dir),
        "KB_MODEL": model,
        "KB_INSTANCE_DIR": str(workdir / "instance"),
        "KB_DATABASE_URL": f"sqlite:///{workdir / 'instance' / 'kb.sqlite3'}",
        "KB_SECRET_KEY": "bench",
        "KB_WEB_WORKERS": str(workers),
    }
    log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        gunicorn_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def wait_ready(port: int, workers: int, log: Path, timeout: float = 180.0) -> float:
    """Seconds until the server answers and every worker has logged its warm-up query."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        warm = log.read_text(errors="replace").count(" warm in ") if log.exists() else 0
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200 and warm >= workers:
                conn.close()
                return time.perf_counter() - started
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} was not ready within {timeout:.0f}s (see {log})")


def load(
    port: int, queries: Sequence[str], clients: int, *, seconds: float, max_requests: int, k: int
) -> dict[str, Any]:
    """`clients` threads, each with a keep-alive connection, sending searches until the time or the
    request budget is spent. Loopback only."""
    latencies: list[float] = []
    errors = [0]
    sent = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = offset
        while time.perf_counter() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            q = queries[i % len(queries)]
            i += clients
            path = f"/api/v1/search?q={urllib.parse.quote(q)}&k={k}"
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    stats = percentiles(latencies)
    return {
        "clients": clients,
        "requests": len(latencies) + errors[0],
        "errors": errors[0],
        "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": stats["p50"],
        "p99_ms": stats["p99"],
        "seconds": round(wall, 1),
    }


def process_memory(master: int) -> list[dict[str, float]]:
    """RSS and PSS (shared pages divided among the processes that map them) of each worker, in MB."""
    out = []
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        info: dict[str, float] = {"pid": int(pid)}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss", "Shared_Clean", "Private_Dirty"):
                    info[name.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
        out.append(info)
    return out


def measure_http(
    index_dir: Path,
    workdir: Path,
    model: str,
    queries: Sequence[str],
    *,
    quick: bool,
    model_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    workers = max(1, os.cpu_count() or 1)
    seconds, budget = (3.0, 150) if quick else (15.0, 1500)
    distinct = list(dict.fromkeys(queries))
    model_env = {}
    if model_args:
        model_env["KB_MODEL_RUNTIME"] = model_args["runtime"]
        if model_args.get("model_cache"):
            model_env["KB_MODEL_CACHE_DIR"] = model_args["model_cache"]
    with production_server(index_dir, workdir, model, workers, model_env) as (port, master):
        ready_s = wait_ready(port, workers, workdir / "gunicorn.log")
        levels = []
        for n, clients in enumerate(HTTP_LEVELS):
            # Each query once, and each level asks for a different k: every request misses the caches.
            levels.append(
                load(
                    port, distinct, clients, seconds=seconds, max_requests=min(budget, len(distinct)), k=5 + n
                )
            )
        repeated = load(port, queries[:20], 8, seconds=min(seconds, 5.0), max_requests=budget, k=5)
        repeated["note"] = "20 distinct queries, answered from the cache"
        memory = process_memory(master)
    return {
        "workers": workers,
        "ready_s": round(ready_s, 1),
        "levels": levels,
        "repeated": repeated,
        "memory": memory,
    }


# -- the whole run ---------------------------------------------------------------------------------------
@dataclass
class BenchOptions:
    sizes: list[str] = field(default_factory=lambda: ["shipped", "1k", "10k", "100k"])
    http: bool = True
    quick: bool = False
    model: str = "all-MiniLM-L6-v2"
    threads: int = 1
    runtime: str = "auto"
    model_cache: Path | None = None  # where the ONNX export is kept (None: torch only)
    articles_dir: Path = ROOT / "articles"
    queries_files: tuple[Path, ...] = (ROOT / "eval" / "queries.tsv", ROOT / "eval" / "holdout.tsv")
    workdir: Path | None = None
    seed: int = 42


def shipped_queries(paths: Sequence[Path]) -> list[str]:
    """The eval sets' queries (customers' words, English and French), each once."""
    queries: list[str] = []
    for path in paths:
        if path.is_file():
            with open(path, encoding="utf-8", newline="") as fh:
                rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                queries += [r["query"] for r in rows if (r.get("query") or "").strip()]
    return list(dict.fromkeys(queries)) or ["I forgot my password", "imprimante hors ligne", "wifi down"]


def run_bench(options: BenchOptions, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Run every measurement for every size; the report is a JSON-ready dict (see `format_report`)."""
    from kb_engine import vector_index
    from kb_engine.embedding import runtime_of
    from kb_engine.index_files import current_build
    from kb_engine.searcher import Searcher
    from kb_engine.threads import limit_all

    limit_all(options.threads)
    report: dict[str, Any] = {
        "machine": machine(),
        "options": {
            "sizes": options.sizes,
            "quick": options.quick,
            "model": options.model,
            "runtime": options.runtime,
        },
        "sizes": [],
    }
    work = Path(options.workdir or tempfile.mkdtemp(prefix="kb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    n_queries = 60 if options.quick else 400
    say(f"loading the query model {options.model}")
    model_args = _model_args(options)
    real = _real_embedder({"model": options.model, **model_args})
    try:
        for size in options.sizes:
            say(f"[{size}] preparing")
            folder = work / size
            if size == "shipped":
                articles = folder / "articles"
                shutil.copytree(options.articles_dir, articles)
                queries = shipped_queries(options.queries_files)
                model, embedder_note = options.model, f"{options.model}"
            else:
                kb = write_synthetic_kb(
                    folder / "articles", SIZES[size], seed=options.seed, source=options.articles_dir
                )
                articles, queries = kb.articles_dir, kb.queries
                model, embedder_note = SYNTHETIC_MODEL, "synthetic"
            index_dir = folder / "index"
            say(f"[{size}] building the index (cold, unchanged, one article edited)")
            build = run_build(articles, index_dir, model, model_args)
            build_dir = current_build(index_dir)
            row: dict[str, Any] = {
                "size": size,
                "embedder": embedder_note,
                "query_runtime": runtime_of(real),
                "articles": build["articles"],
                "chunks": build["chunks"],
                "vector_index": json.loads((build_dir / "manifest.json").read_text())["vector_index"],
                "build": {
                    "cold_s": round(build["cold_s"], 2),
                    "chunks_per_s": round(build["embedded"] / build["cold_s"], 1) if build["cold_s"] else 0.0,
                    "peak_rss_mb": round(build["peak_rss_mb"], 1),
                    "unchanged_s": round(build["unchanged_s"], 3),
                    "edited_s": round(build["edited_s"], 3),
                    "edited_embedded": build["edited_embedded"],
                },
                "disk_mb": {
                    "index": round(dir_size(build_dir) / 1e6, 1),
                    "embedding_cache": round((index_dir / "cache.sqlite3").stat().st_size / 1e6, 1),
                },
            }
            synthetic = SyntheticEmbedder() if model == SYNTHETIC_MODEL else None
            query_embedder: Embedder = TimedQueryEmbedder(real, synthetic) if synthetic else real
            searcher = Searcher(index_dir, model=model, embedder=query_embedder)
            sample = queries[:n_queries]
            say(f"[{size}] {len(sample)} queries in-process")
            row["query"] = measure_queries(searcher, sample)
            say(f"[{size}] vector search: flat vs HNSW")
            vectors = (synthetic or real).encode_queries(sample[: min(len(sample), 200)])
            row["vectors"] = measure_vectors(
                build_dir / "vectors.faiss", vectors, threshold_kind=row["vector_index"]
            )
            say(f"[{size}] BM25-only baseline (bm25s)")
            row["bm25"] = measure_bm25([a for a in searcher.articles if a.is_public], sample)
            if size == "shipped":
                say(f"[{size}] first query in a fresh process")
                row["first_query"] = first_query(index_dir, model, model_args, sample[0])
                say(f"[{size}] edit -> live with the watcher running")
                row["edit_to_live_s"] = _edit_to_live(articles, index_dir, model, real)
                if options.http:
                    say(f"[{size}] HTTP load against gunicorn on 127.0.0.1")
                    row["http"] = measure_http(
                        index_dir, folder, model, queries, quick=options.quick, model_args=model_args
                    )
            report["sizes"].append(row)
    finally:
        if options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["vector_index"] = {
        "hnsw_threshold": vector_index.HNSW_THRESHOLD,
        "hnsw_ef_search": vector_index.HNSW_EF_SEARCH,
    }
    return report


def _edit_to_live(articles: Path, index_dir: Path, model: str, embedder: Embedder) -> float | None:
    from indexer.build import build_index

    def build() -> Any:
        return build_index(
            articles, index_dir, model=model, embedder_factory=lambda: embedder, progress=False
        )

    seconds = edit_to_live(articles, index_dir, build)
    return None if seconds is None else round(seconds, 2)


# -- the table -------------------------------------------------------------------------------------------
def _stage_getter(stage: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: _ms(r["query"]["stages_ms"].get(stage))


def _ms(stats: dict[str, float] | None, key: str = "p50") -> str:
    return "-" if not stats else f"{stats[key]:.1f}"


def format_report(report: dict[str, Any]) -> str:
    """The report as a Markdown table (what the README shows)."""
    m = report["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, torch "
        f"{m.get('torch', '?')}, onnxruntime {m.get('onnxruntime', '?')}, faiss {m.get('faiss', '?')}; "
        f"load average {m['load_average'][0]} before, "
        f"{m.get('load_average_after', ['?'])[0]} after.",
        "",
        "| | " + " | ".join(r["size"] for r in report["sizes"]) + " |",
        "|---|" + "---|" * len(report["sizes"]),
    ]

    def row(label: str, get: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for r in report["sizes"]:
            try:
                value = get(r)
            except (KeyError, TypeError, IndexError):
                value = None
            cells.append("-" if value is None else str(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("articles / chunks", lambda r: f"{r['articles']} / {r['chunks']}")
    row("chunk vectors (query embedding: always the real model)", lambda r: r["embedder"])
    row("query embedding runtime", lambda r: r.get("query_runtime"))
    row("vector index served", lambda r: r["vector_index"])
    row("build, cold (s)", lambda r: r["build"]["cold_s"])
    row("chunks embedded per s", lambda r: r["build"]["chunks_per_s"])
    row("build peak RSS (MB)", lambda r: r["build"]["peak_rss_mb"])
    row("re-index, unchanged (s)", lambda r: r["build"]["unchanged_s"])
    row("re-index, one article edited (s)", lambda r: r["build"]["edited_s"])
    row("edit → live, watcher running (s)", lambda r: r.get("edit_to_live_s"))
    row("index on disk (MB)", lambda r: r["disk_mb"]["index"])
    row(
        "search p50 / p95 / p99 (ms)",
        lambda r: "{p50:.1f} / {p95:.1f} / {p99:.1f}".format(**r["query"]["total_ms"]),
    )
    for stage, label in (
        ("embed_ms", "· query embedding p50"),
        ("vector_ms", "· vector search p50"),
        ("lexical_ms", "· lexical (BM25) p50"),
        ("language_ms", "· language + glossary p50"),
        ("fusion_ms", "· fusion + rendering p50"),
    ):
        row(label + " (ms)", _stage_getter(stage))
    row(
        "repeated query, cache p50 / p99 (ms)",
        lambda r: "{p50:.3f} / {p99:.3f}".format(**r["query"]["cached_ms"]),
    )
    row("flat scan p50 (ms)", lambda r: _ms(r["vectors"]["flat_ms"], "p50"))
    row(
        "HNSW p50 / p99 (ms)",
        lambda r: f"{_ms(r['vectors']['hnsw_ms'])} / {_ms(r['vectors']['hnsw_ms'], 'p99')}",
    )
    row("HNSW recall@10 vs flat", lambda r: r["vectors"]["hnsw_recall_at_10"])
    row("BM25-only (bm25s) p50 (ms)", lambda r: _ms(r["bm25"]["query_ms"]))
    row(
        "engine / BM25-only latency",
        lambda r: f"{r['query']['total_ms']['p50'] / max(r['bm25']['query_ms']['p50'], 1e-6):.0f}×",
    )
    row(
        "fresh process: open index (s) / first query, model load included (s)",
        lambda r: f"{r['first_query']['open_s']:.1f} / {r['first_query']['first_query_ms'] / 1000:.1f}",
    )
    http_rows = [r for r in report["sizes"] if r.get("http")]
    for r in http_rows:
        h = r["http"]
        lines += [
            "",
            f"HTTP, `/api/v1/search` on the {r['size']} KB, gunicorn ({h['workers']} workers, "
            f"`web/gunicorn.conf.py`) on 127.0.0.1, ready {h['ready_s']} s after start "
            "(each worker loads the model and answers a warm-up query first):",
            "",
            "| clients | requests | req/s | p50 (ms) | p99 (ms) | errors |",
            "|---|---|---|---|---|---|",
        ]
        for level in [
            *h["levels"],
            {**h["repeated"], "clients": f"{h['repeated']['clients']} (repeated queries)"},
        ]:
            lines.append(
                f"| {level['clients']} | {level['requests']} | {level['rps']} | {level['p50_ms']:.1f} | "
                f"{level['p99_ms']:.1f} | {level['errors']} |"
            )
        mem = ", ".join(f"RSS {w.get('rss_mb', '?')} MB / PSS {w.get('pss_mb', '?')} MB" for w in h["memory"])
        lines += ["", f"Memory per worker: {mem}."]
    return "\n".join(lines)
