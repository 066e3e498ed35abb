"""Search-quality evaluation: hit@1, hit@3, MRR, nDCG@10, answered and rejection rates, per language,
for the engine and for BM25-only and dense-only baselines computed from the same signals in the same run.

A query file is TSV with a header `lang<TAB>expected<TAB>query`; `expected` is an article slug (or
`lang/slug`), empty when the knowledge base has no answer (out of scope: it must be a miss).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_engine.search.ranking import Group, RankingParams, group_translations
from kb_engine.search.searcher import Searcher, clean_query

CUTOFF = 10


@dataclass(frozen=True)
class EvalQuery:
    lang: str
    expected: str  # slug; "" when out of scope
    query: str


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a query TSV (lang, expected, query)."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"lang", "expected", "query"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = []
        for row in reader:
            expected = (row["expected"] or "").strip()
            rows.append(EvalQuery(row["lang"].strip(), expected.split("/")[-1], row["query"] or ""))
    return rows


@dataclass
class Outcome:
    query: EvalQuery
    ranked: list[str]  # slugs, best first
    first_lang: str | None
    answered: bool
    confidence: float

    @property
    def in_scope(self) -> bool:
        return bool(self.query.expected)

    @property
    def rank(self) -> int | None:
        try:
            return self.ranked.index(self.query.expected) + 1
        except ValueError:
            return None


@dataclass
class Metrics:
    n_in: int = 0
    n_out: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    mrr: float = 0.0
    ndcg: float = 0.0
    answered: float = 0.0
    rejected: float = 0.0
    same_lang: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def metrics(outcomes: Sequence[Outcome]) -> Metrics:
    m = Metrics()
    inside = [o for o in outcomes if o.in_scope]
    outside = [o for o in outcomes if not o.in_scope]
    m.n_in, m.n_out = len(inside), len(outside)
    if inside:
        ranks = [o.rank for o in inside]
        m.hit1 = sum(r == 1 for r in ranks) / len(inside)
        m.hit3 = sum(r is not None and r <= 3 for r in ranks) / len(inside)
        m.mrr = sum(1 / r for r in ranks if r is not None and r <= CUTOFF) / len(inside)
        m.ndcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= CUTOFF) / len(inside)
        m.answered = sum(o.answered for o in inside) / len(inside)
        m.same_lang = sum(o.first_lang == o.query.lang for o in inside) / len(inside)
    if outside:
        m.rejected = sum(not o.answered for o in outside) / len(outside)
    return m


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
    rank_fn: Callable[[dict[str, Any]], tuple[list[Group], float]],
    threshold: float | None,
) -> list[Outcome]:
    searcher = cache.searcher
    out = []
    for q, sig in zip(cache.queries, cache.signals, strict=True):
        groups, conf = rank_fn(sig)
        top = groups[:CUTOFF]
        out.append(
            Outcome(
                query=q,
                ranked=[g.slug for g in top],
                first_lang=searcher.langs[top[0].row] if top else None,
                answered=threshold is not None and bool(top) and conf >= threshold,
                confidence=conf,
            )
        )
    return out


def engine_outcomes(cache: SignalCache, params: RankingParams | None = None) -> list[Outcome]:
    searcher = cache.searcher
    params = params or searcher.params

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float]:
        ranked = searcher.rank(sig, include_internal=False, params=params)
        return ranked.groups, ranked.confidence

    return _outcomes(cache, rank, params.threshold)


def baseline_outcomes(cache: SignalCache, signal: str) -> list[Outcome]:
    """BM25-only or dense-only ranking (no fusion, no field weights), grouped the same way."""
    searcher = cache.searcher
    plain = RankingParams(field_bias={}, other_lang_penalty=0.0)

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float]:
        scores = sig["bm25"] if signal == "bm25" else searcher.dense_scores(sig, plain)[0]
        groups = group_translations(
            np.asarray(scores, dtype=np.float32), searcher.slugs, searcher.langs, searcher.public_mask,
            sig["lang"], plain,
        )  # fmt: skip
        return groups, 0.0

    return _outcomes(cache, rank, None)


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
) -> Report:
    """Run a query set through the engine (and baselines) and collect metrics and failures."""
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
    ("mrr", "MRR"),
    ("ndcg", "nDCG@10"),
    ("answered", "answered"),
    ("rejected", "OOS rejected"),
    ("same_lang", "same-lang 1st"),
)


def format_table(reports: Iterable[Report]) -> str:
    """A plain-text table: one row per set × system × language."""
    header = f"{'set':<12} {'system':<8} {'lang':<4} {'n_in':>5} {'n_out':>5} " + " ".join(
        f"{label:>13}" for _, label in COLUMNS
    )
    lines = [header, "-" * len(header)]
    for report in reports:
        for system, by in report.systems.items():
            for lang, m in by.items():
                cells = []
                for key, _ in COLUMNS:
                    value = getattr(m, key)
                    empty = (key == "rejected" and not m.n_out) or (key != "rejected" and not m.n_in)
                    if system != "engine" and key in {"answered", "rejected"}:
                        empty = True
                    cells.append(f"{'-' if empty else f'{value:.3f}':>13}")
                lines.append(
                    f"{report.name[:12]:<12} {system:<8} {lang:<4} {m.n_in:>5} {m.n_out:>5} "
                    + " ".join(cells)
                )
    return "\n".join(lines)
