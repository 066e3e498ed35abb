"""Which words of a result's title and snippet to highlight for a query.

A word is highlighted when its stem is one of the query's stems (in the result's language), or of the
glossary's equivalents of the query ("mdp" -> "mot de passe"): "printing" lights up for "printer won't
print", "réinitialiser" for "reinitialisation". Stop words never light up. The web page escapes the text
and wraps these spans in `<mark>`; this module only finds them. The answer card marks the same terms
in its HTML (`kb_engine.search.answer.highlight`).
"""

from __future__ import annotations

import re

from kb_engine.content.glossary import Glossary
from kb_engine.content.text import fold
from kb_engine.search.lexical import analyzer

_WORD = re.compile(r"\w+")


def query_terms(query: str, lang: str, glossary: Glossary | None = None) -> frozenset[str]:
    """Stems of the query's words and of their glossary equivalents, in `lang`: what lights up in a
    result's title and snippet, and in the answer card (`kb_engine.search.answer`)."""
    extra = " ".join(glossary.expand(query).get(lang, [])) if glossary is not None else ""
    return frozenset(analyzer(lang).analyse(f"{query} {extra}")[1])


def highlight_spans(text: str, stems: frozenset[str], lang: str) -> list[tuple[int, int]]:
    """(start, end) of the words of text whose stem is in stems, in order; neighbours merged, with the
    stop words between them ("mot de passe" is one span)."""
    if not stems or not text:
        return []
    words = analyzer(lang)
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        word = m.group(0).lower()
        if len(word) < 2 and not word.isdigit() or fold(word) in words.stopwords:
            continue
        if words.stem(word) in stems:
            if spans and _only_stopwords(text[spans[-1][1] : m.start()], words.stopwords):
                spans[-1] = (spans[-1][0], m.end())
            else:
                spans.append((m.start(), m.end()))
    return spans


def _only_stopwords(gap: str, stopwords: set[str]) -> bool:
    """Whether the text between two highlighted words is spaces, apostrophes, hyphens and stop words."""
    if not re.fullmatch(r"[\w\s'’-]*", gap):
        return False
    return all(fold(w) in stopwords or len(w) < 2 for w in _WORD.findall(gap.lower()))
