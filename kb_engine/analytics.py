"""Search log and article feedback: what the dashboard, content gaps and learning-from-use read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.models import Feedback, QuestionCandidate, SearchLog
from kb_engine.searcher import SearchResponse

FEEDBACK_KINDS = ("view", "solved", "not_helpful")


def log_search(session: Session, response: SearchResponse, *, channel: str, visitor: str | None) -> SearchLog:
    entry = SearchLog(
        query=response.query[:2000],
        lang=response.lang,
        answered=response.answered,
        confidence=response.confidence,
        hits=[{"id": h.id, "title": h.title, "score": round(h.score, 4)} for h in response.hits],
        channel=channel,
        visitor=visitor,
    )
    session.add(entry)
    session.flush()
    return entry


def record_feedback(
    session: Session,
    article_id: str,
    kind: str,
    *,
    search: SearchLog | None,
    visitor: str | None,
    channel: str = "web",
) -> Feedback:
    """Record a view, 'solved' or 'did not help'. A 'solved' after a search proposes its query to authors."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(kind)
    row = Feedback(
        article_id=article_id,
        kind=kind,
        query=search.query if search else None,
        search_id=search.id if search else None,
        visitor=visitor,
        channel=channel,
    )
    session.add(row)
    if kind == "solved" and search is not None and search.query.strip():
        propose_question(session, article_id, search.query)
    session.flush()
    return row


def propose_question(session: Session, article_id: str, query: str) -> QuestionCandidate:
    """Count one more customer who solved `article_id` after typing `query` (a candidate `questions` line)."""
    text = " ".join(query.split())[:300]
    existing = session.scalar(
        select(QuestionCandidate).where(
            QuestionCandidate.article_id == article_id, QuestionCandidate.query == text
        )
    )
    if existing is not None:
        existing.count += 1
        return existing
    candidate = QuestionCandidate(article_id=article_id, query=text)
    session.add(candidate)
    return candidate
