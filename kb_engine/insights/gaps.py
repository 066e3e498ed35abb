"""Content gaps: what customers search for and the knowledge base does not answer, grouped into topics.

Missed searches (`answered` false) of a period are clustered on their query embeddings (scikit-learn's
agglomerative clustering, average linkage, cosine distance under a threshold: the number of topics is
not chosen in advance). For each topic: how many customers it would help (distinct browsers), examples in
the customers' own words, the closest existing article and its score, the tickets its searches caused,
and a suggested title (the most central query, tidied). Topics are sorted by customers helped.

An author turns a topic into a draft article with `write_draft` (front matter pre-filled by
`kb_engine.authoring.new`, `questions` from the examples).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import SearchLog, Ticket, utcnow
from kb_engine.helpdesk.similarity import Embed, embed_texts, normalise
from kb_engine.search.levels import similarity_levels

# Queries are one topic while their average cosine distance stays under this (similarity above 0.5):
# with the bundled model, paraphrases of one need score 0.5-0.9 ("book a meeting room" / "reserve a
# conference room for tomorrow": 0.53), different problems under 0.45.
DISTANCE_THRESHOLD = 0.5
MAX_QUERIES = 3000  # the most recent distinct missed queries clustered at once
EXAMPLES = 5
MAX_TITLE_CHARS = 90


class ArticleFinder(Protocol):
    """What gaps need from the searcher: the best article for a text (kb_engine.search.searcher.Searcher)."""

    def search(self, query: str, *, k: int = ..., include_internal: bool = ...) -> Any: ...


@dataclass
class Gap:
    """One topic customers searched for without an answer."""

    customers: int
    searches: int
    examples: list[str]
    title: str
    lang: str | None
    closest_article: dict[str, Any] | None
    tickets: list[str] = field(default_factory=list)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    out_of_scope: bool = False  # the searcher recognises it as something the desk does not handle

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "searches": self.searches,
            "title": self.title,
            "lang": self.lang,
            "examples": self.examples,
            "closest_article": self.closest_article,
            "tickets": self.tickets,
            "first_seen": self.first_seen.isoformat(timespec="seconds") if self.first_seen else None,
            "last_seen": self.last_seen.isoformat(timespec="seconds") if self.last_seen else None,
            "out_of_scope": self.out_of_scope,
        }


def suggest_title(query: str) -> str:
    """A tidy title from a customer's query: single spaces, no trailing punctuation, capital first letter."""
    text = " ".join(query.split()).strip(" ?!.,;:-")
    text = re.sub(r"([?!.])\1+", r"\1", text)
    if len(text) > MAX_TITLE_CHARS:
        text = text[:MAX_TITLE_CHARS].rsplit(" ", 1)[0]
    return text[:1].upper() + text[1:] if text else "Untitled topic"


