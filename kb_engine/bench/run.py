"""The whole `kb bench` run and its table."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.bench.builds import real_embedder, run_build
from kb_engine.bench.http import measure_http
from kb_engine.bench.measure import ROOT, SIZES, SYNTHETIC_MODEL, dir_size, machine
from kb_engine.bench.peers import measure_peers
from kb_engine.bench.search import edit_to_live, first_query, measure_bm25, measure_queries, measure_vectors
from kb_engine.bench.synthetic import SyntheticEmbedder, TimedQueryEmbedder, write_synthetic_kb
from kb_engine.search.embedding import Embedder


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
    from kb_engine.search import vector_index
    from kb_engine.search.embedding import runtime_of
    from kb_engine.search.index_files import current_build
    from kb_engine.search.searcher import Searcher
    from kb_engine.search.threads import limit_all

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
    model_args = model_args_of(options)
    real = real_embedder({"model": options.model, **model_args})
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
                say(f"[{size}] peers: the floor, a plain FAISS + model loop, txtai")
                row["peers"] = measure_peers(searcher, real, model, sample)
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
    for r in report["sizes"]:
        if r.get("peers"):
            lines += ["", *format_peers(r)]
    http_rows = [r for r in report["sizes"] if r.get("http")]
    for r in http_rows:
        h = r["http"]
        lines += [
            "",
            f"HTTP, `/api/v1/search` on the {r['size']} KB, gunicorn ({h['workers']} workers, "
            f"`web/gunicorn.conf.py`) on 127.0.0.1, ready {h['ready_s']} s after start "
            "(each worker loads the model and answers a warm-up query first):",
            "",
            "| clients (uncached unless said) | requests | answered/s | p50 (ms) | p99 (ms) | "
            "refused (503, Retry-After) | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        batching = h.get("batching_32") or {}
        extra = [
            {**batching[name], "clients": f"32, micro-batching {name} (3 alternate rounds)"}
            for name in ("on", "off")
            if name in batching
        ]
        for level in [
            *h["levels"],
            *extra,
            {**h["repeated"], "clients": f"{h['repeated']['clients']} (repeated queries)"},
        ]:
            lines.append(
                f"| {level['clients']} | {level['requests']} | {level['rps']} | {level['p50_ms']:.1f} | "
                f"{level['p99_ms']:.1f} | {level.get('refused', 0)} | {level['errors']} |"
            )
        by_clients = {lv["clients"]: lv["rps"] for lv in h["levels"]}
        if by_clients.get(8):
            ratios = ", ".join(
                f"{n}: {by_clients[n] / by_clients[8]:.0%}" for n in (32, 64) if n in by_clients
            )
            lines += ["", f"Throughput against 8 clients: {ratios}."]
        if len(batching) == 2 and batching["off"]["rps"]:
            on, off = batching["on"], batching["off"]
            lines += [
                f"Micro-batching on / off at 32 clients: {on['rps'] / off['rps']:.2f} "
                f"(rounds on {on['rounds_rps']}, off {off['rounds_rps']} answered/s)."
            ]
        mem = ", ".join(f"RSS {w.get('rss_mb', '?')} MB / PSS {w.get('pss_mb', '?')} MB" for w in h["memory"])
        lines += ["", f"Memory per worker: {mem}."]
    return "\n".join(lines)


def model_args_of(options: BenchOptions) -> dict[str, Any]:
    cache = options.model_cache
    return {"threads": options.threads, "runtime": options.runtime, "model_cache": cache and str(cache)}


def format_peers(r: dict[str, Any]) -> list[str]:
    """The peers of one size, each as a ratio to the engine's p50, all timed interleaved on the same
    queries (`peers.interleaved`)."""
    p = r["peers"]
    engine = p["engine"]["query_ms"]["p50"]
    rows = [
        ("kb-engine: hybrid search, whole answer (sections, confidence)", p["engine"]),
        (f"floor: one model run ({p['floor']['runtime']}) + one FAISS search", p["floor"]),
        (f"plain FAISS + model loop ({p['faiss_loop']['runtime']})", p["faiss_loop"]),
        ("plain bm25s loop (lexical only)", p["bm25s"]),
    ]
    txtai = p.get("txtai") or {}
    if txtai.get("query_ms"):
        rows.append((f"txtai {txtai.get('version')} hybrid ({txtai['model']}, torch)", txtai))
    lines = [
        f"Peers on the {r['size']} KB, timed interleaved query by query (warm, one thread each):",
        "",
        "| | p50 (ms) | p99 (ms) | kb-engine p50 / this p50 |",
        "|---|---|---|---|",
    ]
    for label, peer in rows:
        stats = peer["query_ms"]
        ratio = f"{engine / stats['p50']:.2f}" if stats.get("p50") else "-"
        lines.append(f"| {label} | {stats['p50']:.2f} | {stats['p99']:.2f} | {ratio} |")
    if txtai.get("skipped"):
        lines += ["", f"txtai: {txtai['skipped']}."]
    return lines
