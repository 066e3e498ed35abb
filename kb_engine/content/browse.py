"""What the help centre's home and category pages list: public articles by category, one per topic.

An article and its translations share a slug; a customer browsing in one language sees each topic once,
in their language when it exists, else in the other language (the page marks it). Internal articles and
drafts are never listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kb_engine.content.articles import Article
from kb_engine.content.categories import Category, category_of


@dataclass(frozen=True)
class CategoryTile:
    category: Category
    count: int


def one_per_topic(articles: Iterable[Article], lang: str) -> list[Article]:
    """Public, published articles, one per slug: the `lang` version when there is one."""
    chosen: dict[str, Article] = {}
    for art in articles:
        if not art.is_public or art.is_draft:
            continue
        kept = chosen.get(art.slug)
        if kept is None or (art.lang == lang and kept.lang != lang):
            chosen[art.slug] = art
    return list(chosen.values())


def category_tiles(
    articles: Iterable[Article], categories: dict[str, Category], lang: str
) -> list[CategoryTile]:
    """Categories that hold public articles, in the categories file's order (unlisted ones after, by id),
    with how many topics each holds."""
    counts: dict[str, int] = {}
    for art in one_per_topic(articles, lang):
        if art.category:
            counts[art.category] = counts.get(art.category, 0) + 1
    order = [cid for cid in categories if cid in counts] + sorted(c for c in counts if c not in categories)
    tiles = []
    for cid in order:
        found = category_of(categories, cid)
        assert found is not None  # cid is not empty
        tiles.append(CategoryTile(found, counts[cid]))
    return tiles


def in_category(articles: Iterable[Article], category: str, lang: str) -> list[Article]:
    """The public articles of a category, one per topic, by title."""
    found = [a for a in one_per_topic(articles, lang) if a.category == category]
    return sorted(found, key=lambda a: (a.lang != lang, a.title.casefold()))


def recently_updated(articles: Iterable[Article], lang: str, limit: int = 5) -> list[Article]:
    """The most recently updated public articles in `lang` (articles without a date are left out)."""
    dated = [a for a in articles if a.lang == lang and a.is_public and not a.is_draft and a.updated]
    return sorted(dated, key=lambda a: (str(a.updated), a.title), reverse=True)[:limit]
