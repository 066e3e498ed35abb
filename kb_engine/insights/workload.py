"""What a team lead watches: the backlog by age and status, figures per agent and per team, and the
tickets past their targets (the dashboard's lead section; each number links to the filtered queue)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.automations import Automations, defaults, past_targets
from kb_engine.helpdesk.models import Ticket, TicketEvent, utcnow
from kb_engine.helpdesk.tickets import ACTIVE, LIVE_SOURCES, TicketService

# Backlog age buckets: (name, upper bound of the age).
AGES: tuple[tuple[str, dt.timedelta | None], ...] = (
    ("under 1 day", dt.timedelta(days=1)),
    ("1-3 days", dt.timedelta(days=3)),
    ("3-7 days", dt.timedelta(days=7)),
    ("over 7 days", None),
)


def _age_bucket(age: dt.timedelta) -> str:
    for name, bound in AGES:
        if bound is None or age < bound:
            return name
    return AGES[-1][0]


def _median_hours(deltas: list[dt.timedelta]) -> float | None:
    return round(statistics.median(d.total_seconds() for d in deltas) / 3600, 1) if deltas else None


def workload(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    now: dt.datetime | None = None,
    automations: Automations | None = None,
) -> dict[str, Any]:
    """The lead's figures.

    Args:
        start, end: the period for "solved", first response and first-contact resolution (naive UTC).
        now: the time the backlog's ages and the targets are measured at.
        automations: the desk's SLA targets (default: the built-in ones); "past its targets" is
            `automations.past_targets`, as in the queue's view.

    Returns:
        `backlog` (age bucket → status → count, active tickets), `agents` and `teams` (name → open, solved,
        median_first_response_hours, first_contact_rate), `past_targets` (active tickets past their
        resolution target: reference, query, tier, team, assignee, priority, due_at), `first_contact`
        (resolved on the call / tickets taken live, over the period).
    """
    now = now or utcnow()
    service = TicketService(session)
    automations = automations or defaults()
    active = list(
        session.scalars(select(Ticket).where(Ticket.status.in_(ACTIVE), Ticket.merged_into_id.is_(None)))
    )
    backlog = {name: {status: 0 for status in ACTIVE} for name, _bound in AGES}
    past: list[dict[str, Any]] = []
    people: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"open": 0, "solved": 0, "fcr": 0, "responses": []}
    )
    teams: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"open": 0, "solved": 0, "fcr": 0, "responses": []}
    )
    for t in active:
        backlog[_age_bucket(now - t.created_at)][t.status] += 1
        if t.assignee:
            people[t.assignee]["open"] += 1
        teams[t.team or "—"]["open"] += 1
        late = past_targets(service, t, automations, now)
        if late:
            past.append(
                {
                    "reference": t.reference,
                    "query": t.query,
                    "tier": t.tier,
                    "team": t.team,
                    "assignee": t.assignee,
                    "priority": service.priority_of(t, now).level,
                    "due_at": min(timer.due_at for timer in late),
                    "targets": [timer.target for timer in late],
                }
            )
    resolved = session.execute(
        select(TicketEvent, Ticket)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.kind == "resolved", TicketEvent.at >= start, TicketEvent.at < end)
    ).all()
    first_contact = 0
    for event, ticket in resolved:
        fcr = bool((event.data or {}).get("first_contact"))
        first_contact += fcr
        for bucket in (people[event.actor], teams[ticket.team or "—"]):
            bucket["solved"] += 1
            bucket["fcr"] += fcr
    taken_live = int(
        session.scalar(
            select(func.count(Ticket.id)).where(
                Ticket.source.in_(LIVE_SOURCES), Ticket.created_at >= start, Ticket.created_at < end
            )
        )
        or 0
    )
    answered = session.execute(
        select(Ticket.assignee, Ticket.team, Ticket.created_at, Ticket.first_response_at).where(
            Ticket.created_at >= start, Ticket.created_at < end, Ticket.first_response_at.is_not(None)
        )
    ).all()
    for assignee, team, created, responded in answered:
        delta = responded - created if responded is not None else dt.timedelta(0)
        if assignee:
            people[assignee]["responses"].append(delta)
        teams[team or "—"]["responses"].append(delta)

    def figures(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "open": r["open"],
                "solved": r["solved"],
                "median_first_response_hours": _median_hours(r["responses"]),
                "first_contact_rate": round(r["fcr"] / r["solved"], 4) if r["solved"] else 0.0,
            }
            for name, r in sorted(rows.items())
            if name not in ("engine", "customer")
        }

    past.sort(key=lambda row: (row["priority"], row["due_at"]))
    return {
        "backlog": backlog,
        "backlog_total": len(active),
        "agents": figures(people),
        "teams": figures(teams),
        "past_targets": past,
        "first_contact": {
            "resolved": first_contact,
            "live_tickets": taken_live,
            "rate": round(first_contact / taken_live, 4) if taken_live else 0.0,
        },
    }
