"""Exports for reporting tools: tickets, searches and feedback since a date, as CSV or JSON Lines.

Rows are streamed (a year of searches never sits in memory). CSV cells that a spreadsheet would run as a
formula (text starting with `=`, `+`, `-`, `@`, a tab or a carriage return, also after a separator) get a
leading `'`; JSON Lines keep the values as they are. Personal data stays out: no contact details, no
visitor ids (a ticket's `query` is the customer's own words; `kb privacy` erases them on request).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidQuery
from kb_engine.helpdesk.models import Feedback, SearchLog, Ticket

FORMATS = ("csv", "jsonl")
# A cell (or a part of one after a separator some locale splits on: `,` `;` tab) starting with one of these
# is run as a formula by spreadsheets.
_FORMULA = re.compile(r"(^|[,;\t\r\n|])(\s*)([=+\-@\t\r])")


def safe_cell(value: object) -> object:
    """`value` for a CSV cell: numbers as they are; text with every formula start neutralised by a `'`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _FORMULA.sub(lambda m: f"{m.group(1)}{m.group(2)}'{m.group(3)}", str(value))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _ticket(t: Ticket) -> dict[str, Any]:
    return {
        "reference": t.reference,
        "created_at": _iso(t.created_at),
        "updated_at": _iso(t.updated_at),
        "status": t.status,
        "tier": t.tier,
        "team": t.team,
        "assignee": t.assignee,
        "priority": t.effective_priority,
        "category": t.category,
        "lang": t.lang,
        "source": t.source,
        "query": t.query,
        "first_response_at": _iso(t.first_response_at),
        "resolved_at": _iso(t.resolved_at),
        "closed_at": _iso(t.closed_at),
        "resolution_article": t.resolution_article,
        "problem_id": t.problem_id,
        "merged_into_id": t.merged_into_id,
    }


def _search(s: SearchLog) -> dict[str, Any]:
    top = (s.hits or [{}])[0] if s.hits else {}
    return {
        "id": s.id,
        "at": _iso(s.at),
        "query": s.query,
        "lang": s.lang,
        "answered": s.answered,
        "confidence": round(float(s.confidence or 0.0), 4),
        "top_article": top.get("id") if isinstance(top, dict) else None,
        "hits": len(s.hits or []),
        "channel": s.channel,
    }


def _feedback(f: Feedback) -> dict[str, Any]:
    return {
        "id": f.id,
        "at": _iso(f.at),
        "article": f.article_id,
        "kind": f.kind,
        "query": f.query,
        "search_id": f.search_id,
        "channel": f.channel,
    }


KINDS: dict[str, tuple[Any, Any, Callable[[Any], dict[str, Any]]]] = {
    "tickets": (Ticket, Ticket.created_at, _ticket),
    "searches": (SearchLog, SearchLog.at, _search),
    "feedback": (Feedback, Feedback.at, _feedback),
}


def parse_since(text: str) -> dt.datetime:
    """`2026-11-01` or `2026-11-01T08:00` (UTC) as a naive UTC datetime; InvalidQuery otherwise."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidQuery(f"--since takes a date (YYYY-MM-DD) or a date and time, got {text!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def rows(
    session: Session, kind: str, since: dt.datetime, until: dt.datetime | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of `kind` from `since` (inclusive) to `until` (exclusive), oldest first, streamed."""
    if kind not in KINDS:
        raise InvalidQuery(f"export one of {', '.join(KINDS)}")
    model, when, shape = KINDS[kind]
    stmt = select(model).where(when >= since).order_by(when, model.id).execution_options(yield_per=500)
    if until is not None:
        stmt = stmt.where(when < until)
    for obj in session.scalars(stmt):
        yield shape(obj)


def write(out: IO[str], kind: str, records: Iterator[dict[str, Any]], fmt: str) -> int:
    """Write the records as CSV (with a header, formulas neutralised) or JSON Lines; returns how many."""
    if fmt not in FORMATS:
        raise InvalidQuery(f"--format is one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer: Any = None
    for record in records:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\r\n")
            writer.writeheader()
        writer.writerow({k: "" if v is None else safe_cell(v) for k, v in record.items()})
        count += 1
    if writer is None:  # no rows: the header alone, so a reporting tool still sees the columns
        out.write(",".join(_columns(kind)) + "\r\n")
    return count


def _columns(kind: str) -> list[str]:
    model, _, shape = KINDS[kind]
    return list(shape(model()).keys())  # the shape of an empty row
