"""Calibrate `answered`/`confidence` on data: eval queries plus customers' logged feedback.

The confidence model is a logistic regression over the ranking's query-level features
(`kb_engine.search.ranking.FEATURES`), fitted with in-scope queries as positives and out-of-scope ones as
negatives. The threshold is the lowest that keeps at least `target_rejection` of out-of-scope queries
unanswered, i.e. the one that answers the most in-scope queries at that level. Per-category thresholds
are fitted only where a category has enough queries of both kinds to support its own.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kb_engine.search.evaluation import EvalQuery, SignalCache, engine_outcomes, metrics
from kb_engine.search.index_files import MANIFEST, read_manifest, write_json
from kb_engine.search.ranking import FEATURES, RankingParams
from kb_engine.search.searcher import Searcher

MIN_PER_CATEGORY = (40, 15)  # in-scope and out-of-scope queries a category needs for its own threshold


@dataclass
class CurvePoint:
    threshold: float
    answered: float  # share of in-scope queries answered (recall)
    rejected: float  # share of out-of-scope queries not answered
    precision: float  # share of answered queries that are in scope with the right first article


@dataclass
class Calibration:
    params: RankingParams
    curve: list[CurvePoint] = field(default_factory=list)
    n_in: int = 0
    n_out: int = 0
    fitted: bool = False
    note: str = ""

    def to_manifest(self, source: str) -> dict[str, Any]:
        return {
            "format": 2,  # read by the searcher (older calibrations were for other confidence features)
            "params": self.params.to_dict(),
            "fitted_on": {"source": source, "in_scope": self.n_in, "out_of_scope": self.n_out},
            "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "curve": [p.__dict__ for p in self.curve],
        }


def _features(cache: SignalCache, params: RankingParams) -> tuple[np.ndarray, list[Any]]:
    rows, ranks = [], []
    for sig in cache.signals:
        ranked = cache.searcher.rank(sig, include_internal=False, params=params)
        rows.append([ranked.features.get(name, 0.0) for name in FEATURES])
        ranks.append(ranked)
    return np.array(rows, dtype=np.float64), ranks


def _choose_threshold(conf: np.ndarray, positive: np.ndarray, target_rejection: float) -> float:
    negatives = np.sort(conf[~positive])
    if negatives.size == 0:
        return 0.5
    # Smallest threshold t with share(neg < t) >= target: just above the k-th highest negative.
    keep = int(np.ceil(target_rejection * negatives.size))
    if keep <= 0:
        return float(negatives[0])
    return float(np.nextafter(negatives[keep - 1], 1.0))


def curve(conf: np.ndarray, positive: np.ndarray, correct: np.ndarray) -> list[CurvePoint]:
    points = []
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        answered = conf >= t
        n_ans = int(answered.sum())
        points.append(
            CurvePoint(
                threshold=float(t),
                answered=float(answered[positive].mean()) if positive.any() else 0.0,
                rejected=float((~answered[~positive]).mean()) if (~positive).any() else 1.0,
                precision=float((answered & positive & correct).sum() / n_ans) if n_ans else 1.0,
            )
        )
    return points


def calibrate(
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    *,
    target_rejection: float = 0.95,
    per_category: bool = True,
    cache: SignalCache | None = None,
) -> Calibration:
    """Fit the confidence model and thresholds for this index on labelled queries.

    Args:
        searcher: the index to calibrate.
        queries: labelled queries (expected slug, or "" for out of scope).
        target_rejection: share of out-of-scope queries that must stay unanswered.
        per_category: fit a category's own threshold where its data supports it.
        cache: precomputed signals for these queries.
    """
    from sklearn.linear_model import LogisticRegression

    cache = cache or SignalCache(searcher, queries)
    params = copy.deepcopy(searcher.params)
    result = Calibration(params)
    positive = np.array([bool(q.expected) for q in cache.queries])
    result.n_in, result.n_out = int(positive.sum()), int((~positive).sum())
    x, ranks = _features(cache, params)
    if result.n_in < 10 or result.n_out < 10 or any(s["degraded"] for s in cache.signals):
        result.note = "not enough in-scope and out-of-scope queries (10 of each) or no model: kept as it was"
    else:
        model = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced").fit(x, positive)
        params.confidence = {name: float(c) for name, c in zip(FEATURES, model.coef_[0], strict=True)}
        params.confidence["intercept"] = float(model.intercept_[0])
        result.fitted = True
    conf = _confidences(cache, params)
    if result.fitted:
        params.threshold = _choose_threshold(conf, positive, target_rejection)
    correct = np.array(
        [
            bool(q.expected) and bool(r.groups) and r.groups[0].slug == q.expected
            for q, r in zip(cache.queries, ranks, strict=True)
        ]
    )
    result.curve = curve(conf, positive, correct)
    params.category_thresholds = {}
    if result.fitted and per_category:
        categories = np.array(
            [searcher.articles[r.groups[0].row].category if r.groups else None for r in ranks], dtype=object
        )
        for category in sorted({c for c in categories if c}):
            mask = categories == category
            if (positive & mask).sum() >= MIN_PER_CATEGORY[0] and (
                ~positive & mask
            ).sum() >= MIN_PER_CATEGORY[1]:
                own = _choose_threshold(conf[mask], positive[mask], target_rejection)
                if abs(own - params.threshold) > 0.1:
                    params.category_thresholds[category] = own
    return result


def _confidences(cache: SignalCache, params: RankingParams) -> np.ndarray:
    return np.array(
        [cache.searcher.rank(sig, include_internal=False, params=params).confidence for sig in cache.signals]
    )


def summary(cache: SignalCache, params: RankingParams) -> dict[str, float]:
    m = metrics(engine_outcomes(cache, params))
    return {"answered": m.answered, "rejected": m.rejected, "hit1": m.hit1, "mrr": m.mrr}


def save(searcher: Searcher, calibration: Calibration, source: str) -> None:
    """Write the calibration into the current build's manifest (atomic file replace)."""
    manifest = read_manifest(searcher.build_dir)
    manifest["calibration"] = calibration.to_manifest(source)
    write_json(searcher.build_dir / MANIFEST, manifest)
