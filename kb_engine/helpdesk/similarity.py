"""Similarity of customers' queries: which tickets are about the same thing.

The ticket service takes an `embed` function (texts -> L2-normalised rows), usually the searcher's
`embedder.encode_queries`, so this library never loads a model itself. Vectors are cached per process:
the same open tickets are compared again and again (queue, merge suggestions, problem proposals).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

import numpy as np
from cachetools import LRUCache

Embed = Callable[[Sequence[str]], np.ndarray]

# Cosine similarity above which two queries are taken to be about the same thing. Calibrated on the
# bundled all-MiniLM-L6-v2: paraphrases of one incident score 0.6-0.9, different problems below 0.45.
SAME_THING = 0.6

CACHE_SIZE = 20000
_cache: LRUCache[tuple[Hashable, str], np.ndarray] = LRUCache(maxsize=CACHE_SIZE)
_lock = threading.Lock()  # LRUCache is not thread-safe; the web app's threads share it


def normalise(text: str) -> str:
    """The form queries are compared and grouped in: lower case, single spaces."""
    return " ".join(text.lower().split())


def embed_texts(embed: Embed, texts: Sequence[str]) -> np.ndarray:
    """Vectors for `texts` (normalised first), computing only those not cached yet.

    Args:
        embed: texts -> L2-normalised float rows.
        texts: the texts, any number (0 gives an empty matrix).

    Returns:
        One row per text, in order.
    """
    keys = [normalise(t) for t in texts]
    with _lock:
        missing = list(dict.fromkeys(k for k in keys if (embed, k) not in _cache))
    if missing:
        fresh = np.asarray(embed(missing), dtype=np.float32)
        with _lock:
            for key, row in zip(missing, fresh, strict=True):
                _cache[(embed, key)] = row
    with _lock:
        rows = []
        for key in keys:
            row = _cache.get((embed, key))
            if row is None:  # evicted by a concurrent caller between the two steps: recompute
                row = np.asarray(embed([key]), dtype=np.float32)[0]
            rows.append(row)
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def similarities(embed: Embed, query: str, texts: Sequence[str]) -> np.ndarray:
    """Cosine similarity of `query` with each of `texts`."""
    if not texts:
        return np.zeros(0, dtype=np.float32)
    matrix = embed_texts(embed, [query, *texts])
    return np.asarray(matrix[1:] @ matrix[0], dtype=np.float32)


def leader_groups(vectors: np.ndarray, threshold: float = SAME_THING) -> list[list[int]]:
    """Group rows about the same thing: each row joins the first group whose leader it resembles.

    Args:
        vectors: L2-normalised rows, in arrival order (the first of a group is its leader).
        threshold: cosine similarity to a leader needed to join its group.

    Returns:
        Groups of row numbers, in order of their leaders; every row is in exactly one group.
    """
    groups: list[list[int]] = []
    leaders: list[int] = []
    for i in range(len(vectors)):
        if leaders:
            sims = vectors[leaders] @ vectors[i]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                groups[best].append(i)
                continue
        leaders.append(i)
        groups.append([i])
    return groups
