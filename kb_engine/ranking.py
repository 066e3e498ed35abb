"""Ranking parameters and the pure steps from chunk scores to ranked, language-aware article groups.

An article's dense score is its best field (title, a question, a section window), each field kind with
its own learned offset (max-sim). Translations of one article (same slug) form one group: the group is
scored by its best translation and shown in the query's language when that translation exists, so a French
query never loses to the English copy of the article it wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from kb_engine.chunking import KINDS
from kb_engine.fusion import fuse, logistic, max_normalise, saturate


@dataclass
class RankingParams:
    """Weights of the ranking, chosen on evaluation data by `kb calibrate` and saved in the manifest."""

    field_bias: dict[str, float] = field(
        default_factory=lambda: {"title": 0.0, "question": 0.0, "section": -0.05}
    )
    w_rel: float = 0.15  # weight of BM25 relative to the query's best lexical match
    w_abs: float = 0.10  # weight of saturated absolute BM25
    bm25_k: float = 8.0  # saturation constant for absolute BM25
    other_lang_penalty: float = 0.02  # an article only available in the other language ranks a little lower
    # Confidence = logistic(a * top_score + b * margin + c * coverage + d); answered when >= threshold.
    conf_a: float = 12.0
    conf_b: float = 4.0
    conf_c: float = 1.0
    conf_d: float = -7.5
    threshold: float = 0.5
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


def article_dense_scores(
    chunk_scores: np.ndarray,
    chunk_rows: np.ndarray,
    chunk_kinds: np.ndarray,
    n_articles: int,
    params: RankingParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Per article: best (chunk score + field bias), and the index of that best chunk (-1 if none scored)."""
    bias = np.array([params.field_bias.get(kind, 0.0) for kind in KINDS], dtype=np.float32)
    adjusted = chunk_scores + bias[chunk_kinds]
    best = np.full(n_articles, -1.0, dtype=np.float32)
    best_chunk = np.full(n_articles, -1, dtype=np.int64)
    order = np.argsort(adjusted, kind="stable")  # ascending, so the last write per article is its best
    best[chunk_rows[order]] = adjusted[order]
    best_chunk[chunk_rows[order]] = order
    return best, best_chunk


def fused_scores(dense: np.ndarray, bm25: np.ndarray, params: RankingParams) -> np.ndarray:
    return fuse(
        dense,
        max_normalise(bm25),
        np.asarray(saturate(bm25, params.bm25_k), dtype=np.float32),
        w_rel=params.w_rel,
        w_abs=params.w_abs,
    )


@dataclass(frozen=True)
class Group:
    """One article across its translations, as ranked for one query."""

    slug: str
    row: int  # the article row shown (query language if available)
    score: float
    other_language: bool


def group_translations(
    scores: np.ndarray,
    slugs: Sequence[str],
    langs: Sequence[str],
    allowed: np.ndarray,
    query_lang: str,
    params: RankingParams,
) -> list[Group]:
    """Collapse translations into groups, best first.

    Args:
        scores: fused score per article row.
        slugs, langs: per article row.
        allowed: boolean mask of rows this caller may see (audience).
        query_lang: detected language of the query.
        params: ranking parameters.
    """
    best: dict[str, float] = {}
    shown: dict[str, int] = {}
    for row in np.flatnonzero(allowed).tolist():
        slug = slugs[row]
        score = float(scores[row])
        if score > best.get(slug, -np.inf):
            best[slug] = score
        current = shown.get(slug)
        if current is None or (langs[row] == query_lang and langs[current] != query_lang):
            shown[slug] = int(row)
    groups = []
    for slug, score in best.items():
        row = shown[slug]
        other = langs[row] != query_lang
        groups.append(Group(slug, row, score - (params.other_lang_penalty if other else 0.0), other))
    groups.sort(key=lambda g: (-g.score, g.slug))
    return groups


def confidence(top: float, second: float, coverage: float, params: RankingParams) -> float:
    """Probability-like confidence that the top group answers the query."""
    margin = max(0.0, top - second)
    return logistic(params.conf_a * top + params.conf_b * margin + params.conf_c * coverage + params.conf_d)
