"""Learned questions, the authors' side: review the customers' phrasings that led to "solved".

`analytics.propose_question` records a `QuestionCandidate` each time a customer marks an article
"solved" after a search. Authors approve (the phrasing is appended to `articles/learned-questions.yml`
by `kb_engine.content.learned`, and indexed as one more `questions` line of the article) or reject it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.errors import InvalidTransition, NotFound
from kb_engine.helpdesk.models import QuestionCandidate, utcnow

CANDIDATE_STATUSES = ("pending", "approved", "rejected")


def list_candidates(
    session: Session, status: str = "pending", *, limit: int | None = None
) -> list[QuestionCandidate]:
    """Candidates with this status, the most frequent first (then the oldest)."""
    stmt = (
        select(QuestionCandidate)
        .where(QuestionCandidate.status == status)
        .order_by(QuestionCandidate.count.desc(), QuestionCandidate.created_at, QuestionCandidate.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def get_candidate(session: Session, candidate_id: int) -> QuestionCandidate:
    candidate = session.get(QuestionCandidate, candidate_id)
    if candidate is None:
        raise NotFound(f"no question candidate {candidate_id}")
    return candidate


def _decide(candidate: QuestionCandidate, status: str, actor: str) -> None:
    if candidate.status != "pending":
        raise InvalidTransition(f"question candidate {candidate.id} was already {candidate.status}")
    candidate.status = status
    candidate.decided_by = actor
    candidate.decided_at = utcnow()


def approve(session: Session, candidate_id: int, actor: str, articles_dir: Path) -> QuestionCandidate:
    """Approve a pending candidate: its query is appended to the article's learned questions file.

    Args:
        session: the database session (the caller commits).
        candidate_id: the candidate's id.
        actor: who approved it (kept on the candidate).
        articles_dir: the articles folder holding `learned-questions.yml` (created if missing).

    Raises:
        NotFound: no such candidate. InvalidTransition: it was already approved or rejected.
    """
    from kb_engine.content import (
        learned,  # the retrieval side's file format (merged into `questions` at index time)
    )

    candidate = get_candidate(session, candidate_id)
    _decide(candidate, "approved", actor)
    learned.approve(Path(articles_dir), candidate.article_id, candidate.query)
    session.flush()
    return candidate


def reject(session: Session, candidate_id: int, actor: str) -> QuestionCandidate:
    """Reject a pending candidate (it is kept, so the same phrasing is not proposed as new again)."""
    candidate = get_candidate(session, candidate_id)
    _decide(candidate, "rejected", actor)
    session.flush()
    return candidate
