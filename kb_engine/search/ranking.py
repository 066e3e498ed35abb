"""Ranking parameters and the pure steps from chunk scores to ranked, language-aware article groups.

An article's dense score is its best field (title, a question, a section window), each field kind with
its own learned offset (max-sim). Lexical evidence (BM25, z-scored per query) is added with a weight that
depends on the query's language: the bundled model is English-trained, so French queries lean more on the
French analyser. Translations of one article (same slug) form one group, scored by its best translation
and shown in the query's language when that translation exists: a French query never loses to the English
copy of the article it wants.

Confidence that the top group answers the query is a logistic model over a few query-level features
(top score, margin to the second group, top dense similarity, top lexical z-score, share of the query's
words the knowledge base knows, and how much closer the query is to a known out-of-scope request than
to the best article). `kb calibrate` fits it and the threshold on evaluation data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from kb_engine.content.chunking import KINDS
from kb_engine.search.fusion import fuse, logistic, zscore

FEATURES = (
    "top",
    "margin",
    "dense",
    "lexical_z",
    "coverage",
    "negative",
    "dense_margin",  # the dense ranking's own margin between its first two articles
    "agree_dense",  # 1 when the dense ranking alone puts the same article first
    "agree_lexical",  # 1 when the lexical ranking alone puts the same article first
    "matched",  # share of the query's words the first article contains (LexicalIndex.matched)
)


def _default_confidence() -> dict[str, float]:
    # Fitted by `kb calibrate eval/queries.tsv` on the shipped knowledge base (480 in-scope, 105 out-of-scope
    # queries); checked on eval/holdout.tsv, which was never used for fitting.
    return {
        "top": -1.121,
        "margin": 1.153,
        "dense": 8.971,
        "lexical_z": 0.693,
        "coverage": 2.733,
        "negative": 12.381,
        "intercept": -8.854,
    }


@dataclass
class RankingParams:
    """Weights of the ranking and of the confidence, chosen on evaluation data, saved in the manifest."""

    field_bias: dict[str, float] = field(
        default_factory=lambda: {"title": 0.0, "question": -0.02, "section": -0.02}
    )
    # Dense evidence from several fields: score = (1 - field_mix) * best field
    #   + field_mix * (title_share * best title/question + (1 - title_share) * best section).
    # An FAQ entry whose question and answer both match beats one that only matches on one field.
    field_mix: float = 0.0
    title_share: float = 0.7
    dense_weight: float = 1.0  # 0 with w_lex {"default": 1}: lexical only (a fit may find it best)
    # Weight of the standardised BM25 score, per query language ("default": any other language).
    w_lex: dict[str, float] = field(default_factory=lambda: {"en": 0.03, "default": 0.09})
    z_cap: float = 15.0
    bm25_k: float = 8.0  # saturation constant, for lexical-only (degraded) scores
    other_lang_penalty: float = 0.02  # an article only available in the other language ranks a little lower
    confidence: dict[str, float] = field(default_factory=_default_confidence)
    threshold: float = 0.592  # rejects 95% of the dev set's out-of-scope queries
    # Below `threshold` but at least this: "this might help" (suggestions, ticket offered at once); below
    # it, or closer to a known out-of-scope request than to any article: out of scope.
    suggest_threshold: float = 0.2
    # Never a confident answer below this dense similarity of the first article: the fit sets it to what
    # nearly every right answer to the knowledge base's own questions reaches (-1: no floor).
    dense_floor: float = -1.0
    category_thresholds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RankingParams:
        params = cls()
        names = {f.name for f in fields(cls)}
        for key, value in (data or {}).items():
            if key in names:
                setattr(params, key, value)
        return params

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lexical_weight(self, lang: str) -> float:
        return self.w_lex.get(lang, self.w_lex.get("default", 0.0))


def _field_bias(params: RankingParams) -> np.ndarray:
    return np.array([params.field_bias.get(kind, 0.0) for kind in KINDS], dtype=np.float32)


def chunk_segments(chunk_rows: np.ndarray) -> np.ndarray | None:
    """Start of each article's run of chunks, when the chunk table is in article order (as the indexer
    writes it); None otherwise. Lets `article_dense_scores` take a grouped max instead of a sort."""
    if chunk_rows.size == 0 or (chunk_rows.size > 1 and bool(np.any(chunk_rows[1:] < chunk_rows[:-1]))):
        return None
    return np.flatnonzero(np.concatenate(([True], chunk_rows[1:] != chunk_rows[:-1])))


def article_dense_scores(
    chunk_scores: np.ndarray,
    chunk_rows: np.ndarray,
    chunk_kinds: np.ndarray,
    n_articles: int,
    params: RankingParams,
    segments: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per article: best (chunk score + field bias), and the index of that best chunk (-1 if none scored).

    Ties between an article's chunks go to the last one. `segments` (from `chunk_segments`) makes this a
    grouped max, linear in the number of chunks; without it the chunks are sorted.
    """
    adjusted = chunk_scores + _field_bias(params)[chunk_kinds]
    best, best_chunk = _best_field(adjusted, chunk_rows, n_articles, segments)
    if params.field_mix > 0 and adjusted.size:
        section = chunk_kinds == KINDS.index("section")
        heads, _ = _best_field(np.where(section, -np.inf, adjusted), chunk_rows, n_articles, segments)
        bodies, _ = _best_field(np.where(section, adjusted, -np.inf), chunk_rows, n_articles, segments)
        both = params.title_share * heads + (1 - params.title_share) * bodies
        mixed = np.where(heads <= -1.0, bodies, np.where(bodies <= -1.0, heads, both))
        best = np.where(best_chunk >= 0, (1 - params.field_mix) * best + params.field_mix * mixed, best)
    return best.astype(np.float32), best_chunk


