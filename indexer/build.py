"""Build an index from an articles folder and publish it atomically.

Only one indexer runs at a time per index directory (an exclusive file lock); a build is written in a
temporary directory, fsynced, renamed and then made current with one atomic symlink switch, so readers see
either the old build or the new one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from indexer.cache import EmbeddingCache, cache_key
from kb_engine.content.articles import AUDIENCES, Article, Problem, scan_articles
from kb_engine.content.chunking import Chunk, chunk_article
from kb_engine.content.files import Timeout, exclusive, fsync_dir
from kb_engine.content.glossary import Glossary, load_glossary
from kb_engine.content.learned import apply_learned, load_learned
from kb_engine.content.scope import Scope, load_scope, scope_articles
from kb_engine.errors import ArticleError, IndexBusy
from kb_engine.search import vector_index
from kb_engine.search.embedding import Embedder
from kb_engine.search.index_files import (
    BUILDS,
    CURRENT,
    FORMAT_VERSION,
    MANIFEST,
    current_build_id,
    read_manifest,
    write_json,
)
from kb_engine.search.lexical import LexicalIndex

KEEP_BUILDS = 3
REFIT_SHARE = 0.1  # a build reuses the last fit while at most this share of its articles changed since
log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did."""

    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    cached: int = 0
    problems: list[Problem] = field(default_factory=list)
    build_id: str | None = None
    up_to_date: bool = False
    seconds: float = 0.0
    # An HNSW graph kept from the previous build: chunks kept, added, and tombstones now in it.
    graph_update: dict[str, int] | None = None
    # Articles whose file no longer parses, still served as the previous build had them (their ids).
    kept: list[str] = field(default_factory=list)
    drafts: int = 0  # `status: draft` files, not indexed

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "cached": self.cached,
            "problems": [p.to_dict() for p in self.problems],
            "kept": self.kept,
            "drafts": self.drafts,
            "build_id": self.build_id,
            "up_to_date": self.up_to_date,
            "seconds": round(self.seconds, 3),
            "graph_update": self.graph_update,
        }


