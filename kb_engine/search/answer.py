"""The answer card (issue 26): the section of the first hit that answers, in the article's own words.

Never text the articles do not contain: the card is the best section's own Markdown (with its
sub-sections), rendered and sanitised exactly as the article page renders it, cut at a block boundary when
long ("read the whole article" then opens the article at that section), with the query's words and their
glossary equivalents marked.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from kb_engine.content.articles import Article, render_markdown
from kb_engine.content.glossary import Glossary
from kb_engine.content.sections import section_by_path, subtree_markdown
from kb_engine.errors import NotFound
from kb_engine.search.highlight import query_terms
from kb_engine.search.lexical import analyzer

CARD_CHARS = 900  # about one phone screen of steps
_BLOCK = re.compile(r"\n\s*\n")
_TEXT_OR_TAG = re.compile(r"(<[^>]+>)")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_NO_MARK_IN = ("a", "code", "pre", "kbd")


@dataclass(frozen=True)
class AnswerCard:
    """What the results page, the widget and the auto-reply show above the results."""

    article_id: str
    title: str
    heading: str  # the section's heading path, "Steps > Windows"
    anchor: str
    url: str  # the article at that section
    html: str  # sanitised HTML of the section, cut, query words in <mark>
    markdown: str  # the same part of the section, as the author wrote it (for plain-text email)
    truncated: bool


def _cut(markdown: str, limit: int) -> tuple[str, bool]:
    """The section's first blocks (paragraphs, whole lists, tables) within `limit` characters; at least one
    block, so a list is never cut in the middle."""
    blocks = _BLOCK.split(markdown.strip())
    out: list[str] = []
    size = 0
    for block in blocks:
        if out and size + len(block) > limit:  # a block that does not fit is left out whole
            return "\n\n".join(out), True
        out.append(block)
        size += len(block)
    return "\n\n".join(out), False


def highlight(html: str, terms: frozenset[str], lang: str) -> str:
    """Wrap the words of `html` whose stem is one of `terms` in <mark> (text outside links and code)."""
    if not terms:
        return html
    an = analyzer(lang)
    depth = 0  # inside an element where marks would be noise (links, code)
    out = []
    for part in _TEXT_OR_TAG.split(html):
        if part.startswith("<"):
            name = part.strip("</>").split()[0].lower() if part.strip("</>") else ""
            if name in _NO_MARK_IN:
                depth += -1 if part.startswith("</") else 1
            out.append(part)
            continue
        if depth > 0 or not part:
            out.append(part)
            continue

        def mark(m: re.Match[str]) -> str:
            stems = an.analyse(m.group(0))[1]
            return f"<mark>{m.group(0)}</mark>" if stems and all(s in terms for s in stems) else m.group(0)

        out.append(_WORD.sub(mark, part))
    return "".join(out)


def answer_card(
    article: Article,
    heading: str,
    query: str,
    glossary: Glossary,
    *,
    pages: str = "/articles",
    media: str = "/kb-media",
    limit: int = CARD_CHARS,
) -> AnswerCard | None:
    """The card for `article`'s section `heading` (a hit's `section["heading"]`); None when the article no
    longer has that section."""
    section = section_by_path(article.body, heading)
    if section is None:
        return None
    markdown, truncated = _cut(subtree_markdown(article.body, section), limit)
    if not markdown.strip():
        return None
    html = render_markdown(
        markdown,
        link_base=f"{pages}/{article.lang}",
        media_base=media,
        folder=posixpath.dirname(article.path),
    )
    # Sub-headings inside the card would duplicate the article's anchors on a page that links to them.
    html = re.sub(r'<h([2-6]) id="[^"]*">', r"<h\1>", html)
    return AnswerCard(
        article_id=article.id,
        title=article.title,
        heading=heading,
        anchor=section.anchor,
        url=f"{article.url}#{section.anchor}",
        html=highlight(html, query_terms(query, article.lang, glossary), article.lang),
        markdown=markdown,
        truncated=truncated,
    )


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|`)")


def plain_card(card: AnswerCard, base_url: str = "", query: str = "") -> str:
    """The card as plain text (email): the section's words with its lists kept (links keep their label,
    no Markdown emphasis), and the address of the whole article at that section."""
    text = _MD_EMPHASIS.sub("", _MD_LINK.sub(lambda m: m.group(1), card.markdown))
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)
    page, anchor = card.url.split("#", 1)
    link = f"{base_url}{page}{'?' + query if query else ''}#{anchor}"
    return f"{card.title} › {card.heading.replace(' > ', ' › ')}\n\n{text}\n\n{link}"


def response_card(searcher: Any, response: Any, *, base_url: str = "", query: str = "") -> str | None:
    """The plain-text card of a search response (its first hit's section) when it is answered."""
    if not response.answered or not response.hits or not response.hits[0].section:
        return None
    hit = response.hits[0]
    card = answer_card(searcher.article(hit.id), hit.section["heading"], response.query, searcher.glossary)
    return plain_card(card, base_url, query) if card is not None else None


def card_of(
    searcher: Any,
    response: Any,
    *,
    include_internal: bool = False,
    pages: str = "/articles",
    media: str = "/kb-media",
) -> AnswerCard | None:
    """The answer card of a search response: its first hit's best section, when the engine is confident
    (not for an out-of-scope answer; internal articles only when `include_internal`); `pages` and
    `media`: where its links point (the console's own pages, for agents)."""
    if not response.answered or not response.hits or getattr(response, "redirect", None):
        return None
    hit = response.hits[0]
    if not hit.section or (hit.audience != "public" and not include_internal):
        return None
    try:
        article = searcher.article(hit.id, include_internal=include_internal)
    except NotFound:
        return None
    return answer_card(
        article, hit.section["heading"], response.query, searcher.glossary, pages=pages, media=media
    )


def card_dict(card: AnswerCard) -> dict[str, Any]:
    """The card as the JSON API answers it (`answer=1`): the section's sanitised HTML and its plain text."""
    return {
        "article_id": card.article_id,
        "title": card.title,
        "heading": card.heading,
        "anchor": card.anchor,
        "url": card.url,
        "html": card.html,
        "text": plain_card(card),
        "truncated": card.truncated,
    }
