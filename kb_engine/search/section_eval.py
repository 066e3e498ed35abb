"""Section-level evaluation (issue 26): does the first hit open on the section that answers?

A section query file is TSV with a header `lang<TAB>expected<TAB>section<TAB>query`: `expected` is an
article slug and `section` the heading path of the section that answers ("Steps > Phone"), compared
accent- and case-insensitively. Reported: article hit@1, section hit@1 (first hit is the article and its
section is the expected one) and section hit@3 (the article is among the first three hits and the
expected section among its three best sections).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.content.text import fold
from kb_engine.search.evaluation import read_tsv
from kb_engine.search.searcher import Searcher, clean_query


@dataclass(frozen=True)
class SectionQuery:
    lang: str
    expected: str
    section: str
    query: str


def load_section_queries(path: Path) -> list[SectionQuery]:
    """Read a section query TSV (lang, expected, section, query)."""
    return [
        SectionQuery(
            r["lang"].strip(), r["expected"].strip().split("/")[-1], r["section"].strip(), r["query"]
        )
        for r in read_tsv(path, ("lang", "expected", "section", "query"))
    ]


def top_sections(searcher: Searcher, article_id: str, query: str, *, lang: str, n: int = 3) -> list[str]:
    """The heading paths of an article's `n` best sections for a query, best first."""
    text = clean_query(query, searcher.max_query_chars)
    signals = searcher.signals(text, lang)
    row = searcher.by_id[article_id]
    picker = searcher.sections
    found = picker.candidates(
        row, signals["chunk_scores"], picker.query(text, signals["lang"], searcher.glossary)
    )
    out: list[str] = []
    for chunk, _ in sorted(found, key=lambda cs: -cs[1]):
        heading = picker.headings[chunk]
        if heading not in out:
            out.append(heading)
    return out[:n]


def _same(a: str, b: str) -> bool:
    return fold(a).replace("’", "'").strip() == fold(b).replace("’", "'").strip()


@dataclass
class SectionReport:
    name: str
    n: int = 0
    article_hit1: float = 0.0
    section_hit1: float = 0.0
    section_hit3: float = 0.0
    per_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": self.n,
            "article_hit1": round(self.article_hit1, 4),
            "section_hit1": round(self.section_hit1, 4),
            "section_hit3": round(self.section_hit3, 4),
            "per_lang": self.per_lang,
            "failures": self.failures,
        }


def evaluate_sections(
    searcher: Searcher, queries: Sequence[SectionQuery], *, name: str = "sections"
) -> SectionReport:
    """Run every query as a customer would (public articles, its language) and score the sections."""
    report = SectionReport(name=name, n=len(queries))
    tallies: dict[str, list[tuple[bool, bool, bool]]] = {}
    for q in queries:
        response = searcher.search(q.query, k=3, lang=q.lang, use_cache=False)
        slugs = [h.id.split("/", 1)[1] for h in response.hits]
        art1 = bool(slugs) and slugs[0] == q.expected
        got = response.hits[0].section["heading"] if response.hits and response.hits[0].section else ""
        sec1 = art1 and _same(got, q.section)
        sec3 = False
        if q.expected in slugs:
            hit = response.hits[slugs.index(q.expected)]
            top = top_sections(searcher, hit.id, q.query, lang=q.lang, n=3)
            sec3 = any(_same(h, q.section) for h in top)
        tallies.setdefault(q.lang, []).append((art1, sec1, sec3))
        if not sec1:
            report.failures.append(
                {
                    "lang": q.lang,
                    "query": q.query,
                    "expected": f"{q.expected} › {q.section}",
                    "got": f"{slugs[0] if slugs else '-'} › {got}",
                }
            )
    rows = [t for ts in tallies.values() for t in ts]
    if rows:
        report.article_hit1 = sum(t[0] for t in rows) / len(rows)
        report.section_hit1 = sum(t[1] for t in rows) / len(rows)
        report.section_hit3 = sum(t[2] for t in rows) / len(rows)
    for lang, ts in sorted(tallies.items()):
        report.per_lang[lang] = {
            "n": len(ts),
            "article_hit1": round(sum(t[0] for t in ts) / len(ts), 4),
            "section_hit1": round(sum(t[1] for t in ts) / len(ts), 4),
            "section_hit3": round(sum(t[2] for t in ts) / len(ts), 4),
        }
    return report


