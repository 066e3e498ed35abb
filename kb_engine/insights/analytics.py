"""Search log and article feedback: what the dashboard, content gaps and learning-from-use read."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import Feedback, QuestionCandidate, SearchLog
from kb_engine.search.searcher import SearchResponse

FEEDBACK_KINDS = ("view", "solved", "not_helpful")
# The one-tap answers to "What was wrong?" after "No, this did not help" (Feedback.reason).
NOT_HELPFUL_REASONS = ("outdated", "did_not_work", "not_my_problem", "hard_to_follow")

# Where a search, an article view or a "solved" came from (SearchLog.channel, Feedback.channel). A view or
# a "solved" from any channel but "api" means the customer helped themselves: a deflection.
CHANNELS = {
    "web": "the help centre's search box and results pages",
    "form": "the 'Contact support' form, which shows the best articles before the contact fields",
    "widget": "the embeddable widget (`widget.js`) on a company's own site or intranet",
    "email": "links in the automatic reply to a support email (`kb mail-in`)",
    "api": "direct JSON API callers",
}


def channel_or_default(value: object, default: str = "web") -> str:
    """A known channel name, or `default` for anything else (channels arrive from URLs and forms)."""
    return value if isinstance(value, str) and value in CHANNELS else default


def client_key(address: str, secret: str | bytes) -> str:
    """Who searched, for counting distinct visitors without keeping their address: an HMAC-SHA256 of the
    client's address under the instance's secret key (the same address gives the same key on every worker;
    without the secret it cannot be turned back into the address by trying every IPv4 address)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"client:{address}".encode(), hashlib.sha256).hexdigest()[:32]


def log_search(
    session: Session,
    response: SearchResponse,
    *,
    channel: str,
    visitor: str | None,
    client: str | None = None,
) -> SearchLog:
    """Log a customer's search (`channel`: one of CHANNELS; `visitor`: the browser session's id; `client`:
    `client_key` of the address it came from)."""
    if channel not in CHANNELS:
        raise ValueError(channel)
    entry = SearchLog(
        query=response.query[:2000],
        lang=response.lang,
        answered=response.answered,
        confidence=response.confidence,
        hits=[{"id": h.id, "title": h.title, "score": round(h.score, 4)} for h in response.hits],
        channel=channel,
        visitor=visitor,
        client=client,
        clarify=str(response.clarify["facet"])[:32] if response.clarify else None,
        facet=response.facet[:32] if response.facet else None,
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
    if channel not in CHANNELS:
        raise ValueError(channel)
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


def record_reason(session: Session, article_id: str, visitor: str, reason: str) -> Feedback | None:
    """Attach `reason` to the visitor's latest "did not help" on `article_id` (None if they gave none)."""
    if reason not in NOT_HELPFUL_REASONS:
        raise ValueError(reason)
    row = session.scalar(
        select(Feedback)
        .where(Feedback.article_id == article_id, Feedback.visitor == visitor, Feedback.kind == "not_helpful")
        .order_by(Feedback.id.desc())
        .limit(1)
    )
    if row is not None:
        row.reason = reason
        session.flush()
    return row
