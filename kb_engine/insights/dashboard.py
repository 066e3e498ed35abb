"""The support dashboard's numbers for a period: pure queries over searches, feedback and tickets.

The deflection funnel counts customers' searches (every channel) made in the period:

    searches → answered (the engine was confident) → article opened (from the results) → "solved"
             → no ticket within 7 days (the same browser opened no ticket in the 7 days after)

The last stage over all searches is the **self-service resolution rate**, the number L1 is judged by.
Each stage is counted on its own (a customer may open an article the engine was not sure about).
Tickets (by tier and priority, time to first response and to resolution) are those created in the period.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import Feedback, SearchLog, Ticket, utcnow
from kb_engine.helpdesk.priority import TARGETS as RESPONSE_TARGETS
from kb_engine.helpdesk.similarity import normalise
from kb_engine.helpdesk.tickets import TIERS
from kb_engine.insights.clarify import GROUPS as CLARIFY_GROUPS
from kb_engine.insights.clarify import clarify_summary
from kb_engine.stats import percentile

DEFLECTION_WINDOW = dt.timedelta(days=7)
# Time to resolution we aim for, per priority (1 critical … 4 low); first response targets are the
# priority rule's (kb_engine.helpdesk.priority.TARGETS: 1 h, 4 h, 1 day, 3 days).
RESOLUTION_TARGETS: dict[int, dt.timedelta] = {
    1: dt.timedelta(hours=4),
    2: dt.timedelta(days=1),
    3: dt.timedelta(days=3),
    4: dt.timedelta(days=7),
}
TOP_QUERIES = 10
FUNNEL_STAGES = ("searches", "answered", "opened", "solved", "no_ticket_7d")


@dataclass(frozen=True)
class Period:
    """[start, end) in naive UTC, like the stored timestamps."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def days(cls, first: dt.date, last: dt.date) -> Period:
        """From the start of `first` to the end of `last` (both included)."""
        if last < first:
            first, last = last, first
        if last >= dt.date.max:
            raise InvalidQuery(f"the last day must be before {dt.date.max.isoformat()}")
        return cls(
            dt.datetime.combine(first, dt.time()), dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
        )

    @classmethod
    def last_days(cls, n: int, today: dt.date | None = None) -> Period:
        """The last `n` days, today included."""
        today = today or utcnow().date()
        return cls.days(today - dt.timedelta(days=max(1, n) - 1), today)

    def to_dict(self) -> dict[str, str]:
        return {
            "from": self.start.date().isoformat(),
            "to": (self.end - dt.timedelta(days=1)).date().isoformat(),
        }


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def funnel(session: Session, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The deflection funnel of the searches made in `period`, with each stage's rate over searches.

    Returns:
        `stages` (name → count, in FUNNEL_STAGES order), `rates` (name → share of searches),
        `self_service_rate`, and `window_open`: solved searches whose 7 days are not over yet (counted as
        deflected so far).
    """
    now = now or utcnow()
    in_period = (SearchLog.at >= period.start, SearchLog.at < period.end)
    searches = list(session.execute(select(SearchLog.id, SearchLog.answered).where(*in_period)))
    feedback = session.execute(
        select(Feedback.search_id, Feedback.kind)
        .join(SearchLog, SearchLog.id == Feedback.search_id)
        .where(*in_period)
    ).all()
    opened = {sid for sid, _kind in feedback}
    solved_ids = {sid for sid, kind in feedback if kind == "solved"}
    solved = session.execute(
        select(SearchLog.id, SearchLog.visitor, SearchLog.at).where(SearchLog.id.in_(solved_ids))
    ).all()
    # Tickets the same browsers opened up to 7 days after the period's last search.
    visitors = {v for _id, v, _at in solved if v}
    tickets: dict[str, list[dt.datetime]] = defaultdict(list)
    direct: set[int] = set()
    if solved:
        rows = session.execute(
            select(SearchLog.visitor, Ticket.created_at, Ticket.search_id)
            .join(SearchLog, SearchLog.id == Ticket.search_id)
            .where(Ticket.created_at >= period.start, Ticket.created_at < period.end + DEFLECTION_WINDOW)
            .where(SearchLog.visitor.in_(visitors) | SearchLog.id.in_(solved_ids))
        ).all()
        for visitor, created_at, search_id in rows:
            if visitor:
                tickets[visitor].append(created_at)
            if search_id is not None:
                direct.add(search_id)
    deflected = window_open = 0
    for sid, visitor, at in solved:
        later = [c for c in tickets.get(visitor or "", []) if at <= c <= at + DEFLECTION_WINDOW]
        if later or sid in direct:
            continue
        deflected += 1
        if at + DEFLECTION_WINDOW > now:
            window_open += 1
    total = len(searches)
    stages = {
        "searches": total,
        "answered": sum(1 for _sid, answered in searches if answered),
        "opened": len(opened),
        "solved": len(solved_ids),
        "no_ticket_7d": deflected,
    }
    did_not_help = len({sid for sid, kind in feedback if kind == "not_helpful"})
    return {
        "stages": stages,
        "rates": {name: _rate(count, total) for name, count in stages.items()},
        # Searches where the customer said an article they opened did not help (they went on to a ticket).
        "did_not_help": did_not_help,
        "did_not_help_rate": _rate(did_not_help, total),
        "self_service_rate": _rate(deflected, total),
        "window_open": window_open,
    }


def _who(search_id: int, client: str | None, visitor: str | None) -> str:
    """Who made a search, for counting distinct visitors: the client's hashed address (the same for a client
    that drops its cookies), else its browser session, else the search itself (an email, an old row)."""
    if client:
        return f"client:{client}"
    return f"visitor:{visitor}" if visitor else f"search:{search_id}"


def search_quality(session: Session, period: Period, *, top: int = TOP_QUERIES) -> dict[str, Any]:
    """Zero-result and low-confidence rates, and the queries (normalised) most visitors searched for.

    A zero-result search showed no article at all; a low-confidence one showed articles but the engine
    was not sure (a miss: the customer was offered "Still need help?"). Top queries are ranked by distinct
    visitors (`visitors`; `count` is the searches), so one client repeating a query cannot push it up.
    """
    rows = session.execute(
        select(
            SearchLog.id,
            SearchLog.query,
            SearchLog.answered,
            SearchLog.hits,
            SearchLog.client,
            SearchLog.visitor,
        ).where(SearchLog.at >= period.start, SearchLog.at < period.end)
    ).all()
    total = len(rows)
    zero = sum(1 for row in rows if not row.hits)
    low = sum(1 for row in rows if row.hits and not row.answered)
    counts: Counter[str] = Counter()
    answered_counts: Counter[str] = Counter()
    visitors: dict[str, set[str]] = defaultdict(set)
    sessions: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        key = normalise(row.query)
        if not key:
            continue
        counts[key] += 1
        answered_counts[key] += int(bool(row.answered))
        visitors[key].add(_who(row.id, row.client, row.visitor))
        sessions[key].add(row.visitor or f"search:{row.id}")
    # Ties (customers behind one office address all count as one) go to the query more browser sessions
    # asked, then to the one searched more.
    ranked = sorted(counts, key=lambda q: (-len(visitors[q]), -len(sessions[q]), -counts[q], q))[:top]
    return {
        "searches": total,
        "zero_result": zero,
        "low_confidence": low,
        "zero_result_rate": _rate(zero, total),
        "low_confidence_rate": _rate(low, total),
        "top_queries": [
            {
                "query": q,
                "visitors": len(visitors[q]),
                "count": counts[q],
                "answered_rate": _rate(answered_counts[q], counts[q]),
            }
            for q in ranked
        ],
    }


def _timing(deltas: list[dt.timedelta], met: int, considered: int, open_late: int) -> dict[str, Any]:
    hours = sorted(_hours(d) for d in deltas)
    return {
        "count": len(hours),
        "median_hours": round(statistics.median(hours), 2) if hours else None,
        "p90_hours": percentile(hours, 90) if hours else None,
        "within_target": met,
        "within_target_rate": _rate(met, considered),
        "late_and_waiting": open_late,
    }


def tickets_summary(session: Session, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Tickets created in the period: by tier and priority, and time to first response and to resolution.

    A ticket counts against its target once answered/resolved, or once its target has passed without it
    (`late_and_waiting`); one still within its target and not answered yet is not counted either way.
    """
    now = now or utcnow()
    tickets = list(
        session.scalars(
            select(Ticket).where(
                Ticket.created_at >= period.start,
                Ticket.created_at < period.end,
                Ticket.merged_into_id.is_(None),
            )
        )
    )
    by_tier = {tier: {p: 0 for p in (1, 2, 3, 4)} for tier in TIERS}
    by_status: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    timings: dict[str, dict[str, Any]] = {}
    for name, field, targets in (
        ("first_response", "first_response_at", RESPONSE_TARGETS),
        ("resolution", "resolved_at", RESOLUTION_TARGETS),
    ):
        deltas: list[dt.timedelta] = []
        met = considered = late = 0
        for t in tickets:
            target = targets[t.effective_priority]
            done = getattr(t, field)
            if done is not None:
                deltas.append(done - t.created_at)
                considered += 1
                met += int(done - t.created_at <= target)
            elif now - t.created_at > target and t.status != "closed":
                considered += 1
                late += 1
        timings[name] = _timing(deltas, met, considered, late)
        timings[name]["targets_hours"] = {str(p): _hours(d) for p, d in targets.items()}
    for t in tickets:
        by_tier.setdefault(t.tier, {p: 0 for p in (1, 2, 3, 4)})[t.effective_priority] += 1
        by_status[t.status] += 1
        by_source[t.source] += 1
    return {
        "total": len(tickets),
        "by_tier_priority": {tier: {str(p): n for p, n in row.items()} for tier, row in by_tier.items()},
        "by_status": dict(by_status),
        "by_source": dict(by_source),
        **timings,
    }


