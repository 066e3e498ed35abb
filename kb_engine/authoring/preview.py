"""The authors' preview of one article file as it is on disk, before it is indexed.

Shows it rendered, how each of its `questions` ranks it with the index being served, which logged
customer searches showed it, and its nearest neighbours (the articles it could be confused with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb_engine.content.articles import Article, parse_article, plain_text, render_article
from kb_engine.content.chunking import split_sections
from kb_engine.errors import ArticleError, NotFound
from kb_engine.helpdesk.models import SearchLog
from kb_engine.search.searcher import Searcher

LOGGED_LIMIT = 2000
# Where the preview's images come from: any image of the articles folder (the file may not be indexed yet).
PREVIEW_MEDIA = "/authors/media"


@dataclass
class Preview:
    path: str
    article: Article | None = None
    html: str = ""
    problem: str | None = None
    questions: list[dict[str, Any]] = field(default_factory=list)  # question, rank (None: not in top 10)
    logged: list[dict[str, Any]] = field(default_factory=list)  # query, rank, at
    neighbours: list[dict[str, Any]] = field(default_factory=list)  # id, title, score


def _rank(searcher: Searcher, query: str, slug: str) -> int | None:
    hits = searcher.search(query, k=10, include_internal=True).hits
    slugs = [h.id.split("/", 1)[1] for h in hits]
    return slugs.index(slug) + 1 if slug in slugs else None


def preview_article(
    searcher: Searcher, articles_dir: Path, lang: str, slug: str, session: Session | None = None
) -> Preview:
    """Everything an author wants to see about `articles/<lang>/<slug>.md` before publishing it."""
    root = Path(articles_dir)
    path = root / lang / f"{slug}.md"
    preview = Preview(path=f"{lang}/{slug}.md")
    if not path.exists():
        raise NotFound(f"no article file {preview.path}")
    try:
        article = parse_article(path, root, languages=searcher.languages)
    except ArticleError as exc:
        preview.problem = exc.reason
        return preview
    preview.article = article
    preview.html = render_article(article, pages="/articles", media=PREVIEW_MEDIA)
    preview.questions = [{"question": q, "rank": _rank(searcher, q, slug)} for q in article.questions]
    if session is not None:
        rows = session.execute(
            select(SearchLog.query, SearchLog.hits, SearchLog.at)
            .order_by(SearchLog.id.desc())
            .limit(LOGGED_LIMIT)
        ).all()
        seen: set[str] = set()
        for query, hits, at in rows:
            ids = [h.get("id") for h in hits or []]
            if article.id in ids and query not in seen:
                seen.add(query)
                preview.logged.append({"query": query, "rank": ids.index(article.id) + 1, "at": at})
    sections = split_sections(article.body)
    probe = f"{article.title}. {sections[0][1] if sections else plain_text(article.body)}"[:1000]
    for hit in searcher.search(probe, k=6, include_internal=True, use_cache=False).hits:
        if hit.id.split("/", 1)[1] != slug:
            preview.neighbours.append({"id": hit.id, "title": hit.title, "score": hit.score})
    preview.neighbours = preview.neighbours[:5]
    return preview
