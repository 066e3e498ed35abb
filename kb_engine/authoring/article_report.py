"""`kb eval --article SLUG` / `--category C`: how an article does on the eval queries, in words.

Which customer questions it answers first (as expected), which ones that expect it go to another article,
and which questions meant for another article it takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kb_engine.search.evaluation import Outcome


@dataclass
class ArticleReport:
    slug: str
    answered: list[str] = field(default_factory=list)  # queries expecting it, answered by it first
    elsewhere: list[tuple[str, str]] = field(default_factory=list)  # (query, what came first instead)
    taken: list[tuple[str, str]] = field(default_factory=list)  # (query, the article it expected)

    def lines(self) -> list[str]:
        expecting = len(self.answered) + len(self.elsewhere)
        out = [f"{self.slug}: {expecting} eval quer{'y expects' if expecting == 1 else 'ies expect'} it"]
        if not expecting:
            out.append("  no eval query covers it: add two or three customer phrasings of its problem")
        if self.answered:
            out.append(f"  it is the first answer to {len(self.answered)} of them:")
            out += [f"    + {q!r}" for q in self.answered]
        if self.elsewhere:
            out.append(f"  {len(self.elsewhere)} of them get another article first:")
            out += [f"    - {q!r} -> {got or 'no answer'}" for q, got in self.elsewhere]
        if self.taken:
            n = len(self.taken)
            many = "query" if n == 1 else "queries"
            out.append(f"  it is the first answer to {n} {many} meant for another article:")
            out += [f"    ~ {q!r} (expected {expected or 'none'})" for q, expected in self.taken]
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "slug": self.slug,
            "answered": self.answered,
            "elsewhere": self.elsewhere,
            "taken": self.taken,
        }


def article_reports(outcomes: Sequence[Outcome], slugs: Sequence[str]) -> list[ArticleReport]:
    """One report per slug, from the outcomes of the whole eval set."""
    reports = {slug: ArticleReport(slug) for slug in slugs}
    for outcome in outcomes:
        expected, first = outcome.query.expected, outcome.ranked[0] if outcome.ranked else ""
        first = first if outcome.answered else ""
        if expected in reports:
            if first == expected:
                reports[expected].answered.append(outcome.query.query)
            else:
                reports[expected].elsewhere.append((outcome.query.query, first))
        elif first in reports:
            reports[first].taken.append((outcome.query.query, expected))
    return list(reports.values())