def daily(session: Session, period: Period) -> dict[str, Any]:
    """Per-day counts for the charts: searches, answered, solved, tickets."""
    days = []
    day = period.start.date()
    while dt.datetime.combine(day, dt.time()) < period.end:
        days.append(day.isoformat())
        day += dt.timedelta(days=1)
    series: dict[str, Counter[str]] = {k: Counter() for k in ("searches", "answered", "solved", "tickets")}
    for at, answered in session.execute(
        select(SearchLog.at, SearchLog.answered).where(
            SearchLog.at >= period.start, SearchLog.at < period.end
        )
    ):
        series["searches"][at.date().isoformat()] += 1
        if answered:
            series["answered"][at.date().isoformat()] += 1
    for (at,) in session.execute(
        select(Feedback.at).where(
            Feedback.kind == "solved", Feedback.at >= period.start, Feedback.at < period.end
        )
    ):
        series["solved"][at.date().isoformat()] += 1
    for (at,) in session.execute(
        select(Ticket.created_at).where(Ticket.created_at >= period.start, Ticket.created_at < period.end)
    ):
        series["tickets"][at.date().isoformat()] += 1
    return {"days": days, **{k: [c[d] for d in days] for k, c in series.items()}}


def dashboard(session: Session, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every number of the dashboard for `period` (the JSON the page, its charts and the CSV use)."""
    return {
        "period": period.to_dict(),
        "funnel": funnel(session, period, now=now),
        "search": search_quality(session, period),
        "tickets": tickets_summary(session, period, now=now),
        "daily": daily(session, period),
        "clarify": clarify_summary(session, period.start, period.end),
    }


def to_rows(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """The dashboard as (section, metric, value) rows, for the CSV export."""
    rows: list[tuple[str, str, Any]] = [
        ("period", "from", data["period"]["from"]),
        ("period", "to", data["period"]["to"]),
    ]
    funnel_data = data["funnel"]
    for stage in FUNNEL_STAGES:
        rows.append(("funnel", stage, funnel_data["stages"][stage]))
        rows.append(("funnel", f"{stage}_rate", funnel_data["rates"][stage]))
    rows.append(("funnel", "self_service_rate", funnel_data["self_service_rate"]))
    rows.append(("funnel", "window_open", funnel_data["window_open"]))
    search = data["search"]
    for key in ("zero_result", "zero_result_rate", "low_confidence", "low_confidence_rate"):
        rows.append(("search", key, search[key]))
    for item in search["top_queries"]:
        rows.append(("top_query", item["query"], item["visitors"]))
        rows.append(("top_query_searches", item["query"], item["count"]))
    tickets = data["tickets"]
    rows.append(("tickets", "total", tickets["total"]))
    for tier, row in tickets["by_tier_priority"].items():
        for level, n in row.items():
            rows.append(("tickets_by_tier_priority", f"{tier} P{level}", n))
    for name in ("first_response", "resolution"):
        for key in (
            "count",
            "median_hours",
            "p90_hours",
            "within_target",
            "within_target_rate",
            "late_and_waiting",
        ):
            rows.append((name, key, tickets[name][key]))
    question = data["clarify"]
    rows += [("clarify", key, question[key]) for key in ("asked", "asked_rate", "answered_rate")]
    rows += [("clarify_picked", value, n) for value, n in question["picked"].items()]
    for group in CLARIFY_GROUPS:
        rows += [(f"clarify_{group}", key, question[group][key]) for key in ("searches", "solved_rate")]
    for i, day in enumerate(data["daily"]["days"]):
        for series in ("searches", "answered", "solved", "tickets"):
            rows.append((f"daily_{series}", day, data["daily"][series][i]))
    return rows