def format_section_figures(figures: dict[str, Any]) -> str:
    """`kb eval`'s section table and clarifying-question rates, as text."""
    lines = []
    sec = figures.get("sections")
    if sec:
        lines.append(f"{'set':<12} {'lang':<5} {'n':>4} {'art@1':>6} {'sec@1':>6} {'sec@3':>6}")
        for lang, m in sec["per_lang"].items():
            lines.append(
                f"{'sections':<12} {lang:<5} {m['n']:>4} {m['article_hit1']:>6.3f} {m['section_hit1']:>6.3f} "
                f"{m['section_hit3']:>6.3f}"
            )
        lines.append(
            f"{'sections':<12} {'all':<5} {sec['n']:>4} {sec['article_hit1']:>6.3f} "
            f"{sec['section_hit1']:>6.3f} {sec['section_hit3']:>6.3f}"
        )
    for key, sets in (
        ("ambiguity", ("ambiguity", "query")),
        ("clarify_holdout", ("held-out ambiguous", "clear")),
    ):
        amb = figures.get(key)
        if amb:
            lines.append(
                f"clarifying question: asked {amb['asked']:.3f} of the {sets[0]} set (n={amb['n']}), right "
                f"value offered {amb['offered_right_value']:.3f}, right section first after one click "
                f"{amb['right_section_after_click']:.3f}; asked {amb['asked_on_query_set']:.3f} of the "
                f"{sets[1]} set"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class AmbiguousQuery:
    lang: str
    expected: str
    section: str
    facet: str
    query: str


AMBIGUITY_COLUMNS = ("lang", "expected", "section", "facet", "query")


def load_ambiguity_queries(path: Path) -> list[AmbiguousQuery]:
    """Read an ambiguity TSV (lang, expected, section, facet, query)."""
    rows = [{k: v.strip() for k, v in r.items()} for r in read_tsv(path, AMBIGUITY_COLUMNS)]
    return [AmbiguousQuery(r["lang"], r["expected"], r["section"], r["facet"], r["query"]) for r in rows]


def evaluate_ambiguity(searcher: Searcher, queries: Sequence[AmbiguousQuery]) -> dict[str, Any]:
    """How often the clarifying question is asked, offers the right value, and one click on it puts the
    expected section first."""
    asked = offered = right = 0
    failures = []
    for q in queries:
        response = searcher.search(q.query, k=5, lang=q.lang, clarify=True, use_cache=False)
        question = response.clarify
        if question:
            asked += 1
        if question and q.facet in question["options"]:
            offered += 1
        clicked = searcher.search(q.query, k=5, lang=q.lang, facet=q.facet, use_cache=False)
        top = clicked.hits[0] if clicked.hits else None
        ok = (
            top is not None
            and top.id.split("/", 1)[1] == q.expected
            and top.section is not None
            and _same(top.section["heading"], q.section)
        )
        right += ok
        if not question or not ok:
            got = f"{top.id} › {top.section['heading'] if top and top.section else ''}" if top else "-"
            failures.append({"query": q.query, "asked": bool(question), "after_click": got})
    n = max(1, len(queries))
    return {
        "n": len(queries),
        "asked": round(asked / n, 4),
        "offered_right_value": round(offered / n, 4),
        "right_section_after_click": round(right / n, 4),
        "failures": failures,
    }


def question_rate(searcher: Searcher, queries: Sequence[str], langs: Sequence[str]) -> float:
    """Share of queries for which the clarifying question would be asked (it should be rare)."""
    asked = sum(
        bool(searcher.search(text, k=5, lang=lang, clarify=True, use_cache=False).clarify)
        for text, lang in zip(queries, langs, strict=True)
    )
    return asked / max(1, len(queries))
