"""Search-quality evaluation: hit@1, hit@3, MRR, nDCG@10, answered and rejection rates, per language,
for the engine and for BM25-only and dense-only baselines computed from the same signals in the same run.

A query file is TSV with a header `lang<TAB>expected<TAB>query`; `expected` is an article slug (or
`lang/slug`), empty when the knowledge base has no answer (out of scope: it must be a miss).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.search.ranking import Group, RankingParams, group_translations
from kb_engine.search.searcher import Searcher, clean_query, outcome_of

CUTOFF = 10


@dataclass(frozen=True)
class EvalQuery:
    lang: str
    expected: str  # slug; "" when out of scope
    query: str
    also: tuple[str, ...] = ()  # other relevant slugs (the same query listed with several articles)

    @property
    def relevant(self) -> frozenset[str]:
        return frozenset((self.expected, *self.also)) - {""}


def merge_queries(queries: Sequence[EvalQuery]) -> list[EvalQuery]:
    """Identical queries (same language, same words up to case and spacing) as one query relevant to
    every article any of their rows names: the standard scoring of FAQ retrieval sets."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for q in queries:
        key = (q.lang, " ".join(q.query.lower().split()))
        entry = merged.setdefault(key, [q, []])
        entry[1].extend(s for s in (q.expected, *q.also) if s and s != entry[0].expected)
    out = []
    for first, others in merged.values():
        also = tuple(dict.fromkeys(others))
        if not first.expected and also:
            first, also = dataclasses.replace(first, expected=also[0]), also[1:]
        out.append(dataclasses.replace(first, also=also))
    return out


