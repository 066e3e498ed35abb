"""The desk's jargon in public articles: tiers (L2, niveau 3), "escalate", internal tools.

Customers do not know the desk's tiers or tools: "L2 traces the device in the domain controller logs"
tells them nothing they can act on, "a technician finds which device keeps trying" does. `kb lint` warns
on each line of a public article (title, headings, text; code aside) holding a term of the word list
(setting `KB_LINT_JARGON`); internal articles are written for agents and are exempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kb_engine.content.articles import Article, Problem
from kb_engine.content.text import fold

_BEFORE, _AFTER = "(?<![a-z0-9])", "(?![a-z0-9])"  # a whole word or phrase (text folded: a-z, 0-9)


@dataclass(frozen=True)
class JargonTerm:
    """One term of the word list: what is shown, the pattern it is found by, the languages it applies to."""

    shown: str
    pattern: re.Pattern[str]
    lang: str | None = None  # None: every language


def parse_jargon(terms: Iterable[str]) -> list[JargonTerm]:
    """The word list as written in the setting (`escalat*`, `fr:niveau 2`) -> terms to look for.

    Raises:
        ValueError: a term that is empty once its language prefix is removed.
    """
    out = []
    for raw in terms:
        text = raw.strip()
        lang = None
        prefix = re.match(r"^([a-z]{2}):", text)
        if prefix:
            lang, text = prefix.group(1), text[prefix.end() :].strip()
        if not text or text == "*":
            raise ValueError(f"empty jargon term: {raw!r}")
        wildcard = text.endswith("*")
        words = fold(text.rstrip("*")).split()
        body = r"\s+".join(re.escape(w) for w in words) + (r"[a-z0-9]*" if wildcard else "")
        out.append(JargonTerm(text, re.compile(f"{_BEFORE}{body}{_AFTER}"), lang))
    return out


@lru_cache(maxsize=32)
def _one_pattern(terms: tuple[JargonTerm, ...], lang: str) -> re.Pattern[str] | None:
    """Every term of a language in one pattern: one pass over a line instead of one per term."""
    chosen = [t for t in terms if t.lang in (None, lang)]
    if not chosen:
        return None
    parts = [t.pattern.pattern.removeprefix(_BEFORE).removesuffix(_AFTER) for t in chosen]
    # Tried only where a word starts, not on every character of every line (6x quicker), when every term
    # starts with a letter or digit (`.net` would not be found after a space then).
    start = r"\b" if all(fold(t.shown)[:1].isalnum() for t in chosen) else ""
    return re.compile(rf"{start}{_BEFORE}(?:{'|'.join(parts)}){_AFTER}")


def jargon_in(text: str, terms: Sequence[JargonTerm], lang: str) -> list[str]:
    """The words of text that the list names (as written in text), in order, each once."""
    return _found(text, _one_pattern(tuple(terms), lang))


def _found(text: str, pattern: re.Pattern[str] | None) -> list[str]:
    if pattern is None:
        return []
    folded = fold(text)
    seen: dict[str, None] = {}
    for m in pattern.finditer(folded):
        # fold keeps lengths for Latin text; when it does not, show the folded word
        seen.setdefault(text[m.start() : m.end()] if len(folded) == len(text) else m.group(0), None)
    return list(seen)


def check_jargon(
    article: Article,
    text: str,
    line_of: Callable[[int], int],
    terms: Sequence[JargonTerm],
    warnings: list[Problem],
    title_line: int | None = None,
) -> None:
    """Warn on each line of a public article's title and body (text: code blanked) that holds jargon."""
    if not terms or not article.is_public:
        return
    pattern = _one_pattern(tuple(terms), article.lang)
    words = _found(article.title, pattern)
    if words:
        warnings.append(Problem(article.path, _reason(words, "title"), line=title_line))
    offset = 0
    for line in text.split("\n"):
        words = _found(line, pattern)
        if words:
            warnings.append(Problem(article.path, _reason(words), line=line_of(offset)))
        offset += len(line) + 1


def _reason(words: Sequence[str], where: str = "") -> str:
    quoted = ", ".join(f'"{w}"' for w in words)
    place = f" in the {where}" if where else ""
    return (
        f"desk jargon{place} of a public article: {quoted}; customers do not know the desk's tiers or "
        'tools: say who helps them and what to have ready ("a technician", "the network team", '
        '"contact support") or make the article internal'
    )
