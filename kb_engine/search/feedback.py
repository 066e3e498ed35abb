"""Learn a knowledge base's confidence from use: `kb calibrate --from-feedback`.

Customers say "solved" or "this did not help" about the articles a search showed them; agents resolve
tickets with an article. Each is a label on a query: this article answers it, or this one does not. A
search answered with an article the customer said did not help is exactly a *misled* search. The
confidence model of the index (fitted at index time from pseudo-queries, see `fitting`) is refitted on
these labels, and the new model is adopted only when, on feedback held out from its fit, it serves at
least as many searches as the current one without misleading more (the target misled rate, or the
current model's rate if that is lower). Every run is logged in the manifest, adopted or not.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kb_engine.search.index_files import MANIFEST, read_manifest, write_json
from kb_engine.search.ranking import FEATURES, RankingParams, confidence
from kb_engine.search.searcher import Searcher, clean_query

HELD_OUT = 0.3  # share of the labels (by a hash of the query) kept out of the fit to judge it
MIN_LABELS = 20  # labelled searches of each kind (right first article, wrong first article) to refit


@dataclass(frozen=True)
class Label:
    """One piece of feedback: `slug` answers `query` (right=True) or does not (right=False)."""

    lang: str
    query: str
    slug: str
    right: bool
    source: str = "solved"  # solved, not_helpful, resolved (an agent's resolution article)


@dataclass
class Refit:
    adopted: bool
    params: RankingParams
    before: dict[str, float] = field(default_factory=dict)  # on the held-out labels, the current model
    after: dict[str, float] = field(default_factory=dict)  # the same labels, the refitted model
    n_train: int = 0
    n_held_out: int = 0
    note: str = ""

    def to_log(self) -> dict[str, Any]:
        return {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "adopted": self.adopted,
            "train": self.n_train,
            "held_out": self.n_held_out,
            "before": self.before,
            "after": self.after,
            "threshold": self.params.threshold,
            "note": self.note,
        }


def _held_out(query: str) -> bool:
    digest = hashlib.sha256(" ".join(query.lower().split()).encode()).digest()
    return digest[0] < 256 * HELD_OUT


def _examples(searcher: Searcher, labels: Sequence[Label]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label that says something about the first article shown: features, whether that first article
    is right, and whether the label is held out."""
    x, y, held = [], [], []
    for label in labels:
        text = clean_query(label.query, searcher.max_query_chars)
        if not text:
            continue
        ranked = searcher.rank(searcher.signals(text), include_internal=False)
        if not ranked.groups or not ranked.features:
            continue
        first = ranked.groups[0].slug
        if label.right:
            right = first == label.slug
        elif first == label.slug:
            right = False  # the first article is the one that did not help
        else:
            continue  # another article did not help: says nothing about this one
        x.append([ranked.features.get(name, 0.0) for name in FEATURES])
        y.append(right)
        held.append(_held_out(label.query))
    return np.array(x, dtype=np.float64), np.array(y, dtype=bool), np.array(held, dtype=bool)


def _rates(conf: np.ndarray, right: np.ndarray, threshold: float) -> dict[str, float]:
    answered = conf >= threshold
    n = max(1, conf.size)
    return {
        "served": round(float(np.sum(answered & right)) / n, 4),
        "misled": round(float(np.sum(answered & ~right)) / n, 4),
    }


def refit(searcher: Searcher, labels: Sequence[Label], *, target_misled: float = 0.05) -> Refit:
    """Refit the confidence model and threshold of `searcher`'s index on feedback labels."""
    from sklearn.linear_model import LogisticRegression

    current = searcher.params
    x, right, held = _examples(searcher, labels)
    result = Refit(False, current, n_train=int((~held).sum()), n_held_out=int(held.sum()))
    train = ~held
    if min(int((right & train).sum()), int((~right & train).sum())) < MIN_LABELS or not held.any():
        result.note = f"not enough feedback ({MIN_LABELS} right and {MIN_LABELS} wrong first articles)"
        return result
    model = LogisticRegression(C=1.0, max_iter=5000).fit(x[train], right[train])
    params = copy.deepcopy(current)
    params.confidence = {name: float(c) for name, c in zip(FEATURES, model.coef_[0], strict=True)}
    params.confidence["intercept"] = float(model.intercept_[0])
    conf_train = model.predict_proba(x[train])[:, 1]
    params.threshold = 1.0
    for t in np.round(np.arange(0.02, 1.0, 0.01), 2):
        if _rates(conf_train, right[train], float(t))["misled"] <= target_misled:
            params.threshold = float(t)
            break
    params.suggest_threshold = min(params.suggest_threshold, params.threshold)

    def held_out_rates(p: RankingParams) -> dict[str, float]:
        conf = np.array([confidence(dict(zip(FEATURES, row, strict=True)), p) for row in x[held]])
        return _rates(conf, right[held], p.threshold)

    result.before, result.after = held_out_rates(current), held_out_rates(params)
    allowed_misled = max(target_misled, result.before["misled"])
    if result.after["served"] >= result.before["served"] and result.after["misled"] <= allowed_misled:
        result.adopted, result.params = True, params
    else:
        result.note = "the refitted model does not do better on held-out feedback: the current one stays"
    return result


def save(searcher: Searcher, result: Refit, source: str) -> None:
    """Log the run in the build's manifest and, when adopted, make its model the one that serves."""
    manifest = read_manifest(searcher.build_dir)
    manifest.setdefault("calibration_log", []).append({**result.to_log(), "source": source})
    if result.adopted:
        manifest["calibration"] = {
            "format": 2,
            "params": result.params.to_dict(),
            "fitted_on": {"source": source, "train": result.n_train, "held_out": result.n_held_out},
            "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "held_out": {"before": result.before, "after": result.after},
        }
    write_json(searcher.build_dir / MANIFEST, manifest)
