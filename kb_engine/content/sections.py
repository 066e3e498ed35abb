"""An article's sections and their stable anchors.

Every heading of an article gets an anchor: its text slugified with accents folded ("Vérifications
rapides" -> `verifications-rapides`), unique within the article (a repeated heading takes its parent's
anchor as a prefix, `steps-windows`, then a number). Anchors depend on the heading's words only, not on
its position, so they survive edits elsewhere in the article; the search results, the answer card and the
rendered article (`add_heading_ids`) all compute them the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb_engine.content.anchors import unique_anchors
from kb_engine.content.articles import plain_text

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
PATH_SEPARATOR = " > "  # as kb_engine.content.chunking joins a section's heading path


@dataclass(frozen=True)
class Section:
    """One heading of an article and the Markdown under it (down to the next heading of any level).

    Attributes:
        level: 1-6, the number of `#`.
        title: the heading as plain text.
        path: the titles from the top heading down, joined with " > " (the chunks' `heading`).
        anchor: the heading's id on the article page.
        markdown: the section's own Markdown, without its heading.
        start, end: the section's lines in the body ([start, end), heading line included).
    """

    level: int
    title: str
    path: str
    anchor: str
    markdown: str
    start: int
    end: int


def _headings(body: str) -> list[tuple[int, int, str]]:
    """(line number, level, plain title) of the Markdown headings, outside fenced code."""
    found = []
    fenced = False
    for n, line in enumerate(body.split("\n")):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _HEADING.match(line)
        if m:
            found.append((n, len(m.group(1)), plain_text(m.group(2))))
    return found


@lru_cache(maxsize=4096)
def article_sections(body: str) -> tuple[Section, ...]:
    """The sections of an article body, in order (the text before the first heading is not one)."""
    lines = body.split("\n")
    heads = _headings(body)
    anchors = unique_anchors((level, title) for _, level, title in heads)
    sections = []
    stack: list[tuple[int, str]] = []
    for i, ((line, level, title), anchor) in enumerate(zip(heads, anchors, strict=True)):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = heads[i + 1][0] if i + 1 < len(heads) else len(lines)
        sections.append(
            Section(
                level=level,
                title=title,
                path=PATH_SEPARATOR.join(t for _, t in stack),
                anchor=anchor,
                markdown="\n".join(lines[line + 1 : end]).strip("\n"),
                start=line,
                end=end,
            )
        )
    return tuple(sections)


def section_by_path(body: str, path: str) -> Section | None:
    """The section whose heading path is `path` (as the chunks record it), or None."""
    for section in article_sections(body):
        if section.path == path:
            return section
    return None


def section_by_anchor(body: str, anchor: str) -> Section | None:
    for section in article_sections(body):
        if section.anchor == anchor:
            return section
    return None


def subtree_markdown(body: str, section: Section) -> str:
    """A section's Markdown with its sub-sections (their headings included), without its own heading."""
    lines = body.split("\n")
    sections = article_sections(body)
    end = len(lines)
    after = False
    for other in sections:
        if other == section:
            after = True
            continue
        if after and other.level <= section.level:
            end = other.start
            break
    return "\n".join(lines[section.start + 1 : end]).strip("\n")
