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

from kb_engine.content.articles import Article, Problem
from kb_engine.content.text import fold


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
        out.append(JargonTerm(text, re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])"), lang))
    return out


def jargon_in(text: str, terms: Sequence[JargonTerm], lang: str) -> list[str]:
    """The words of text that the list names (as written in text), in order, each once."""
    folded = fold(text)
    found: list[tuple[int, str]] = []
    for term in terms:
        if term.lang not in (None, lang):
            continue
        for m in term.pattern.finditer(folded):
            # fold keeps lengths for Latin text; when it does not, show the folded word
            word = text[m.start() : m.end()] if len(folded) == len(text) else m.group(0)
            found.append((m.start(), word))
    seen: dict[str, None] = {}
    for _, word in sorted(found):
        seen.setdefault(word, None)
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
    words = jargon_in(article.title, terms, article.lang)
    if words:
        warnings.append(Problem(article.path, _reason(words, "title"), line=title_line))
    offset = 0
    for line in text.split("\n"):
        words = jargon_in(line, terms, article.lang)
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