@contextlib.contextmanager
def index_lock(index_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the index directory's exclusive lock; IndexBusy if another indexer has it (unless wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusive(index_dir / ".lock", wait=wait))
        except Timeout:
            raise IndexBusy(
                f"another indexer is already building {index_dir}; try again when it is done"
            ) from None
        yield


def _fingerprint(
    article_hashes: dict[str, str], glossary_hash: str, model: str, extra: dict[str, Any]
) -> str:
    payload = json.dumps(
        {"v": FORMAT_VERSION, "model": model, "articles": article_hashes, "glossary": glossary_hash, **extra},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _new_build_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(Path(dirpath) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def _prune(builds: Path, keep: set[str]) -> None:
    entries = sorted((p for p in builds.iterdir() if p.is_dir()), key=lambda p: p.name)
    finished = [p for p in entries if not p.name.startswith(".tmp-")]
    for path in entries:
        if path.name.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)  # left by a build that was killed
    for path in finished[:-KEEP_BUILDS]:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def build_index(
    articles_dir: Path,
    index_dir: Path,
    *,
    model: str,
    embedder_factory: Callable[[], Embedder],
    languages: tuple[str, ...] = ("en", "fr"),
    batch_size: int = 32,
    progress: bool = True,
    force: bool = False,
    vector_kind: str = "auto",
    cache_path: Path | None = None,
    target_misled: float = 0.05,
    reuse_fit: bool = False,
) -> BuildReport:
    """Index an articles folder into index_dir and publish the build.

    Args:
        articles_dir: folder of `<lang>/<slug>.md` articles (and glossary.yml).
        index_dir: where builds, the embedding cache and the `current` pointer live.
        model: the model setting, recorded in the manifest.
        embedder_factory: called only if some chunk is not in the embedding cache.
        languages: accepted article languages.
        batch_size: embedding batch size.
        progress: show progress bars.
        force: rebuild even when nothing changed.
        vector_kind: "flat", "hnsw" or "auto".
        cache_path: embedding cache file (default: `cache.sqlite3` in index_dir).
        target_misled: the misled rate the confidence threshold is fitted for (`KB_TARGET_MISLED`).
        reuse_fit: keep the previous build's fit while few articles changed since it (`kb watch`: an
            edit is searchable without waiting for a new fit); `kb index` fits every build.

    Returns:
        A BuildReport; its `problems` list the files that were skipped and why.

    Raises:
        IndexBusy: another indexer holds the lock.
    """
    started = time.perf_counter()
    articles_dir, index_dir = Path(articles_dir), Path(index_dir)
    report = BuildReport()
    with index_lock(index_dir):
        builds = index_dir / BUILDS
        builds.mkdir(parents=True, exist_ok=True)
        previous: dict[str, Any] | None = None
        current_id = current_build_id(index_dir)
        if current_id:
            with contextlib.suppress(OSError, ValueError):
                previous = read_manifest(builds / current_id)
        scan = scan_articles(articles_dir, languages=languages)
        report.drafts = len(scan.drafts)
        last = builds / current_id if previous is not None and current_id else None
        report.kept = keep_last_good(scan.articles, scan.problems, last)
        report.problems = scan.problems
        try:
            glossary, glossary_hash = load_glossary(articles_dir)
        except ArticleError as exc:
            report.problems.append(Problem(exc.path, exc.reason))
            glossary, glossary_hash = Glossary(), ""
        try:
            scope, scope_hash = load_scope(articles_dir)
        except ArticleError as exc:
            report.problems.append(Problem(exc.path, exc.reason))
            scope, scope_hash = Scope(), ""
        try:
            learned, learned_hash = load_learned(articles_dir)
        except ArticleError as exc:
            report.problems.append(Problem(exc.path, exc.reason))
            learned, learned_hash = {}, ""
        real_articles, learned_problems = apply_learned(scan.articles, learned)
        report.problems.extend(learned_problems)
        report.articles = len(real_articles)
        hashes = {a.id: a.sha256 for a in real_articles}
        # Out-of-scope families are indexed as hidden pseudo-articles (never shown, see content/scope.py).
        articles = real_articles + scope_articles(scope, scope_hash)
        # The problems are part of the fingerprint: the manifest (what /healthz and the authors' pages
        # report) always lists the files that are broken now.
        problems = [p.to_dict() for p in report.problems]
        fingerprint = _fingerprint(
            hashes,
            glossary_hash,
            model,
            {
                "vector_kind": vector_kind,
                "scope": scope_hash,
                "learned": learned_hash,
                "problems": problems,
                "misled": target_misled,
            },
        )

        if previous and previous.get("fingerprint") == fingerprint and not force:
            report.up_to_date = True
            report.build_id = current_id
            report.chunks = int(previous.get("chunks", 0))
            report.cached = report.chunks
            report.seconds = time.perf_counter() - started
            return report

        chunks = [chunk for article in articles for chunk in chunk_article(article)]
        report.chunks = len(chunks)
        cache_file = cache_path or index_dir / "cache.sqlite3"
        # A KB large enough for HNSW keeps its graph: only the chunks it lacks need vectors.
        plan = None
        keeps_graph = previous and previous.get("model") == model and previous.get("vector_index") == "hnsw"
        if not force and keeps_graph and current_id and _wants_graph(vector_kind, len(chunks)):
            plan = _graph_plan(builds / current_id, chunks)
        if plan is not None:
            old_dimension = int((previous or {})["dimension"])
            vectors, dimension, found = np.zeros((0, old_dimension), np.float32), old_dimension, 0
            if plan.added.size:
                texts = [chunks[i].text for i in plan.added]
                vectors, dimension, report.embedded, found = embed_texts(
                    texts, cache_file, model, embedder_factory, batch_size, progress
                )
            report.cached = len(chunks) - plan.added.size + found
            if dimension != old_dimension:  # the model changed under the same name
                plan = None
        if plan is None:
            vectors, dimension, report.embedded, report.cached = embed_texts(
                [c.text for c in chunks], cache_file, model, embedder_factory, batch_size, progress
            )

        build_id = _new_build_id()
        tmp = builds / f".tmp-{build_id}"
        tmp.mkdir()
        try:
            rows = {a.id: i for i, a in enumerate(articles)}
            write_json(tmp / "articles.json", [a.to_dict() for a in articles])
            write_json(tmp / "chunks.json", [{**c.to_dict(), "row": rows[c.article_id]} for c in chunks])
            write_json(tmp / "glossary.json", glossary.to_dict())
            if plan is not None:
                index = vector_index.update(plan.index, plan.positions, vectors, plan.added)
                report.graph_update = plan.summary()
            else:
                index = vector_index.build(vectors.reshape(len(chunks), dimension), kind=vector_kind)
            vector_index.save(index, tmp / "vectors.faiss")
            LexicalIndex.build(articles).save(tmp / "lexical")
            manifest = {
                "format_version": FORMAT_VERSION,
                "build_id": build_id,
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "model": model,
                "dimension": dimension,
                "vector_index": vector_index.kind_of(index),
                "articles": hashes,
                "chunks": len(chunks),
                "glossary_sha256": glossary_hash,
                "scope_sha256": scope_hash,
                "languages": list(languages),
                "fingerprint": fingerprint,
                "problems": problems,
                "kept": report.kept,
                # Calibration (thresholds, learned weights) survives re-indexing with the same model.
                "calibration": (previous or {}).get("calibration")
                if (previous or {}).get("model") == model
                else None,
            }
            write_json(tmp / MANIFEST, manifest)
            manifest["fit"] = (
                reuse_fit and _reused_fit(previous, hashes, model, target_misled, force)
            ) or _fit(tmp, cache_file, model, embedder_factory, batch_size, target_misled)
            write_json(tmp / MANIFEST, manifest)
            _fsync_tree(tmp)
            final = builds / build_id
            os.rename(tmp, final)
            fsync_dir(builds)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _publish(index_dir, build_id)
        _prune(builds, keep={build_id, current_id or ""})
        report.build_id = build_id
    report.seconds = time.perf_counter() - started
    return report


def keep_last_good(articles: list[Article], problems: list[Problem], previous_dir: Path | None) -> list[str]:
    """Put back, in `articles`, the previous build's version of every article whose file no longer
    parses (or is left unfinished), so that a bad edit never takes a live article down; each such
    problem says so. A file the previous build did not have (new, broken) stays unpublished.

    Returns:
        The ids of the articles kept from the previous build.
    """
    old: list[Article] = []
    if previous_dir is not None:
        try:
            rows = json.loads((previous_dir / "articles.json").read_text("utf-8"))
            old = [Article.from_dict(row) for row in rows if row.get("audience") in AUDIENCES]
        except (OSError, ValueError, TypeError):
            old = []
    by_path = {article.path: article for article in old}
    present = {article.id for article in articles}
    kept: list[str] = []
    for i, problem in enumerate(problems):
        last_good = by_path.get(problem.path)
        if last_good is None or last_good.id in present:
            if problem.path.endswith(".md") and problem.path not in {a.path for a in articles}:
                problems[i] = Problem(problem.path, f"{problem.reason} — not published", problem.line)
            continue
        articles.append(last_good)
        present.add(last_good.id)
        kept.append(last_good.id)
        problems[i] = Problem(
            problem.path,
            f"{problem.reason} — the last good version stays published until the file is fixed",
            problem.line,
        )
    articles.sort(key=lambda a: a.id)
    return kept


class _AsQueries:
    """An embedder whose "documents" are embedded as queries (pseudo-queries share the chunk cache)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension

    def encode_documents(self, texts: Any, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        parts = [
            self.embedder.encode_queries(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), np.float32)

    def encode_queries(self, texts: Any) -> np.ndarray:
        return self.embedder.encode_queries(texts)


def _reused_fit(
    previous: dict[str, Any] | None, hashes: dict[str, str], model: str, target_misled: float, force: bool
) -> dict[str, Any] | None:
    """The previous build's fit when few articles changed since it was fitted (at most REFIT_SHARE of
    them, counted over the builds that reused it): an edit saved under `kb watch` is searchable without
    waiting for a new fit. None: fit again (`kb index --force` always does)."""
    fit = (previous or {}).get("fit") or {}
    if force or not fit.get("params") or previous is None or previous.get("model") != model:
        return None
    if fit.get("target_misled") != target_misled:
        return None
    before: dict[str, str] = previous.get("articles") or {}
    changed = len(set(before) ^ set(hashes)) + sum(
        1 for a, h in hashes.items() if a in before and before[a] != h
    )
    since = int(fit.get("changed_since_fit", 0)) + changed
    if since > max(1, REFIT_SHARE * len(hashes)):
        return None
    return {
        **fit,
        "reused_from": fit.get("reused_from") or previous.get("build_id"),
        "changed_since_fit": since,
    }


def _fit(
    build_dir: Path,
    cache_file: Path,
    model: str,
    embedder_factory: Callable[[], Embedder],
    batch_size: int,
    target_misled: float,
) -> dict[str, Any]:
    """Fit this build's ranking and confidence on its own articles (kb_engine.search.fitting)."""
    from kb_engine.search.fitting import fit
    from kb_engine.search.searcher import Searcher

    embedder: list[Embedder] = []

    def factory() -> Embedder:
        if not embedder:
            embedder.append(embedder_factory())
        return embedder[0]

    def embed_queries(texts: list[str]) -> np.ndarray:
        # Cached under the model's name + a role mark: a query's vector is not its passage's (E5 prefixes).
        vectors, *_ = embed_texts(
            texts, cache_file, f"{model}\0query", lambda: _AsQueries(factory()), batch_size, False
        )
        return vectors

    searcher = Searcher(build_dir.parent, model=None, embedder=None, build_dir=build_dir, cache_size=0)
    try:
        return fit(searcher, embed_queries, target_misled=target_misled)
    except Exception as exc:  # noqa: BLE001 - a failed fit must not cost the build: the defaults serve
        log.warning("fitting the ranking of %s failed, defaults kept: %s", build_dir.name, exc)
        return {"note": f"fit failed: {exc}"[:500], "target_misled": target_misled}


def _wants_graph(vector_kind: str, n_chunks: int) -> bool:
    return vector_kind == "hnsw" or (vector_kind == "auto" and n_chunks >= vector_index.HNSW_THRESHOLD)


@dataclass
class GraphPlan:
    """How the previous build's HNSW graph maps to this build's chunks (see `vector_index.update`)."""

    index: Any  # the previous graph, a private writable copy
    positions: np.ndarray  # per stored vector: its chunk's new position, or -1 (tombstone)
    added: np.ndarray  # positions of the chunks the graph lacks, ascending

    def summary(self) -> dict[str, int]:
        dead = int(np.count_nonzero(self.positions < 0))
        return {"kept": int(self.positions.size - dead), "added": int(self.added.size), "tombstones": dead}


def _graph_plan(previous_dir: Path, chunks: list[Chunk]) -> GraphPlan | None:
    """The previous build's HNSW graph re-mapped to this build's chunks, or None when it cannot be reused
    (another format, unreadable) or would hold too many tombstones (then the graph is built anew).

    A chunk's vector depends on its text only (same model): every chunk whose text the previous build
    had keeps its vector and its place in the graph; only the others are added.
    """
    try:
        old_chunks = json.loads((previous_dir / "chunks.json").read_text("utf-8"))
        index = vector_index.load(previous_dir / "vectors.faiss", writable=True)
        stored = vector_index.id_map(index)
    except (OSError, ValueError, RuntimeError):
        return None
    if not isinstance(index, faiss.IndexIDMap) or vector_index.graph_of(index) is None:
        return None
    waiting: dict[str, list[int]] = {}
    for position in range(len(chunks) - 1, -1, -1):  # popped from the end: lowest position first
        waiting.setdefault(chunks[position].text, []).append(position)
    positions = np.full(stored.size, -1, dtype=np.int64)
    for slot, old in enumerate(stored.tolist()):
        if 0 <= old < len(old_chunks):
            free = waiting.get(old_chunks[old]["text"])
            if free:
                positions[slot] = free.pop()
    added = np.array(sorted(p for free in waiting.values() for p in free), dtype=np.int64)
    dead = int(np.count_nonzero(positions < 0))
    if dead > vector_index.MAX_TOMBSTONES * (stored.size + added.size):
        return None
    return GraphPlan(index, positions, added)


def _publish(index_dir: Path, build_id: str) -> None:
    """Point `current` at the new build with one atomic rename of a fresh symlink."""
    tmp_link = index_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    os.symlink(Path(BUILDS) / build_id, tmp_link)
    os.replace(tmp_link, index_dir / CURRENT)
    fsync_dir(index_dir)


def embed_texts(
    texts: list[str],
    cache_path: Path,
    model: str,
    embedder_factory: Callable[[], Embedder],
    batch_size: int,
    progress: bool,
) -> tuple[np.ndarray, int, int, int]:
    """Vectors of texts through the embedding cache: (matrix, dimension, embedded, cached)."""
    cache = EmbeddingCache(cache_path)
    try:
        keys = [cache_key(model, t) for t in texts]
        found = cache.get_many(keys)
        dims = {v.shape[0] for v in found.values()}
        if len(dims) > 1:  # a model changed dimension under the same name: trust nothing cached
            found = {}
        missing = [i for i, k in enumerate(keys) if k not in found]
        dimension = dims.pop() if len(dims) == 1 else None
        if missing or dimension is None:
            embedder = embedder_factory()
            if dimension is not None and embedder.dimension != dimension:
                found, missing = {}, list(range(len(texts)))
            dimension = embedder.dimension
            # Longest first, so that each part (and each batch the embedder cuts in it) holds texts of
            # similar lengths: batches padded to their own longest text compute little padding.
            unique = sorted(dict.fromkeys(texts[i] for i in missing), key=len, reverse=True)
            new: dict[str, np.ndarray] = {}
            bar = tqdm(total=len(unique), desc="embedding", unit="chunk", disable=not progress or not unique)
            part_size = batch_size * 32  # saved to the cache per part: a killed build keeps what it embedded
            for start in range(0, len(unique), part_size):
                part = unique[start : start + part_size]
                vecs = embedder.encode_documents(part, batch_size=batch_size)
                batch = {cache_key(model, t): v for t, v in zip(part, vecs, strict=True)}
                cache.put_many(batch)  # saved per batch: a killed build keeps what it embedded
                new.update(batch)
                bar.update(len(part))
            bar.close()
            found.update(new)
            embedded = len(unique)
        else:
            embedded = 0
        if not texts:
            return np.zeros((0, dimension or 0), np.float32), dimension or 0, 0, 0
        matrix = np.stack([found[k] for k in keys]).astype(np.float32)
        return matrix, int(dimension), embedded, len(texts) - len(missing)
    finally:
        cache.close()
