"""Facets an article declares in its front matter (issue 26): any field other than the article's own
whose value is a word or a list of words (`platform: [windows, macos]`, `product: teams`). The setting
FACET_FIELD says which one holds the platforms the clarifying question offers; `kb lint` checks it."""

from __future__ import annotations

import re
from typing import Any

# Front-matter fields with a meaning of their own: never facets.
_OWN_FIELDS = frozenset(
    {"title", "lang", "category", "tags", "audience", "questions", "updated", "status", "draft"}
)
_FACET_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def front_matter_facets(meta: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The other fields whose value is a word or a list of words, values lowercased (at most 20 each);
    anything else (mappings, long text) is not a facet and is left out: `kb lint` checks the configured
    facet field itself."""
    found = []
    for key, value in meta.items():
        if not isinstance(key, str) or key in _OWN_FIELDS or not _FACET_KEY.match(key):
            continue
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and 0 < len(v.strip()) <= 40 for v in values):
            continue
        found.append((key, tuple(dict.fromkeys(v.strip().lower() for v in values))[:20]))
    return tuple(found)
