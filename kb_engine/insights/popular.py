"""Popular articles: views and "solved" answers, each worth less as it ages (exponential decay).

An event `d` days old weighs `0.5 ** (d / half_life_days)`; a "solved" counts `SOLVED_WEIGHT` views.
Events older than `horizon_days` are not read at all. Events are counted per day in SQL (portable to
SQLite and PostgreSQL), so the work is bounded by articles x days, not by traffic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb_engine.content.articles import Article
from kb_engine.helpdesk.models import Feedback, utcnow

SOLVED_WEIGHT = 3.0
KIND_WEIGHTS = {"view": 1.0, "solved": SOLVED_WEIGHT}


def popularity(
    session: Session,
    *,
    half_life_days: float = 14.0,
    horizon_days: int = 90,
    now: dt.datetime | None = None,
) -> dict[str, float]:
    """Decayed popularity score per article id (only articles with events in the horizon)."""
    now = now or utcnow()
    since = now - dt.timedelta(days=horizon_days)
    day = func.date(Feedback.at)
    rows = session.execute(
        select(Feedback.article_id, Feedback.kind, day, func.count())
        .where(Feedback.at >= since, Feedback.kind.in_(tuple(KIND_WEIGHTS)))
        .group_by(Feedback.article_id, Feedback.kind, day)
    ).all()
    today = now.date()
    scores: dict[str, float] = {}
    for article_id, kind, when, count in rows:
        when_date = when if isinstance(when, dt.date) else dt.date.fromisoformat(str(when)[:10])
        age = max(0, (today - when_date).days)
        weight = KIND_WEIGHTS[kind] * 0.5 ** (age / half_life_days)
        scores[article_id] = scores.get(article_id, 0.0) + weight * int(count)
    return scores


def popular_articles(
    scores: dict[str, float], articles: Iterable[Article], lang: str, limit: int = 5
) -> list[Article]:
    """The most popular public articles in `lang`. A topic's translations add to its score (at half
    weight), so that a French visitor also benefits from what English visitors found useful."""
    articles = list(articles)
    by_slug: dict[str, float] = {}
    for art in articles:
        if not art.is_public or art.is_draft:
            continue
        own = scores.get(art.id, 0.0)
        by_slug[art.slug] = by_slug.get(art.slug, 0.0) + (own if art.lang == lang else own / 2)
    shown = [a for a in articles if a.lang == lang and a.is_public and not a.is_draft]
    ranked = sorted(
        (a for a in shown if by_slug.get(a.slug, 0.0) > 0), key=lambda a: (-by_slug[a.slug], a.title)
    )
    return ranked[:limit]