def cluster(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> list[list[int]]:
    """Group L2-normalised rows into topics (agglomerative, average linkage, cosine distance).

    Returns:
        Lists of row numbers, one per topic; every row is in exactly one.
    """
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        groups.setdefault(int(label), []).append(row)
    return list(groups.values())


@dataclass
class _Query:
    text: str
    forms: Counter[str] = field(default_factory=Counter)
    visitors: set[str] = field(default_factory=set)
    anonymous: int = 0  # searches without a visitor id (API, scripts): each one counts as a customer
    search_ids: list[int] = field(default_factory=list)
    langs: Counter[str] = field(default_factory=Counter)
    first: dt.datetime | None = None
    last: dt.datetime | None = None


def _missed_queries(session: Session, since: dt.datetime, until: dt.datetime) -> list[_Query]:
    rows = session.execute(
        select(SearchLog.id, SearchLog.query, SearchLog.visitor, SearchLog.lang, SearchLog.at)
        .where(SearchLog.answered.is_(False), SearchLog.at >= since, SearchLog.at < until)
        .order_by(SearchLog.at.desc(), SearchLog.id.desc())
    ).all()
    queries: dict[str, _Query] = {}
    for sid, text, visitor, lang, at in rows:
        key = normalise(text)
        if not key:
            continue
        if key not in queries:
            if len(queries) >= MAX_QUERIES:
                continue
            queries[key] = _Query(key)
        q = queries[key]
        q.forms[" ".join(text.split())] += 1
        if visitor:
            q.visitors.add(visitor)
        else:
            q.anonymous += 1
        q.search_ids.append(sid)
        if lang:
            q.langs[lang] += 1
        q.first = at if q.first is None or at < q.first else q.first
        q.last = at if q.last is None or at > q.last else q.last
    return list(queries.values())


def find_gaps(
    session: Session,
    embed: Embed,
    searcher: ArticleFinder | None = None,
    *,
    days: int = 30,
    now: dt.datetime | None = None,
    threshold: float | None = None,
    min_customers: int = 1,
    limit: int | None = None,
) -> list[Gap]:
    """The topics of the missed searches of the last `days` days, most customers first.

    Args:
        session: database session (read only).
        embed: texts -> L2-normalised rows (the searcher's `embedder.encode_queries`).
        searcher: finds each topic's closest existing article (None: not looked up).
        days: how far back to look.
        now: the end of the period (default: now, naive UTC).
        threshold: cosine distance under which queries join one topic (None: the level of the searcher's
            model, `similarity_levels`; DISTANCE_THRESHOLD without a searcher).
        min_customers: leave out topics with fewer customers.
        limit: at most this many topics.
    """
    until = now or utcnow()
    queries = _missed_queries(session, until - dt.timedelta(days=days), until)
    if not queries:
        return []
    vectors = embed_texts(embed, [q.text for q in queries])
    if threshold is None:
        model = getattr(searcher, "manifest", {}).get("model") if searcher is not None else None
        threshold = similarity_levels(model)[1] if model else DISTANCE_THRESHOLD
    gaps = []
    for rows in cluster(vectors, threshold):
        members = [queries[i] for i in rows]
        visitors = set().union(*(q.visitors for q in members))
        customers = len(visitors) + sum(q.anonymous for q in members)
        if customers < min_customers:
            continue
        # The most central query: highest mean similarity to the others of its topic.
        block = vectors[rows]
        central = members[int(np.argmax((block @ block.T).mean(axis=1)))]
        forms: Counter[str] = Counter()
        langs: Counter[str] = Counter()
        for q in members:
            forms.update(q.forms)
            langs.update(q.langs)
        search_ids = [sid for q in members for sid in q.search_ids]
        gaps.append(
            Gap(
                customers=customers,
                searches=len(search_ids),
                examples=[text for text, _n in forms.most_common(EXAMPLES)],
                title=suggest_title(central.forms.most_common(1)[0][0]),
                lang=langs.most_common(1)[0][0] if langs else None,
                closest_article=None,
                tickets=_tickets_caused(session, search_ids),
                first_seen=min(q.first for q in members if q.first),
                last_seen=max(q.last for q in members if q.last),
            )
        )
    gaps.sort(key=lambda g: (-g.customers, -g.searches, g.title))
    gaps = gaps[:limit] if limit else gaps
    if searcher is not None:
        for gap in gaps:
            _closest(gap, searcher)
    return gaps


def _tickets_caused(session: Session, search_ids: list[int]) -> list[str]:
    references: list[str] = []
    for start in range(0, len(search_ids), 500):  # keep IN lists short
        chunk = search_ids[start : start + 500]
        references += [
            r for r in session.scalars(select(Ticket.reference).where(Ticket.search_id.in_(chunk))) if r
        ]
    return sorted(set(references))


def _closest(gap: Gap, searcher: ArticleFinder) -> None:
    response = searcher.search(gap.examples[0], k=1, include_internal=True)
    gap.out_of_scope = bool(getattr(response, "redirect", None))
    if response.hits:
        hit = response.hits[0]
        gap.closest_article = {
            "id": hit.id,
            "title": hit.title,
            "score": round(float(hit.score), 4),
            "confidence": round(float(response.confidence), 4),
            "url": hit.url,
        }


def write_draft(
    articles_dir: Path,
    *,
    title: str,
    lang: str,
    questions: list[str],
    languages: tuple[str, ...] = ("en", "fr"),
    category: str | None = None,
) -> Path:
    """Write a draft article for a gap: the authoring template, with `questions` from the examples.

    The body keeps the template's `TODO`s, so `kb lint` reports the draft until an author finishes it.

    Returns:
        The path of the new file (`<articles_dir>/<lang>/<slug>.md`, slug unique across languages).
    """
    from kb_engine.authoring.new import new_article

    examples = [" ".join(q.split()) for q in questions if q.strip()][:8]
    created = new_article(
        articles_dir, title, lang=lang, languages=languages, category=category, questions=examples
    )
    return created.path
