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

from kb_engine.chunking import KINDS
from kb_engine.fusion import fuse, logistic, zscore

FEATURES = ("top", "margin", "dense", "lexical_z", "coverage", "negative")


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
    # Weight of the standardised BM25 score, per query language ("default": any other language).
    w_lex: dict[str, float] = field(default_factory=lambda: {"en": 0.03, "default": 0.09})
    z_cap: float = 15.0
    bm25_k: float = 8.0  # saturation constant, for lexical-only (degraded) scores
    other_lang_penalty: float = 0.02  # an article only available in the other language ranks a little lower
    confidence: dict[str, float] = field(default_factory=_default_confidence)
    threshold: float = 0.592  # rejects 95% of the dev set's out-of-scope queries
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


def fused_scores(dense: np.ndarray, lexical_z: np.ndarray, lang: str, params: RankingParams) -> np.ndarray:
    return fuse(dense, lexical_z, w_lex=params.lexical_weight(lang))


@dataclass(frozen=True)
class Group:
    """One article across its translations, as ranked for one query."""

    slug: str
    row: int  # the article row shown (query language if available)
    score: float
    other_language: bool
    best_row: int  # the translation that scored best


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
    best_row: dict[str, int] = {}
    shown: dict[str, int] = {}
    for row in np.flatnonzero(allowed).tolist():
        slug = slugs[row]
        if slug not in best_row or scores[row] > scores[best_row[slug]]:
            best_row[slug] = row
        current = shown.get(slug)
        if current is None or (langs[row] == query_lang and langs[current] != query_lang):
            shown[slug] = row
    groups = []
    for slug, row in best_row.items():
        other = langs[shown[slug]] != query_lang
        score = float(scores[row]) - (params.other_lang_penalty if other else 0.0)
        groups.append(Group(slug, shown[slug], score, other, row))
    groups.sort(key=lambda g: (-g.score, g.slug))
    return groups


def confidence_features(
    groups: Sequence[Group], dense: np.ndarray, lexical_z: np.ndarray, coverage: float, negative: float
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
    }


def confidence(features: dict[str, float], params: RankingParams) -> float:
    """Probability-like confidence that the top group answers the query."""
    coef = params.confidence
    return logistic(
        coef.get("intercept", 0.0) + sum(coef.get(name, 0.0) * features[name] for name in FEATURES)
    )


def lexical_z(bm25: np.ndarray, params: RankingParams) -> np.ndarray:
    return zscore(bm25, params.z_cap)
