"""Text normalisation shared by every wing: accent and case folding, the one routine for it."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Words and short phrases are folded again and again (indexing, queries): those are memoised; a whole
# ticket text is not kept (it would hold megabytes for nothing).
_MEMO_CHARS = 64


def fold(text: str) -> str:
    """Lowercase and strip accents ("Écran" -> "ecran"); what the search, the glossary, slugs and the
    priority word lists compare on."""
    if text.isascii():  # nothing to decompose (most words): the same result, ten times faster
        return text.lower()
    if len(text) <= _MEMO_CHARS:
        return _fold_memo(text)
    return _fold_unicode(text)


def _fold_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_fold_memo = lru_cache(maxsize=65536)(_fold_unicode)
