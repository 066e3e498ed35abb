"""Related articles: an article's nearest neighbours in the index (issue 25).

Neighbours by the similarity of their centroids (the mean of an article's chunk vectors), same language,
public only, excluding near-duplicates (two articles this close are one problem twice). Worked out per
article on first use, once per build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kb_engine.content.articles import Article
    from kb_engine.search.searcher import Searcher

NEAR_DUPLICATE = 0.97


def related_articles(searcher: Searcher, article: Article, *, n: int = 3) -> list[Article]:
    """Up to `n` public articles of `article`'s language nearest to it, best first ([] without vectors)."""
    cache: dict[str, list[Article]] = searcher.__dict__.setdefault("_related", {})
    if article.id in cache:
        return cache[article.id][:n]
    centroids = _centroids(searcher)
    found: list[Article] = []
    row = searcher.by_id.get(article.id)
    if centroids is not None and row is not None:
        sims = centroids @ centroids[row]
        for r in np.argsort(-sims).tolist():
            other = searcher.articles[r]
            if r == row or other.lang != article.lang or not searcher.public_mask[r]:
                continue
            if sims[r] < NEAR_DUPLICATE:
                found.append(other)
            if len(found) == 5:
                break
    cache[article.id] = found
    return found[:n]


def _centroids(searcher: Searcher) -> np.ndarray | None:
    """Each article's normalised mean chunk vector (rows of the index's articles); None without a flat
    vector matrix (HNSW builds, degraded mode)."""
    if "_centroids" in searcher.__dict__:
        return searcher.__dict__["_centroids"]
    matrix = getattr(searcher, "_matrix", None)
    out = None
    if matrix is not None:
        out = np.zeros((len(searcher.articles), matrix.shape[1]), dtype=np.float32)
        np.add.at(out, searcher.chunk_rows, matrix)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1.0)
    searcher.__dict__["_centroids"] = out
    return out