def read_tsv(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    """The rows of a query set (a tab-separated file with a header line, no quoting), a missing cell as "".

    Raises:
        ValueError: the header lacks one of `columns` (the message names them).
    """
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [{k: v or "" for k, v in row.items() if k is not None} for row in reader]


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a query TSV (lang, expected, query)."""
    return [
        EvalQuery(row["lang"].strip(), row["expected"].strip().split("/")[-1], row["query"])
        for row in read_tsv(path, ("lang", "expected", "query"))
    ]


@dataclass
class Outcome:
    query: EvalQuery
    ranked: list[str]  # slugs, best first
    first_lang: str | None
    answered: bool
    confidence: float
    outcome: str = ""  # answered, suggest, out_of_scope (the engine only)

    @property
    def in_scope(self) -> bool:
        return bool(self.query.expected)

    @property
    def rank(self) -> int | None:
        """Rank of the first relevant article (1-based), None when none is in the list."""
        relevant = self.query.relevant
        return next((i + 1 for i, slug in enumerate(self.ranked) if slug in relevant), None)

    @property
    def right_first(self) -> bool:
        return self.rank == 1


@dataclass
class Metrics:
    n_in: int = 0
    n_out: int = 0
    hit1: float = 0.0  # a relevant article first (what FAQ benchmarks call R@1 / success@1)
    hit3: float = 0.0
    mrr: float = 0.0  # MRR@10
    ndcg: float = 0.0  # nDCG@10, every relevant article counted
    recall1: float = 0.0  # share of a query's relevant articles found at rank 1 (below hit1 with several)
    answered: float = 0.0
    rejected: float = 0.0
    same_lang: float = 0.0
    served: float = 0.0  # in scope, answered, right first article
    misled: float = 0.0  # in scope, answered, wrong first article
    suggest: float = 0.0  # in scope, "this might help" (the middle band)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def metrics(outcomes: Sequence[Outcome]) -> Metrics:
    m = Metrics()
    inside = [o for o in outcomes if o.in_scope]
    outside = [o for o in outcomes if not o.in_scope]
    m.n_in, m.n_out = len(inside), len(outside)
    if inside:
        ranks = [o.rank for o in inside]
        n = len(inside)
        m.hit1 = sum(r == 1 for r in ranks) / n
        m.hit3 = sum(r is not None and r <= 3 for r in ranks) / n
        m.mrr = sum(1 / r for r in ranks if r is not None and r <= CUTOFF) / n
        m.ndcg = sum(_ndcg(o) for o in inside) / n
        m.recall1 = sum(len(set(o.ranked[:1]) & o.query.relevant) / len(o.query.relevant) for o in inside) / n
        m.answered = sum(o.answered for o in inside) / n
        m.same_lang = sum(o.first_lang == o.query.lang for o in inside) / n
        m.served = sum(o.answered and o.right_first for o in inside) / n
        m.misled = sum(o.answered and not o.right_first for o in inside) / n
        m.suggest = sum(o.outcome == "suggest" for o in inside) / n
    if outside:
        m.rejected = sum(not o.answered for o in outside) / len(outside)
    return m


def _ndcg(o: Outcome) -> float:
    relevant = o.query.relevant
    dcg = sum(1 / math.log2(i + 2) for i, slug in enumerate(o.ranked[:CUTOFF]) if slug in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(CUTOFF, len(relevant))))
    return dcg / ideal if ideal else 0.0


@dataclass
class Report:
    name: str
    systems: dict[str, dict[str, Metrics]] = field(default_factory=dict)  # system -> lang ("all") -> metrics
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "systems": {s: {lang: m.to_dict() for lang, m in by.items()} for s, by in self.systems.items()},
            "failures": self.failures,
        }


class SignalCache:
    """Per-query signals computed once, so ranking variants and baselines are compared on the same data."""

    def __init__(self, searcher: Searcher, queries: Sequence[EvalQuery], *, progress: bool = False) -> None:
        from tqdm import tqdm

        self.searcher = searcher
        self.queries = list(queries)
        self.signals = [
            searcher.signals(clean_query(q.query, searcher.max_query_chars))
            for q in tqdm(self.queries, desc="queries", disable=not progress)
        ]


def _outcomes(
    cache: SignalCache,
    rank_fn: Callable[[dict[str, Any]], tuple[list[Group], float, bool, str]],
) -> list[Outcome]:
    searcher = cache.searcher
    out = []
    for q, sig in zip(cache.queries, cache.signals, strict=True):
        groups, conf, answered, outcome = rank_fn(sig)
        top = groups[:CUTOFF]
        out.append(
            Outcome(
                query=q,
                ranked=[g.slug for g in top],
                first_lang=searcher.langs[top[0].row] if top else None,
                answered=answered,
                confidence=conf,
                outcome=outcome,
            )
        )
    return out


def engine_outcomes(cache: SignalCache, params: RankingParams | None = None) -> list[Outcome]:
    searcher = cache.searcher
    params = params or searcher.params

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float, bool, str]:
        ranked = searcher.rank(sig, include_internal=False, params=params)
        answered = bool(ranked.groups) and ranked.confidence >= params.threshold and ranked.negative <= 0
        outcome = outcome_of(answered, bool(ranked.groups), ranked, params.suggest_threshold)
        return ranked.groups, ranked.confidence, answered, outcome

    return _outcomes(cache, rank)


def baseline_outcomes(cache: SignalCache, signal: str) -> list[Outcome]:
    """BM25-only or dense-only ranking (no fusion, no field weights), grouped the same way."""
    searcher = cache.searcher
    plain = RankingParams(field_bias={}, other_lang_penalty=0.0)

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float, bool, str]:
        scores = sig["bm25"] if signal == "bm25" else searcher.dense_scores(sig, plain)[0]
        groups = group_translations(
            np.asarray(scores, dtype=np.float32), searcher.slugs, searcher.langs, searcher.public_mask,
            sig["lang"], plain,
        )  # fmt: skip
        return groups, 0.0, False, ""

    return _outcomes(cache, rank)


def by_language(outcomes: Sequence[Outcome]) -> dict[str, Metrics]:
    langs = sorted({o.query.lang for o in outcomes})
    result = {"all": metrics(outcomes)}
    for lang in langs:
        result[lang] = metrics([o for o in outcomes if o.query.lang == lang])
    return result


def evaluate(
    searcher: Searcher,
    queries: Sequence[EvalQuery],
    *,
    name: str = "eval",
    baselines: bool = True,
    progress: bool = False,
    cache: SignalCache | None = None,
    merge: bool = True,
) -> Report:
    """Run a query set through the engine (and baselines) and collect metrics and failures.

    Identical queries are merged first (`merge_queries`: one query, every article its rows name)."""
    if merge and cache is None:
        queries = merge_queries(queries)
    cache = cache or SignalCache(searcher, queries, progress=progress)
    report = Report(name)
    engine = engine_outcomes(cache)
    report.systems["engine"] = by_language(engine)
    if baselines:
        report.systems["bm25"] = by_language(baseline_outcomes(cache, "bm25"))
        if not any(s["degraded"] for s in cache.signals):
            report.systems["dense"] = by_language(baseline_outcomes(cache, "dense"))
    for o in engine:
        if o.in_scope and o.rank != 1:
            kind = "wrong first" if o.rank else "not found"
            report.failures.append(
                {"kind": kind, "lang": o.query.lang, "query": o.query.query, "expected": o.query.expected,
                 "got": o.ranked[:3], "rank": o.rank, "answered": o.answered}
            )  # fmt: skip
        elif o.in_scope and not o.answered:
            report.failures.append(
                {"kind": "not answered", "lang": o.query.lang, "query": o.query.query,
                 "expected": o.query.expected, "got": o.ranked[:3], "rank": o.rank,
                 "confidence": round(o.confidence, 3)}
            )  # fmt: skip
        elif not o.in_scope and o.answered:
            report.failures.append(
                {"kind": "out of scope answered", "lang": o.query.lang, "query": o.query.query,
                 "got": o.ranked[:1], "confidence": round(o.confidence, 3)}
            )  # fmt: skip
    return report


COLUMNS = (
    ("hit1", "hit@1"),
    ("hit3", "hit@3"),
    ("mrr", "MRR@10"),
    ("ndcg", "nDCG@10"),
    ("recall1", "R@1"),
    ("served", "served"),
    ("misled", "misled"),
    ("suggest", "might help"),
    ("rejected", "OOS rej."),
    ("same_lang", "same-lang"),
)
ENGINE_ONLY = {"answered", "rejected", "served", "misled", "suggest"}


def format_table(reports: Iterable[Report]) -> str:
    """A plain-text table: one row per set × system × language."""
    header = f"{'set':<12} {'system':<8} {'lang':<4} {'n_in':>5} {'n_out':>5} " + " ".join(
        f"{label:>10}" for _, label in COLUMNS
    )
    lines = [header, "-" * len(header)]
    for report in reports:
        for system, by in report.systems.items():
            for lang, m in by.items():
                cells = []
                for key, _ in COLUMNS:
                    value = getattr(m, key)
                    empty = (key == "rejected" and not m.n_out) or (key != "rejected" and not m.n_in)
                    if system != "engine" and key in ENGINE_ONLY:
                        empty = True
                    cells.append(f"{'-' if empty else f'{value:.3f}':>10}")
                lines.append(
                    f"{report.name[:12]:<12} {system:<8} {lang:<4} {m.n_in:>5} {m.n_out:>5} "
                    + " ".join(cells)
                )
    return "\n".join(lines)
