"""Similarity levels that depend on the embedding model (tickets about the same thing, content-gap topics)."""

from __future__ import annotations

from kb_engine.search.embedding import is_e5

# Cosine levels that mean "about the same thing" differ per model (e5's queries sit between 0.8 and 0.95,
# MiniLM's between 0 and 0.9): (two tickets the same thing, average distance of one content-gap topic).
# Fitted on the eval sets' query pairs (same article or not) for the same precision as MiniLM's 0.6.
SIMILARITY_LEVELS = {"e5": (0.91, 0.11), "default": (0.6, 0.5)}


def similarity_levels(model: str | None) -> tuple[float, float]:
    """(same-thing similarity, topic distance) for a model setting."""
    return SIMILARITY_LEVELS["e5" if model and is_e5(model) else "default"]
