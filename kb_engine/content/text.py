"""Text normalisation shared by the content and search wings: accent and case folding."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def fold(text: str) -> str:
    """Lowercase and strip accents ("Écran" -> "ecran")."""
    if text.isascii():  # nothing to decompose (most words): the same result, ten times faster
        return text.lower()
    return _fold_unicode(text)


@lru_cache(maxsize=65536)
def _fold_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
