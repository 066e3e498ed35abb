"""Heading anchors: slugified, accents folded, unique within an article (see kb_engine.content.sections)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import unescape

from kb_engine.content.text import fold

_NOT_WORD = re.compile(r"[^a-z0-9]+")
# A heading as rendered, with or without the id Python-Markdown's toc extension gave it (ours replaces it:
# accents folded, "Avant d'escalader" -> avant-d-escalader, and repeated headings prefixed by their parent).
_HTML_HEADING = re.compile(r'<h([2-6])(?: id="[^"]*")?>(.*?)</h\1>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
# Ids the pages around an article already use: a heading named "Main" must not take the skip link's target.
RESERVED = frozenset({"main", "q"})


def slugify(text: str) -> str:
    """A heading's anchor: folded (no accents, lower case), words joined by '-'; "section" when empty."""
    return _NOT_WORD.sub("-", fold(text)).strip("-")[:80].strip("-") or "section"


def unique_anchors(headings: Iterable[tuple[int, str]]) -> list[str]:
    """Anchors for (level, title) headings in document order, unique within the list."""
    anchors: list[str] = []
    seen: set[str] = set(RESERVED)
    stack: list[tuple[int, str]] = []  # (level, anchor) of the open parents
    for level, title in headings:
        while stack and stack[-1][0] >= level:
            stack.pop()
        base = slugify(title)
        anchor = base
        if anchor in seen and stack:
            anchor = f"{stack[-1][1]}-{base}"
        n = 2
        while anchor in seen:
            anchor, n = f"{base}-{n}", n + 1
        seen.add(anchor)
        anchors.append(anchor)
        stack.append((level, anchor))
    return anchors


def add_heading_ids(html: str) -> str:
    """Give the h2-h6 headings of rendered article HTML their anchors as ids (as `article_sections`
    computes them from the Markdown: the same words give the same anchor)."""
    matches = [m for m in _HTML_HEADING.finditer(html)]
    if not matches:
        return html
    anchors = unique_anchors((int(m.group(1)), unescape(_TAG.sub("", m.group(2))).strip()) for m in matches)
    out, pos = [], 0
    for m, anchor in zip(matches, anchors, strict=True):
        out.append(html[pos : m.start()])
        out.append(f'<h{m.group(1)} id="{anchor}">{m.group(2)}</h{m.group(1)}>')
        pos = m.end()
    out.append(html[pos:])
    return "".join(out)
