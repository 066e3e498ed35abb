"""The links and images of an article body, read from its Markdown tree (markdown-it-py, CommonMark and
tables) rather than matched with regular expressions: code spans, fenced and indented code, autolinks,
URLs with parentheses and reference links are what a Markdown renderer makes of them.

`kb lint` checks these; `tests/test_lint.py` proves that they are exactly the links and images the
renderer (`render_markdown`, Python-Markdown) puts on the page for every shipped article.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from kb_engine.content.articles import IMAGE_SUFFIXES


@dataclass(frozen=True)
class Reference:
    """One link or image: its target as written (entities and escapes decoded) and its line in the body
    (1-based)."""

    is_image: bool
    target: str
    line: int
    # False for a reference definition no link uses: nothing on the page, but still the author's text.
    shown: bool = True


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table")
    # Every destination as written: no percent-encoding (messages quote the author's text), and no
    # dropping of `javascript:` links (lint reports them; the renderer's sanitiser removes them).
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


_MD = _parser()


class _HtmlRefs(HTMLParser):
    """`<a href>` and `<img src>` of raw HTML written in the Markdown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[bool, str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.found.append((tag == "img", value, self.getpos()[0]))


def _html(content: str, line: int) -> list[Reference]:
    parser = _HtmlRefs()
    parser.feed(content)
    parser.close()
    return [Reference(is_image, target, line + offset - 1) for is_image, target, offset in parser.found]


def _inline(token: Token, line: int) -> list[Reference]:
    found: list[Reference] = []
    for child in token.children or ():
        if child.type in ("softbreak", "hardbreak"):
            line += 1
        elif child.type == "link_open":
            found.append(Reference(False, str(child.attrs.get("href", "")), line))
        elif child.type == "image":
            found.append(Reference(True, str(child.attrs.get("src", "")), line))
        elif child.type == "html_inline":
            found += _html(child.content, line)
        elif child.type == "text":
            line += child.content.count("\n")
    return found


def references(body: str) -> list[Reference]:
    """Every link and image of a Markdown body, in order (reference links resolved to their definition),
    then the reference definitions no link uses (`shown` False; an image if the target is an image file).

    Args:
        body: the article's Markdown, without its front matter.

    Returns:
        The references; `line` counts from the body's first line (1).
    """
    found: list[Reference] = []
    env: dict[str, Any] = {}
    for token in _MD.parse(body, env):
        line = token.map[0] + 1 if token.map else 1
        if token.type == "inline":
            found += _inline(token, line)
        elif token.type == "html_block":
            found += _html(token.content, line)
    used = {r.target for r in found}
    for definition in env.get("references", {}).values():
        if definition["href"] not in used:
            target = definition["href"]
            line = definition["map"][0] + 1 if definition.get("map") else 1
            found.append(Reference(target.lower().endswith(IMAGE_SUFFIXES), target, line, shown=False))
    return found
