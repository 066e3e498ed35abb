"""`kb lint`'s semantic checks, with the embedding model: near-duplicate articles, and `questions` that
another article's text answers better than their own article's.

Run on the whole knowledge base, two articles of one language are near-duplicates from a fixed
similarity (DUPLICATE_SIMILARITY). Run for the files being changed (`kb lint PATHS`, `--changed`), each
changed article is compared with every other, from a threshold fitted on the knowledge base itself: just
above the closest pair of untouched articles, which the knowledge base already accepts as distinct (so
the shipped KB stays quiet, and a new article closer to an existing one than any two existing ones are is
reported, even under the fixed threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kb_engine.content.articles import Article, Problem
from kb_engine.content.chunking import chunk_article

# Both fixed thresholds were chosen on the shipped knowledge base with all-MiniLM-L6-v2.
# Cosine similarity of two articles' mean chunk vectors (same language) from which they are reported as
# near-duplicates: the closest distinct shipped articles (French "email not sending" / "not receiving")
# score 0.90, a copy of an article with its intro reworded scores about 0.99.
DUPLICATE_SIMILARITY = 0.92
# A question is reported when another article's text matches it better than its own article's text by
# this much (cosine). The model is weaker in French, so smaller margins mostly flag noise there.
QUESTION_MARGIN = 0.2
# The fitted threshold: this much above the closest untouched pair, and never below FITTED_FLOOR (a KB of
# a few unrelated articles would otherwise call any new article a duplicate).
FITTED_MARGIN = 0.005
FITTED_FLOOR = 0.85

Embed = Callable[[Sequence[str]], np.ndarray]
"""Texts -> L2-normalised vectors, one row per text (an embedder, usually behind the embedding cache)."""


def fitted_threshold(similarity: np.ndarray, same_lang: np.ndarray, changed: np.ndarray) -> float:
    """The near-duplicate threshold for changed articles of one language (the rows of `same_lang` are
    that language's): just above its closest pair of untouched articles, at least FITTED_FLOOR
    (DUPLICATE_SIMILARITY when fewer than two are untouched)."""
    untouched = same_lang & ~changed[:, None] & ~changed[None, :]
    if not untouched.any():
        return DUPLICATE_SIMILARITY
    return max(FITTED_FLOOR, float(similarity[untouched].max()) + FITTED_MARGIN)


def check_semantic(
    articles: list[Article],
    embed: Embed,
    duplicate_similarity: float,
    margin: float,
    warnings: list[Problem],
    focus: set[str] | None = None,
) -> None:
    """Near-duplicates and questions answered better by another article (see the module docstring).

    With `focus` (the ids of the articles being changed), only pairs with a focus article are reported,
    always named after the focus article, and the duplicate threshold is fitted on the knowledge base
    itself: the closest pair of untouched articles is what it accepts as distinct.
    """
    chunks = [chunk_article(a) for a in articles]
    rows = np.repeat(np.arange(len(articles)), [len(c) for c in chunks])
    question = np.array([c.kind == "question" for cs in chunks for c in cs])
    vectors = np.asarray(embed([c.text for cs in chunks for c in cs]), dtype=np.float32)
    centroids = np.stack([vectors[rows == i].mean(axis=0) for i in range(len(articles))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
    langs = np.array([a.lang for a in articles])
    slugs = np.array([a.slug for a in articles])

    similarity = centroids @ centroids.T
    same_lang = (langs[:, None] == langs[None, :]) & ~np.eye(len(articles), dtype=bool)
    threshold = np.full(len(articles), duplicate_similarity, dtype=np.float32)
    if focus is None:
        pairs = zip(*np.nonzero(np.triu((similarity >= duplicate_similarity) & same_lang, k=1)), strict=True)
    else:
        changed = np.array([a.id in focus for a in articles])
        for lang in set(langs.tolist()):
            rows_of = langs == lang
            threshold[rows_of] = fitted_threshold(similarity, same_lang & rows_of[:, None], changed)
        close = (similarity >= threshold[:, None]) & same_lang & changed[:, None]
        close &= ~(changed[None, :] & (np.arange(len(articles))[None, :] < np.arange(len(articles))[:, None]))
        pairs = zip(*np.nonzero(close), strict=True)
    for i, j in pairs:
        a, b = articles[i], articles[j]
        warnings.append(
            Problem(
                a.path,
                f"near-duplicate of {b.id} ({b.path}), similarity {similarity[i, j]:.3f}"
                + ("" if focus is None else f", closer than any two untouched ones (< {threshold[i]:.3f})")
                + ": merge them, or make each one's problem distinct",
            )
        )

    # A question is compared with what each article says (title and sections), not with other questions:
    # "answered better" means another article's text is closer to it than its own article's text.
    content = ~question
    for q in np.flatnonzero(question):
        own = int(rows[q])
        if focus is not None and articles[own].id not in focus:
            continue
        best = np.full(len(articles), -np.inf, dtype=np.float32)
        np.maximum.at(best, rows[content], vectors[content] @ vectors[q])
        rivals = (langs == langs[own]) & (slugs != slugs[own])
        if not rivals.any():
            continue
        rival = int(np.flatnonzero(rivals)[np.argmax(best[rivals])])
        if best[rival] > best[own] + margin:
            text = chunks[own][int(q - np.flatnonzero(rows == own)[0])].text
            warnings.append(
                Problem(
                    articles[own].path,
                    f"question {text!r} is answered better by {articles[rival].id}: its text is closer "
                    f"({best[rival]:.2f}) than this article's ({best[own]:.2f}); move the question there, "
                    "or make this article answer it",
                )
            )
