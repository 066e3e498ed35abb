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
    # Everything of a confident answer but the confidence threshold: results, not closer to an
    # out-of-scope request, not below the dense floor (the engine only; for the trade-off table).
    eligible: bool = False
    reach: bool = False  # results and not closer to an out-of-scope request: "might help" is possible

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
    # The engine at other threshold settings (`tradeoff`): what an operator trades by moving it.
    tradeoff: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "systems": {s: {lang: m.to_dict() for lang, m in by.items()} for s, by in self.systems.items()},
            "failures": self.failures,
            "tradeoff": self.tradeoff,
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
    rank_fn: Callable[[dict[str, Any]], tuple[list[Group], float, bool, str, bool, bool]],
) -> list[Outcome]:
    searcher = cache.searcher
    out = []
    for q, sig in zip(cache.queries, cache.signals, strict=True):
        groups, conf, answered, outcome, eligible, reach = rank_fn(sig)
        top = groups[:CUTOFF]
        out.append(
            Outcome(
                query=q,
                ranked=[g.slug for g in top],
                first_lang=searcher.langs[top[0].row] if top else None,
                answered=answered,
                confidence=conf,
                outcome=outcome,
                eligible=eligible,
                reach=reach,
            )
        )
    return out


def engine_outcomes(cache: SignalCache, params: RankingParams | None = None) -> list[Outcome]:
    searcher = cache.searcher
    params = params or searcher.params

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float, bool, str, bool, bool]:
        ranked = searcher.rank(sig, include_internal=False, params=params)
        groups = ranked.groups
        category = searcher.articles[groups[0].row].category if groups else None
        answered = searcher.answers(ranked, params, category=category)  # what a search answers
        outcome = outcome_of(answered, bool(groups), ranked, params.suggest_threshold)
        reach = bool(groups) and ranked.negative <= 0
        eligible = reach and searcher.near(ranked, params)
        return groups, ranked.confidence, answered, outcome, eligible, reach

    return _outcomes(cache, rank)


def baseline_outcomes(cache: SignalCache, signal: str) -> list[Outcome]:
    """BM25-only or dense-only ranking (no fusion, no field weights), grouped the same way."""
    searcher = cache.searcher
    plain = RankingParams(field_bias={}, other_lang_penalty=0.0)

    def rank(sig: dict[str, Any]) -> tuple[list[Group], float, bool, str, bool, bool]:
        scores = sig["bm25"] if signal == "bm25" else searcher.dense_scores(sig, plain)[0]
        groups = group_translations(
            np.asarray(scores, dtype=np.float32), searcher.slugs, searcher.langs, searcher.public_mask,
            sig["lang"], plain,
        )  # fmt: skip
        return groups, 0.0, False, "", False, False

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
    report.tradeoff = tradeoff(engine, searcher.params)
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


TRADEOFF_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def tradeoff(
    outcomes: Sequence[Outcome], params: RankingParams, thresholds: Iterable[float] = TRADEOFF_THRESHOLDS
) -> list[dict[str, Any]]:
    """Served, misled, might help and out-of-scope rejection of the engine's outcomes at each threshold
    setting (and the fitted one, marked `fitted`), overall and per language: the same rankings, only the
    confidence threshold moved (one threshold for every category; the suggestion floor stays, or follows
    the threshold down)."""
    fitted = round(params.threshold, 4)
    each = sorted({o.query.lang for o in outcomes})
    langs = ["all", *each] if len(each) > 1 else ["all"]
    rows = []
    for t in sorted({round(float(x), 4) for x in thresholds} | {fitted}):
        floor = min(params.suggest_threshold, t)
        for lang in langs:
            chosen = [o for o in outcomes if lang == "all" or o.query.lang == lang]
            inside = [o for o in chosen if o.in_scope]
            outside = [o for o in chosen if not o.in_scope]
            answered = [o.eligible and o.confidence >= t for o in inside]
            pairs = list(zip(answered, inside, strict=True))
            n = len(inside) or 1
            rejected = [not (o.eligible and o.confidence >= t) for o in outside]
            middle = [not a and o.reach and o.confidence >= floor for a, o in pairs]
            rows.append({
                "threshold": t,
                "fitted": t == fitted,
                "lang": lang,
                "n_in": len(inside),
                "n_out": len(outside),
                "served": round(sum(a and o.right_first for a, o in pairs) / n, 4),
                "misled": round(sum(a and not o.right_first for a, o in pairs) / n, 4),
                "suggest": round(sum(middle) / n, 4),
                "rejected": round(sum(rejected) / len(outside), 4) if outside else None,
            })  # fmt: skip
    return rows


def format_tradeoff(report: Report) -> str:
    """The trade-off rows as text: one line per threshold setting and language."""
    if not report.tradeoff:
        return ""
    header = f"{'threshold':<11} {'lang':<4} {'served':>8} {'misled':>8} {'might help':>10} {'OOS rej.':>8}"
    lines = [f"Trade-off of {report.name}: the engine at other thresholds (* the fitted one)", header]
    for row in report.tradeoff:
        rejected = "-" if row["rejected"] is None else f"{row['rejected']:.3f}"
        setting = f"{row['threshold']:.2f}" + ("*" if row["fitted"] else "")
        lines.append(
            f"{setting:<11} {row['lang']:<4} {row['served']:>8.3f} {row['misled']:>8.3f}"
            f" {row['suggest']:>10.3f} {rejected:>8}"
        )
    return "\n".join(lines)


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
