"""Fit one knowledge base's ranking and confidence at index time, from the knowledge base itself.

No labelled query is needed: each article's title and `questions` lines are pseudo-queries (embedded as
queries, like a customer's words), each searched with its own line held out of both signals (its chunk
out of the dense scores, its document out of the lexical field), among the articles of its language.
They choose, with cross-validation grouped by article, the lexical weight and the mix of dense fields;
a fused ranking is kept only when it beats both single signals on the held-out folds. Searching each
pseudo-query again with its whole article removed (leave-one-out) shows what a search with no right
answer looks like. A logistic confidence model is fitted on right first articles against wrong ones and
those no-right-answer samples, and the threshold is the lowest whose expected misled rate (answered with
a wrong first article) stays within the target (`KB_TARGET_MISLED`, default 5%).

The manifest records what was fitted, on how many pseudo-queries, and the expected served/misled rates.
Bounded: at most MAX_PSEUDO pseudo-queries (a seeded sample), a few seconds on a ~100-article KB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kb_engine.content.chunking import KINDS
from kb_engine.search.fusion import zscore
from kb_engine.search.offtopic import OFF_TOPIC
from kb_engine.search.ranking import FEATURES, RankingParams, article_dense_scores

if TYPE_CHECKING:
    from kb_engine.search.searcher import Searcher

MAX_PSEUDO = 300
W_LEX = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08)
FIELD_MIX = (0.0, 0.5)
FOLDS = 5
# Share of real queries assumed to get a wrong first article. The pseudo-queries' own share is no estimate
# of it: a held-out `questions` line is much harder than a customer's query (on the shipped articles 46% of
# them get a wrong first article, customers' queries 7%; on COVID-FAQ 12% against 22%). The wrong first
# articles of the pseudo-queries and the leave-one-out samples together say how often such a query would
# still be answered.
WRONG_SHARE = 0.25
MIN_PSEUDO = 10
# Regularisation of the confidence model (standardised features). Titles and questions are easier than
# customers' words: a model that leans hard on many of their features transfers worse. Strong
# regularisation served 0.27 of COVID-FAQ's queries instead of 0.08 at the same misled, and kept our sets.
CONFIDENCE_C = 0.1
# The dense floor lies halfway between the level this share of the pseudo-queries' right first articles
# stays under and the level this share of the off-topic questions' first articles exceeds.
DENSE_FLOOR_QUANTILE = 0.05
OFF_TOPIC_ANSWERED = 0.05  # at most this share of the off-topic questions (offtopic.py) may be answered


@dataclass
class _Pseudo:
    text: str
    row: int  # its article
    chunk: int  # its own chunk (held out of the dense scores)
    field: str  # its lexical field ("title" or "questions")
    position: int  # which document of the article's field (the k-th question)
    lang: str = ""  # an off-topic question's language (row -1: no right answer in the knowledge base)


def pseudo_queries(searcher: Searcher, *, limit: int = MAX_PSEUDO, seed: int = 0) -> list[_Pseudo]:
    """Titles and `questions` lines of the public articles, a seeded sample of at most `limit`."""
    out: list[_Pseudo] = []
    title, question = KINDS.index("title"), KINDS.index("question")
    seen: dict[int, int] = {}
    kinds = searcher.chunk_kinds.tolist()
    for chunk, (row, kind) in enumerate(zip(searcher.chunk_rows.tolist(), kinds, strict=True)):
        if not searcher.public_mask[row] or kind not in (title, question):
            continue
        position = seen.get(row, -1) + 1 if kind == question else 0
        if kind == question:
            seen[row] = position
        field = "title" if kind == title else "questions"
        text = searcher.articles[row].title if kind == title else searcher.articles[row].questions[position]
        out.append(_Pseudo(text, row, chunk, field, position))
    if len(out) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(out), limit, replace=False))
        out = [out[i] for i in keep]
    return out


@dataclass
class _Sample:
    dense: dict[float, np.ndarray]  # per field_mix
    lex_z: np.ndarray
    allowed: np.ndarray
    target: int
    coverage: float
    slug: str
    text: str = ""
    lang: str = ""
    held_out: tuple[str, int] | None = None  # its own line (field, k), left out of `matched`


def _samples(searcher: Searcher, pseudo: Sequence[_Pseudo], vectors: np.ndarray) -> list[_Sample]:
    matrix = searcher._matrix
    langs = np.array(searcher.langs, dtype=object)
    out = []
    for p, vector in zip(pseudo, vectors, strict=True):
        if matrix is not None:
            chunk_scores = (matrix @ vector).astype(np.float32)
        else:
            chunk_scores = searcher._chunk_scores(vector[None, :])
        if p.chunk >= 0:
            chunk_scores[p.chunk] = -np.inf
        dense = {}
        for mix in FIELD_MIX:
            params = RankingParams(field_bias={}, field_mix=mix)
            dense[mix] = article_dense_scores(
                chunk_scores, searcher.chunk_rows, searcher.chunk_kinds, len(searcher.articles), params,
                searcher.segments,
            )[0]  # fmt: skip
        fields = searcher.lexical.field_scores(p.text)
        rows, scores = fields[p.field]
        own = np.flatnonzero(rows == p.row) if p.row >= 0 else np.zeros(0, dtype=np.int64)
        if own.size > p.position:
            scores = scores.copy()
            scores[own[p.position]] = 0.0
            fields = {**fields, p.field: (rows, scores)}
        lex_z = zscore(searcher.lexical.combine(fields), RankingParams().z_cap)
        lang = searcher.langs[p.row] if p.row >= 0 else p.lang
        allowed = searcher.public_mask & (langs == lang)
        coverage = searcher.lexical.coverage(p.text, lang)
        slug = searcher.slugs[p.row] if p.row >= 0 else ""
        held = (p.field, p.position) if p.row >= 0 else None
        out.append(_Sample(dense, lex_z, allowed, p.row, coverage, slug, p.text, lang, held))
    return out


def _fused(sample: _Sample, mix: float, w: float | str) -> np.ndarray:
    if w == "lexical":
        return sample.lex_z
    return sample.dense[mix] + float(w) * sample.lex_z


def _reciprocal_rank(scores: np.ndarray, sample: _Sample) -> float:
    target = scores[sample.target]
    rank = 1 + int(np.count_nonzero(sample.allowed & (scores > target)))
    return 1.0 / rank if rank <= 10 else 0.0


def _mrr(samples: Sequence[_Sample], idx: Sequence[int], mix: float, w: float | str) -> float:
    return float(np.mean([_reciprocal_rank(_fused(samples[i], mix, w), samples[i]) for i in idx]))


def _choose_ranking(samples: list[_Sample], seed: int) -> dict[str, Any]:
    """Field mix and lexical weight by grouped cross-validation; a single signal when it does better."""
    grid = [(mix, w) for mix in FIELD_MIX for w in W_LEX]
    everything = list(range(len(samples)))
    slugs = np.array([s.slug for s in samples], dtype=object)
    names = np.unique(slugs)
    np.random.default_rng(seed).shuffle(names)
    folds = [set(part) for part in np.array_split(names, min(FOLDS, len(names)))]
    held_out: list[float] = []
    for fold in folds:
        test = [i for i in everything if slugs[i] in fold]
        train = [i for i in everything if slugs[i] not in fold]
        if not test or not train:
            continue
        best = max(grid, key=lambda g: _mrr(samples, train, *g))
        held_out.extend(_reciprocal_rank(_fused(samples[i], *best), samples[i]) for i in test)
    fused_cv = float(np.mean(held_out)) if held_out else 0.0
    dense_only = max(_mrr(samples, everything, mix, 0.0) for mix in FIELD_MIX)
    lexical_only = _mrr(samples, everything, 0.0, "lexical")
    mix, w = max(grid, key=lambda g: _mrr(samples, everything, *g))
    choice: dict[str, Any] = {"field_mix": mix, "w_lex": w, "mode": "fused"}
    if fused_cv < max(dense_only, lexical_only):
        if dense_only >= lexical_only:
            mix = max(FIELD_MIX, key=lambda m: _mrr(samples, everything, m, 0.0))
            choice = {"field_mix": mix, "w_lex": 0.0, "mode": "dense"}
        else:
            choice = {"field_mix": 0.0, "w_lex": "lexical", "mode": "lexical"}
    choice["mrr"] = {"fused_cv": round(fused_cv, 4), "dense": round(dense_only, 4),
                     "lexical": round(lexical_only, 4)}  # fmt: skip
    return choice


def _features(
    searcher: Searcher, sample: _Sample, fused: np.ndarray, allowed: np.ndarray, scope: np.ndarray
) -> list[float]:
    rows = np.flatnonzero(allowed)
    order = rows[np.argsort(-fused[rows], kind="stable")]
    top = int(order[0])
    second = float(fused[order[1]]) if order.size > 1 else float(fused[top]) - 0.5
    dense = sample.dense[0.0]
    dense_order = rows[np.argsort(-dense[rows], kind="stable")]
    dense_margin = float(dense[dense_order[0]] - dense[dense_order[1]]) if dense_order.size > 1 else 0.5
    lexical_first = int(rows[np.argmax(sample.lex_z[rows])])
    negative = float(fused[scope].max()) - float(fused[top]) if scope.size else 0.0
    values = {
        "top": float(fused[top]),
        "margin": float(fused[top]) - second,
        "dense": float(dense[top]),
        "lexical_z": float(sample.lex_z[top]),
        "coverage": sample.coverage,
        "negative": -max(0.0, negative),
        "dense_margin": dense_margin,
        "agree_dense": float(int(dense_order[0]) == top),
        "agree_lexical": float(lexical_first == top),
        "matched": searcher.lexical.matched(
            sample.text, searcher.langs[top], top, held_out=sample.held_out if top == sample.target else None
        ),
    }
    return [values[name] for name in FEATURES]


def fit(
    searcher: Searcher,
    embed_queries: Callable[[list[str]], np.ndarray],
    *,
    target_misled: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """The fitted ranking and confidence of the knowledge base `searcher` serves, as a manifest record
    (`params` for RankingParams, plus what was fitted and on what). `embed_queries` embeds texts as the
    model embeds queries (through the embedding cache). Fewer than MIN_PSEUDO pseudo-queries, or no
    vectors: the defaults, said so."""
    started = time.perf_counter()
    params = RankingParams()
    if searcher.manifest.get("model") == "hashing":
        note = "the hashing model (plumbing tests) ranks nothing worth fitting: defaults kept"
        return {"target_misled": target_misled, "note": note, "params": params.to_dict()}
    pseudo = pseudo_queries(searcher, seed=seed)
    record: dict[str, Any] = {"target_misled": target_misled, "pseudo_queries": len(pseudo)}
    if len(pseudo) < MIN_PSEUDO or not searcher.vectors_ok:
        record["note"] = f"fewer than {MIN_PSEUDO} titles and questions, or no vectors: defaults kept"
        record["params"] = params.to_dict()
        return record
    from sklearn.linear_model import LogisticRegression

    languages = {searcher.langs[p.row] for p in pseudo}
    off = [
        _Pseudo(t, -1, -1, "title", 0, lang) for lang in sorted(languages) for t in OFF_TOPIC.get(lang, ())
    ]
    everything = _samples(searcher, pseudo + off, embed_queries([p.text for p in pseudo + off]))
    samples, off_samples = (
        everything[: len(pseudo)],
        [s for s in everything[len(pseudo) :] if s.allowed.sum() >= 2],
    )
    choice = _choose_ranking(samples, seed)
    mix, w = choice["field_mix"], choice["w_lex"]
    params.field_bias = {}
    params.field_mix = mix
    if w == "lexical":
        params.dense_weight, params.w_lex = 0.0, {"default": 1.0}
    else:
        params.w_lex = {"default": float(w)}
    scope = searcher.scope_rows
    slugs = np.array(searcher.slugs, dtype=object)
    x, correct, loo = [], [], []
    for sample in samples:
        fused = _fused(sample, mix, w)
        x.append(_features(searcher, sample, fused, sample.allowed, scope))
        rows = np.flatnonzero(sample.allowed)
        correct.append(int(rows[np.argmax(fused[rows])] == sample.target))
        others = sample.allowed & (slugs != sample.slug)
        if others.sum() >= 2:
            loo.append(_features(searcher, sample, fused, others, scope))
    off_x = [
        _features(searcher, sample, _fused(sample, mix, w), sample.allowed, scope) for sample in off_samples
    ]
    features = np.array(x + loo + off_x, dtype=np.float64)
    labels = np.array(correct + [0] * (len(loo) + len(off_x)))
    if labels.min() == labels.max():
        record["note"] = "pseudo-queries all right or all wrong: default confidence kept"
    else:
        # Fitted on standardised features, then written back on the raw ones (RankingParams.confidence).
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale < 1e-9] = 1.0
        standard = (features - mean) / scale
        model = LogisticRegression(C=CONFIDENCE_C, max_iter=5000).fit(standard, labels)
        coef = model.coef_[0] / scale
        params.confidence = {name: float(c) for name, c in zip(FEATURES, coef, strict=True)}
        params.confidence["intercept"] = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / scale))
        conf = model.predict_proba(standard)[:, 1]
        pos, neg = conf[: len(x)], conf[len(x) : len(x) + len(loo)]
        off_conf = conf[len(x) + len(loo) :]
        right = np.array(correct, dtype=bool)
        wrong = np.concatenate([pos[~right], neg])  # answers that are wrong, of both kinds
        threshold, expected = 1.0, {"served": 0.0, "misled": 0.0}
        for t in np.round(np.arange(0.02, 1.0, 0.01), 2):
            misled = WRONG_SHARE * float(np.mean(wrong >= t)) if wrong.size else 0.0
            # Everyday questions the knowledge base cannot answer stay unanswered (at most 1 in 20).
            if misled <= target_misled and (
                off_conf.size == 0 or float(np.mean(off_conf >= t)) <= OFF_TOPIC_ANSWERED
            ):
                served = (1 - WRONG_SHARE) * float(np.mean(pos[right] >= t)) if right.any() else 0.0
                threshold, expected = float(t), {"served": round(served, 4), "misled": round(misled, 4)}
                break
        params.threshold = threshold
        dense = FEATURES.index("dense")
        dense_right = features[: len(x)][right, dense]
        if dense_right.size:
            floor = float(np.quantile(dense_right, DENSE_FLOOR_QUANTILE))
            if off_x:
                # Halfway down to the off-topic questions: customers' words sit further from their
                # article than its own title does (on COVID-FAQ the titles' floor alone refused 41% of
                # the right answers; halfway, 8%).
                floor = (
                    floor + float(np.quantile(features[-len(off_x) :, dense], 1 - DENSE_FLOOR_QUANTILE))
                ) / 2
            params.dense_floor = round(floor, 4)
        # "Might help" down to what the off-topic questions reach (out of scope: looks like one of them).
        if off_conf.size:
            low = float(np.quantile(off_conf, 1 - OFF_TOPIC_ANSWERED))
        else:
            low = float(np.quantile(pos[right], 0.05)) if right.any() else 0.2
        params.suggest_threshold = round(min(threshold, low), 4)
        record["expected"] = expected
        record["leave_one_out"] = len(loo)
        record["off_topic"] = len(off_x)
    record["ranking"] = choice
    record["params"] = params.to_dict()
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record
