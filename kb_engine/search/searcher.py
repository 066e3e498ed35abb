"""The searcher: one published index build, queried by customers, agents and scripts.

Loads a build read-only (the vectors memory-mapped, shared between worker processes), checks it was
made with the configured model and format, and answers queries with hybrid dense + lexical retrieval,
grouped per article, with a calibrated `answered`/`confidence`. The embedding model is loaded lazily, so a
server can still answer lexically when the model cannot be loaded (degraded mode).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from kb_engine.content.articles import Article, article_media
from kb_engine.content.chunking import KINDS
from kb_engine.content.glossary import Glossary
from kb_engine.content.scope import SCOPE_AUDIENCE, SCOPE_PREFIX
from kb_engine.errors import KBError, NotFound
from kb_engine.search import vector_index
from kb_engine.search.admission import Admission
from kb_engine.search.batching import QueryBatcher, admitted
from kb_engine.search.embedding import Embedder, load_embedder, runtime_of
from kb_engine.search.fusion import saturate
from kb_engine.search.index_files import check_manifest, current_build, read_manifest
from kb_engine.search.language import detect_language
from kb_engine.search.lexical import LexicalIndex
from kb_engine.search.ranking import (
    ArticleGroups,
    Group,
    RankingParams,
    article_dense_scores,
    chunk_segments,
    confidence,
    confidence_features,
    fused_scores,
    lexical_z,
)
from kb_engine.search.response import (  # noqa: F401 - re-exported: callers import them from here
    Hit,
    SearchResponse,
    clean_query,
    outcome_of,
    ranking_source,
)
from kb_engine.search.sections import Platforms, SectionPicker, is_answer_heading
from kb_engine.search.threads import limit_blas

log = logging.getLogger(__name__)

SNIPPET_CHARS = 240
# Bullets and step numbers left in a flattened passage ("- Check the cable. 2. Restart"): snippet noise.
_LIST_MARKER = re.compile(r"(?<!\S)(?:[-*+]|\d{1,2}\.)\s+(?=\S)")


@dataclass
class Ranked:
    """The ranking of one query: groups best first, confidence, and the evidence behind it."""

    groups: list[Group]
    confidence: float
    best_chunk: np.ndarray
    features: dict[str, float] = field(default_factory=dict)
    negative: float = 0.0  # best out-of-scope family's score minus the top article's
    scope_row: int | None = None


class Searcher:
    """Hybrid search over one index build.

    The model named by `model` loads on first use through `load_embedder` (`threads`, `runtime`), its
    ONNX export kept in `model_cache` (default: `<index_dir>/models`); or pass a loaded `embedder`.
    """

    def __init__(
        self,
        index_dir: Path,
        *,
        model: str | None,
        embedder: Embedder | None = None,
        threads: int = 0,
        runtime: str = "auto",
        model_cache: Path | None = None,
        max_query_chars: int = 2000,
        threshold: float | None = None,
        cache_size: int = 2048,
        build_dir: Path | None = None,
        admission: Admission | None = None,
        platforms: Platforms | None = None,
        batcher: QueryBatcher | None = None,
    ) -> None:
        self.platforms = platforms or Platforms()
        self.index_dir = Path(index_dir)
        # Bounds the searches computed at once (kb_engine/search/admission.py); None: no bound (CLI, tests).
        self.admission = admission
        self.batcher = batcher  # micro-batching of the queries waiting for a slot (batching.py)
        self.model = model
        self.threads = threads
        self.runtime = runtime
        self.model_cache = Path(model_cache) if model_cache is not None else self.index_dir / "models"
        self.max_query_chars = max_query_chars
        self._threshold_override = threshold
        self._embedder = embedder
        self._embedder_error: str | None = None
        self._lock = threading.Lock()
        # LRUCache is not thread-safe: worker threads share it under the lock. (maxsize 0 would refuse every
        # insert; a cache_size of 0 turns caching off before it is reached.)
        self._cache: LRUCache[tuple[Any, ...], SearchResponse] = LRUCache(maxsize=max(1, cache_size))
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size
        # Called with every answer (cached or not): the web app counts searches and stage latencies with it.
        self.on_search: Callable[[SearchResponse], None] | None = None
        limit_blas(1)  # single-vector products: one BLAS thread is fastest and leaves the cores to others
        # build_dir: a build not published yet (the indexer fits its ranking before publishing it).
        self._load(build_dir if build_dir is not None else current_build(self.index_dir))

    # -- loading -----------------------------------------------------------------------------------------
    def _load(self, build_dir: Path) -> None:
        manifest = read_manifest(build_dir)
        check_manifest(manifest, model=self.model)
        self.build_dir = build_dir
        self.build_id = str(manifest["build_id"])
        self.manifest = manifest
        self.params = RankingParams.from_dict(ranking_source(manifest).get("params"))
        if self._threshold_override is not None:
            self.params.threshold = self._threshold_override
        self.articles = [
            Article.from_dict(a) for a in json.loads((build_dir / "articles.json").read_text("utf-8"))
        ]
        self.by_id = {a.id: i for i, a in enumerate(self.articles)}
        chunks = json.loads((build_dir / "chunks.json").read_text("utf-8"))
        self.chunk_rows = np.array([c["row"] for c in chunks], dtype=np.int64)
        self.chunk_kinds = np.array([KINDS.index(c["kind"]) for c in chunks], dtype=np.int64)
        self.chunk_passages = [c["passage"] for c in chunks]
        self.chunk_headings = [c.get("heading", "") for c in chunks]
        self.slugs = [a.slug for a in self.articles]
        self.langs = [a.lang for a in self.articles]
        self.scope_mask = np.array([a.audience == SCOPE_AUDIENCE for a in self.articles], dtype=bool)
        self.public_mask = np.array([a.is_public for a in self.articles], dtype=bool)
        self.all_mask = ~self.scope_mask
        self.languages = tuple(manifest.get("languages") or ("en", "fr"))
        self.glossary = Glossary(json.loads((build_dir / "glossary.json").read_text("utf-8")))
        self.lexical = LexicalIndex.load(build_dir / "lexical")
        # Detect among the languages the index really holds (an English-only KB has nothing to prefer).
        present = {a.lang for a in self.articles if a.audience != SCOPE_AUDIENCE}
        self.query_languages = tuple(code for code in self.languages if code in present) or self.languages
        self.vectors_ok = True
        try:
            self.index = vector_index.load(build_dir / "vectors.faiss")
            self._matrix = vector_index.flat_matrix(self.index)
        except (RuntimeError, OSError) as exc:
            log.error("vector index unreadable, serving lexical results only: %s", exc)
            self.vectors_ok = False
            self._matrix = None
        # Worked out once per build, so that a query does no per-article Python work.
        self.segments = chunk_segments(self.chunk_rows)
        self.sections = SectionPicker.of(self)
        self.groups = ArticleGroups(self.slugs, self.langs)
        self.scope_rows = np.flatnonzero(self.scope_mask)
        self._media: dict[bool, frozenset[str]] = {}  # see media()
        with self._cache_lock:
            self._cache.clear()

    def newer(self) -> Searcher | None:
        """A searcher for a newer published build, sharing this one's model; None when this one is current.

        Servers swap whole searchers rather than reloading one in place: a search already running during
        the switch finishes on the build it started with. Raises KBError if the new build cannot be used.
        """
        try:
            build_dir = current_build(self.index_dir)
        except KBError:
            return None
        if build_dir.name == self.build_id:
            return None
        newer = Searcher(
            self.index_dir,
            model=self.model,
            embedder=self._embedder,
            threads=self.threads,
            runtime=self.runtime,
            model_cache=self.model_cache,
            max_query_chars=self.max_query_chars,
            threshold=self._threshold_override,
            cache_size=self._cache_size,
            admission=self.admission,
            platforms=self.platforms,
            batcher=self.batcher,
        )
        newer.on_search = self.on_search
        return newer

    def reload_if_changed(self) -> bool:
        """Switch to a newer published build, if any; True when it switched. Never leaves a half state."""
        try:
            build_dir = current_build(self.index_dir)
        except KBError:
            return False
        if build_dir.name == self.build_id:
            return False
        with self._lock:
            if build_dir.name != self.build_id:
                self._load(build_dir)
                return True
        return False

    @property
    def embedder(self) -> Embedder | None:
        if self._embedder is None and self._embedder_error is None and self.model is not None:
            with self._lock:
                if self._embedder is None and self._embedder_error is None:
                    try:
                        self._embedder = load_embedder(
                            self.model, threads=self.threads, runtime=self.runtime, cache_dir=self.model_cache
                        )
                    except Exception as exc:  # noqa: BLE001 - any load failure means degraded, not down
                        self._embedder_error = str(exc)
                        log.error("embedding model unavailable, serving lexical results only: %s", exc)
        return self._embedder

    @property
    def degraded(self) -> bool:
        return not self.vectors_ok or self.embedder is None

    def health(self) -> dict[str, Any]:
        degraded = self.degraded  # loads the model if it has not been yet: the fields below then say how
        return {
            "build_id": self.build_id,
            "articles": len(self.articles),
            "chunks": int(self.chunk_rows.size),
            "model": self.manifest.get("model"),
            "vectors": self.vectors_ok,
            "model_loaded": self._embedder is not None,
            "model_runtime": runtime_of(self._embedder),
            "model_error": self._embedder_error,
            "degraded": degraded,
            # Article files that do not parse now (counts only: the paths are for the authors' pages);
            # `articles_kept` of them are still served as the last good build had them.
            "article_problems": len(self.manifest.get("problems") or ()),
            "articles_kept": len(self.manifest.get("kept") or ()),
            # This process's admission (running, waiting, refused) and micro-batching (model calls, queries).
            "admission": self.admission.state() if self.admission else None,
            "batching": self.batcher.state() if self.batcher else None,
        }

    # -- articles ------------------------------------------------------------------------------------------
    def article(self, article_id: str, *, include_internal: bool = False) -> Article:
        row = self.by_id.get(article_id)
        if row is None or self.scope_mask[row] or (not include_internal and not self.articles[row].is_public):
            raise NotFound(f"no article {article_id!r}")
        return self.articles[row]

    def media(self, *, include_internal: bool = False) -> frozenset[str]:
        """Articles-root paths of the images shown by the articles `article()` gives (public ones, or
        internal ones too); worked out on first use, once per build."""
        found = self._media.get(include_internal)
        if found is None:
            allowed = self.all_mask if include_internal else self.public_mask
            found = frozenset(
                path for row, art in enumerate(self.articles) if allowed[row] for path in article_media(art)
            )
            self._media[include_internal] = found
        return found

    def translations(self, article: Article, *, include_internal: bool = False) -> list[Article]:
        return [
            a
            for a in self.articles
            if a.slug == article.slug
            and a.id != article.id
            and (a.is_public or (include_internal and a.audience != SCOPE_AUDIENCE))
        ]

    # -- search --------------------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        k: int = 5,
        include_internal: bool = False,
        lang: str | None = None,
        use_cache: bool = True,
        clarify: bool = False,
        facet: str | None = None,
    ) -> SearchResponse:
        """Rank articles for a free-text problem description.

        Args:
            query: the customer's words (cleaned here; InvalidQuery if over the length limit).
            k: how many articles to return.
            include_internal: also rank internal (agent-only) articles.
            lang: the query's language if known (interface language); detected otherwise.
            use_cache: answer repeated identical queries from the in-process cache (of `cache_size`
                answers; 0 turns it off).
            clarify, facet: say which question to ask when the answer depends on a facet; a value chosen.
        """
        facet = facet if facet in self.platforms.words else None
        text = clean_query(query, self.max_query_chars)
        k = max(1, min(int(k), 50))
        key = (text.lower(), k, include_internal, lang, clarify, facet, self.build_id)
        use_cache = use_cache and self._cache_size > 0
        if use_cache:
            t0 = time.perf_counter()
            with self._cache_lock:
                cached = self._cache.get(key)  # marks it recently used
            if cached is not None:
                # A copy: the cached answer keeps its own query text and timings.
                response = dataclasses.replace(
                    cached, query=query, timings={"cache_ms": (time.perf_counter() - t0) * 1000}
                )
                if self.on_search is not None:
                    self.on_search(response)
                return response
        run = functools.partial(self._search, text, k=k, include_internal=include_internal, lang=lang)
        # Under admission (Overloaded, 503, when no slot frees up in time) and micro-batched, if set.
        response = admitted(self, functools.partial(run, clarify=clarify, facet=facet), text, lang)
        response.query = query
        if use_cache and key[-1] == self.build_id:  # not an answer from a build switched away meanwhile
            with self._cache_lock:
                self._cache[key] = response  # evicts the least recently used past cache_size
        if self.on_search is not None:
            self.on_search(response)
        return response

    def query_text(self, text: str, lang_hint: str | None = None) -> tuple[str, dict[str, list[str]], str]:
        """The query's language, its glossary expansions per language, and the text the model embeds."""
        expansions = self.glossary.expand(text)
        if lang_hint is not None and lang_hint in self.languages:
            lang: str = lang_hint
        else:
            lang, _ = detect_language(text, self.query_languages, coverage=self.lexical.language_evidence)
        extra = expansions.get(lang, [])
        return lang, expansions, f"{text} ({', '.join(extra)})" if extra else text

    def signals(self, text: str, lang_hint: str | None = None, encode: Any = None) -> dict[str, Any]:
        """The raw per-article signals of a query (for evaluation, calibration and baselines); `encode`
        replaces the embedder's `encode_queries` (a micro-batch's vector, `batching.admitted`)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        lang, expansions, qtext = self.query_text(text, lang_hint)
        timings["language_ms"] = (time.perf_counter() - t0) * 1000

        chunk_scores = None
        embedder = self.embedder if self.vectors_ok and text else None
        if embedder is not None:
            t0 = time.perf_counter()
            qvec = (encode or embedder.encode_queries)([qtext])
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            chunk_scores = self._chunk_scores(qvec)
            timings["vector_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        bm25 = self.lexical.scores(text, extra=expansions)
        timings["lexical_ms"] = (time.perf_counter() - t0) * 1000
        return {
            "lang": lang,
            "chunk_scores": chunk_scores,
            "bm25": bm25,
            "coverage": self.lexical.coverage(text, lang),
            "text": text,
            "degraded": chunk_scores is None,
            "timings": timings,
        }

    def dense_scores(self, signals: dict[str, Any], params: RankingParams) -> tuple[np.ndarray, np.ndarray]:
        """Per-article max-sim dense score (with the field offsets of params) and its best chunk."""
        n = len(self.articles)
        if signals["chunk_scores"] is None:
            return np.zeros(n, dtype=np.float32), np.full(n, -1, dtype=np.int64)
        return article_dense_scores(
            signals["chunk_scores"], self.chunk_rows, self.chunk_kinds, n, params, self.segments
        )

    def _chunk_scores(self, qvec: np.ndarray) -> np.ndarray:
        if self._matrix is not None:
            return (self._matrix @ qvec[0]).astype(np.float32)
        scores, ids = vector_index.search(self.index, qvec, vector_index.HNSW_CANDIDATES)
        out = np.full(self.chunk_rows.size, float(scores[0][-1]) - 0.01, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = scores[0][valid]
        return out

    def rank(
        self,
        signals: dict[str, Any],
        *,
        include_internal: bool,
        params: RankingParams | None = None,
        limit: int | None = None,
    ) -> Ranked:
        """Groups (best first; the first `limit`, at least 2, if given), the confidence and what it is
        based on, from a query's signals."""
        params = params or self.params
        dense, best_chunk = self.dense_scores(signals, params)
        lex_z = lexical_z(signals["bm25"], params)
        if signals["degraded"]:
            # Lexical only: saturated BM25 stands in for the dense scale.
            fused = np.asarray(saturate(signals["bm25"], params.bm25_k), dtype=np.float32)
        else:
            fused = fused_scores(dense, lex_z, signals["lang"], params)
        allowed = self.all_mask if include_internal else self.public_mask
        limit = None if limit is None else max(2, limit)  # the confidence looks at the first two
        groups = self.groups.rank(fused, allowed, signals["lang"], params, limit)
        ranked = Ranked(groups, 0.0, best_chunk)
        if not groups:
            return ranked
        if self.scope_rows.size:
            scope_rows = self.scope_rows
            best = int(scope_rows[np.argmax(fused[scope_rows])])
            ranked.negative = float(fused[best]) - groups[0].score
            ranked.scope_row = best
        if signals["degraded"]:
            top = groups[0].score if signals["bm25"].max(initial=0.0) > 0 else 0.0
            ranked.confidence = float(top * signals["coverage"]) if ranked.negative <= 0 else 0.0
            return ranked
        dense_top = self.groups.rank(dense, allowed, signals["lang"], params, 2)
        lexical_top = self.groups.rank(lex_z, allowed, signals["lang"], params, 1)
        ranked.features = confidence_features(
            groups,
            dense,
            lex_z,
            signals["coverage"],
            ranked.negative,
            dense_top=dense_top,
            lexical_top=lexical_top,
            matched=self.lexical.matched(
                signals.get("text", ""), self.langs[groups[0].best_row], groups[0].best_row
            ),
        )
        ranked.confidence = confidence(ranked.features, params)
        return ranked

    def answers(
        self, ranked: Ranked, params: RankingParams | None = None, *, category: str | None = None
    ) -> bool:
        """The one rule of a confident answer, for searches and `kb eval` alike: the confidence reaches
        the threshold (the first article's category's own, when set), the query is not closer to a request
        the desk does not handle than to any article, and the first article is not below the dense floor
        (a shared rare word alone is not an answer)."""
        params = params or self.params
        if not ranked.groups:
            return False
        threshold = params.category_thresholds.get(category or "", params.threshold)
        return ranked.confidence >= threshold and ranked.negative <= 0 and self.near(ranked, params)

    def near(self, ranked: Ranked, params: RankingParams | None = None) -> bool:
        """Not below the dense floor (always, on a degraded lexical-only search)."""
        return ranked.features.get("dense", 1.0) >= (params or self.params).dense_floor

    def _search(
        self, text: str, *, k: int, include_internal: bool, lang: str | None, clarify: bool,
        facet: str | None, encode: Any = None,
    ) -> SearchResponse:  # fmt: skip
        if not text:
            return SearchResponse(query=text, answered=False, confidence=0.0, lang=lang or self.languages[0])
        signals = self.signals(text, lang, encode)
        t0 = time.perf_counter()
        ranked = self.rank(signals, include_internal=include_internal, limit=k)
        query = self.sections.query(text, signals["lang"], self.glossary, facet)
        groups = self.sections.facet_first(ranked.groups[:k], facet)
        hits = [self._hit(g, ranked.best_chunk, signals["chunk_scores"], query) for g in groups]
        answered = bool(hits) and self.answers(ranked, category=hits[0].category)
        outcome = outcome_of(answered, bool(hits), ranked, self.params.suggest_threshold)
        redirect = None
        if not answered and ranked.scope_row is not None and ranked.negative > 0:
            family = self.articles[ranked.scope_row]
            redirect = {
                "family": family.slug.removeprefix(SCOPE_PREFIX),
                "title": family.title,
                "message": family.body,
            }
        signals["timings"]["fusion_ms"] = (time.perf_counter() - t0) * 1000
        return SearchResponse(
            query=text,
            answered=answered,
            confidence=ranked.confidence,
            hits=hits,
            lang=signals["lang"],
            degraded=signals["degraded"],
            timings=signals["timings"],
            redirect=redirect,
            outcome=outcome,
            # Not for a miss; on "might help" only when the hits split by platform (that is why the
            # engine is unsure: articles that differ only by the platform score alike).
            clarify=self.sections.clarify(groups, signals["chunk_scores"], query, answered=answered)
            if clarify and outcome in ("answered", "suggest")
            else None,
            facet=facet,
        )

    def _hit(self, group: Any, best_chunk: np.ndarray, scores: Any = None, query: Any = None) -> Hit:
        article = self.articles[group.row]
        chunk = int(best_chunk[group.row])
        if chunk >= 0 and self.chunk_rows[chunk] == group.row:
            passage, matched = self.chunk_passages[chunk], KINDS[self.chunk_kinds[chunk]]
        else:
            passage, matched = "", "lexical"
        section, answer_chunk = self.sections.section_of(article, group.row, scores, query)
        if answer_chunk is not None and chunk >= 0 and not is_answer_heading(self.chunk_headings[chunk]):
            passage = self.chunk_passages[answer_chunk]
        if not passage:
            first = self.sections.chunks_of(group.row)
            passage = self.chunk_passages[int(first[0])] if first.size else ""
        passage = _LIST_MARKER.sub("", passage).strip()
        snippet = (
            passage if len(passage) <= SNIPPET_CHARS else passage[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
        )
        return Hit(
            id=article.id,
            title=article.title,
            lang=article.lang,
            score=float(group.score),
            url=article.url,
            snippet=snippet,
            category=article.category,
            audience=article.audience,
            other_language=group.other_language,
            matched=matched,
            section=section,
        )