def _best_field(
    adjusted: np.ndarray, chunk_rows: np.ndarray, n_articles: int, segments: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Best adjusted chunk score per article (-1 when none, -inf chunks never count) and its chunk."""
    best = np.full(n_articles, -1.0, dtype=np.float32)
    best_chunk = np.full(n_articles, -1, dtype=np.int64)
    if segments is not None and adjusted.size:
        top = np.maximum.reduceat(adjusted, segments)
        best[chunk_rows[segments]] = np.where(np.isneginf(top), -1.0, top)
        sizes = np.diff(np.append(segments, adjusted.size))
        reached = np.flatnonzero((adjusted == np.repeat(top, sizes)) & ~np.isneginf(adjusted))
        best_chunk[chunk_rows[reached]] = reached  # ascending: the last chunk reaching the max wins
        return best, best_chunk
    order = np.argsort(adjusted, kind="stable")  # ascending, so the last write per article is its best
    order = order[~np.isneginf(adjusted[order])]
    best[chunk_rows[order]] = adjusted[order]
    best_chunk[chunk_rows[order]] = order
    return best, best_chunk


def fused_scores(dense: np.ndarray, lexical_z: np.ndarray, lang: str, params: RankingParams) -> np.ndarray:
    if params.dense_weight != 1.0:
        dense = params.dense_weight * dense
    return fuse(dense, lexical_z, w_lex=params.lexical_weight(lang))


@dataclass(frozen=True)
class Group:
    """One article across its translations, as ranked for one query."""

    slug: str
    row: int  # the article row shown (query language if available)
    score: float
    other_language: bool
    best_row: int  # the translation that scored best


class ArticleGroups:
    """The translation groups of an index's articles, worked out once so that ranking a query is a few
    array operations (a customer-facing search ranks every article of the knowledge base)."""

    def __init__(self, slugs: Sequence[str], langs: Sequence[str]) -> None:
        names = sorted(set(slugs))
        number = {slug: i for i, slug in enumerate(names)}
        self.names = names
        self.slug_ids = np.array([number[s] for s in slugs], dtype=np.int64)  # in slug order
        self.langs = np.array(list(langs), dtype=object)
        self._shown: dict[tuple[bytes, str], tuple[np.ndarray, np.ndarray]] = {}

    def _shown_rows(self, allowed: np.ndarray, query_lang: str) -> tuple[np.ndarray, np.ndarray]:
        """Row shown per slug id (-1: no allowed row): its first allowed translation in the query's
        language, else its first allowed row; and whether that row is in another language."""
        key = (np.packbits(allowed).tobytes(), query_lang)
        cached = self._shown.get(key)
        if cached is None:
            rows = np.flatnonzero(allowed)
            shown = np.full(len(self.names), -1, dtype=np.int64)
            in_lang = rows[self.langs[rows] == query_lang]
            # Reversed assignment: the first row of each slug is written last and wins.
            shown[self.slug_ids[rows[::-1]]] = rows[::-1]
            shown[self.slug_ids[in_lang[::-1]]] = in_lang[::-1]
            other = np.zeros(len(self.names), dtype=bool)
            present = shown >= 0
            other[present] = self.langs[shown[present]] != query_lang
            cached = (shown, other)
            if len(self._shown) < 16:  # a few (audience, language) pairs in practice
                self._shown[key] = cached
        return cached

    def rank(
        self,
        scores: np.ndarray,
        allowed: np.ndarray,
        query_lang: str,
        params: RankingParams,
        limit: int | None = None,
    ) -> list[Group]:
        """Groups best first (see `group_translations`); only the first `limit` when given."""
        rows = np.flatnonzero(allowed)
        if rows.size == 0:
            return []
        ids = self.slug_ids[rows]
        # Best translation per slug: highest score, the first row among equal scores.
        order = np.lexsort((rows, -scores[rows], ids))
        first = np.concatenate(([True], ids[order][1:] != ids[order][:-1]))
        best = rows[order[first]]
        best_ids = self.slug_ids[best]
        shown, other = self._shown_rows(allowed, query_lang)
        other_best = other[best_ids]
        group_scores = scores[best].astype(np.float64) - np.where(other_best, params.other_lang_penalty, 0.0)
        ranking = np.lexsort((best_ids, -group_scores))
        if limit is not None:
            ranking = ranking[:limit]
        return [
            Group(self.names[i], int(shown[i]), float(group_scores[j]), bool(other_best[j]), int(best[j]))
            for j, i in zip(ranking.tolist(), best_ids[ranking].tolist(), strict=True)
        ]


def group_translations(
    scores: np.ndarray,
    slugs: Sequence[str],
    langs: Sequence[str],
    allowed: np.ndarray,
    query_lang: str,
    params: RankingParams,
) -> list[Group]:
    """Collapse translations into groups, best first.

    A group scores as its best allowed translation (the first row among equal scores), less
    `other_lang_penalty` when the row shown is not in the query's language; it shows its first allowed
    translation in the query's language, else its first allowed row. Equal scores rank by slug.

    Args:
        scores: fused score per article row.
        slugs, langs: per article row.
        allowed: boolean mask of rows this caller may see (audience).
        query_lang: detected language of the query.
        params: ranking parameters.
    """
    return ArticleGroups(slugs, langs).rank(
        np.asarray(scores), np.asarray(allowed, dtype=bool), query_lang, params
    )


def confidence_features(
    groups: Sequence[Group],
    dense: np.ndarray,
    lexical_z: np.ndarray,
    coverage: float,
    negative: float,
    *,
    dense_top: Sequence[Group] = (),
    lexical_top: Sequence[Group] = (),
    matched: float = 0.0,
) -> dict[str, float]:
    """Query-level features of the ranking, the inputs of the confidence model.

    `negative` is the best similarity to a known out-of-scope request minus the top article's dense score
    (positive: the query looks more like something the desk does not handle).
    """
    top = groups[0]
    second = groups[1].score if len(groups) > 1 else top.score - 0.5
    return {
        "top": top.score,
        "margin": top.score - second,
        "dense": float(dense[top.best_row]),
        "lexical_z": float(lexical_z[top.best_row]),
        "coverage": coverage,
        "negative": -max(0.0, negative),
        "dense_margin": dense_top[0].score - dense_top[1].score if len(dense_top) > 1 else 0.5,
        "agree_dense": float(bool(dense_top) and dense_top[0].slug == top.slug),
        "agree_lexical": float(bool(lexical_top) and lexical_top[0].slug == top.slug),
        "matched": matched,
    }


def confidence(features: dict[str, float], params: RankingParams) -> float:
    """Probability-like confidence that the top group answers the query."""
    coef = params.confidence
    return logistic(
        coef.get("intercept", 0.0) + sum(coef.get(name, 0.0) * features.get(name, 0.0) for name in FEATURES)
    )


def lexical_z(bm25: np.ndarray, params: RankingParams) -> np.ndarray:
    return zscore(bm25, params.z_cap)
