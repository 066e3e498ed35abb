"""The clarifying question in numbers ("Which one are you using?", issue 26), for the dashboard.

Over the customers' searches of a period: how often the question was asked, which values customers
picked, and whether asking helped: the share of searches that ended in "solved" when the question was
answered, when it was asked and left unanswered, and when it was not asked (the engine was confident, so
the comparison is between confident searches). Searches shown for a value kept from the visitor's session
(no question asked) are counted apart.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import Feedback, SearchLog

GROUPS = ("answered_question", "ignored_question", "not_asked", "kept_choice")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def clarify_summary(session: Session, start: Any, end: Any) -> dict[str, Any]:
    """The question's figures for searches made in [start, end).

    Returns:
        `searches`, `asked` and `asked_rate`; `picked` (value → count, most picked first); per group of
        GROUPS its `searches`, `solved` and `solved_rate` (`not_asked` counts confident searches only).
    """
    in_period = (SearchLog.at >= start, SearchLog.at < end)
    rows = session.execute(
        select(SearchLog.id, SearchLog.answered, SearchLog.clarify, SearchLog.facet).where(*in_period)
    ).all()
    solved = set(
        session.scalars(
            select(Feedback.search_id)
            .join(SearchLog, SearchLog.id == Feedback.search_id)
            .where(Feedback.kind == "solved", *in_period)
        )
    )
    groups: dict[str, list[int]] = {name: [] for name in GROUPS}
    picked: Counter[str] = Counter()
    for sid, answered, asked, facet in rows:
        if asked and facet:
            groups["answered_question"].append(sid)
            picked[facet] += 1
        elif asked:
            groups["ignored_question"].append(sid)
        elif facet:
            groups["kept_choice"].append(sid)
        elif answered:
            groups["not_asked"].append(sid)
    asked_n = len(groups["answered_question"]) + len(groups["ignored_question"])
    return {
        "searches": len(rows),
        "asked": asked_n,
        "asked_rate": _rate(asked_n, len(rows)),
        "answered_rate": _rate(len(groups["answered_question"]), asked_n),
        "picked": dict(picked.most_common()),
        **{
            name: {
                "searches": len(ids),
                "solved": sum(1 for i in ids if i in solved),
                "solved_rate": _rate(sum(1 for i in ids if i in solved), len(ids)),
            }
            for name, ids in groups.items()
        },
    }
