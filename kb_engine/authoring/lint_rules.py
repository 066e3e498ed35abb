"""The documented writing rules `kb lint` checks, and the "did you mean" it proposes.

The rules (docs/article-format.md): no `# H1` in the body (the title is the page's H1), heading levels
that do not skip (H2, then H3), images with alt text (screen readers read it), links to a `#section`
that exists. The suggestions: the closest existing article, image or category to a name that does not
exist (difflib, on the names the knowledge base has).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from kb_engine.content.articles import IMAGE_SUFFIXES, Article, Problem, render_markdown

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_EMPTY_ALT = re.compile(r"!\[[ \t]*\]\(")
_HTML_ID = re.compile(r"<h[1-6] id=\"([^\"]+)\"")


def did_you_mean(name: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`; did you mean X?` for the closest of `known` to name, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]}?" if close else ""


@cache
def _anchors(body: str) -> tuple[str, ...]:
    return tuple(_HTML_ID.findall(render_markdown(body)))


def anchors(article: Article) -> tuple[str, ...]:
    """The `#ids` of an article page's headings (as the site renders them)."""
    return _anchors(article.body)


def check_headings(article: Article, text: str, line_of, warnings: list[Problem]) -> None:
    """No H1 in the body; heading levels do not skip (text: the body with code blanked)."""
    previous = 1  # the title is the page's H1
    for m in _HEADING.finditer(text):
        level, line = len(m.group(1)), line_of(m.start())
        if level == 1:
            warnings.append(
                Problem(
                    article.path,
                    f"`# {m.group(2)}` is a second H1: the title is the page's H1; use `## {m.group(2)}`",
                    line=line,
                )
            )
        elif level > previous + 1:
            warnings.append(
                Problem(
                    article.path,
                    f"heading level skips from H{previous} to H{level} (`{m.group(1)} {m.group(2)}`): "
                    f"use `{'#' * (previous + 1)} {m.group(2)}`",
                    line=line,
                )
            )
        previous = level


def check_alt_text(article: Article, text: str, line_of, warnings: list[Problem]) -> None:
    for m in _EMPTY_ALT.finditer(text):
        warnings.append(
            Problem(
                article.path,
                "image without alt text: say what it shows, for screen readers and when it does not load "
                "(`![The printer's paper tray](img/tray.png)`)",
                line=line_of(m.start()),
            )
        )


def check_anchor(
    article: Article, target: Article, fragment: str, line: int, warnings: list[Problem]
) -> None:
    """A link to `#fragment` of target (the article itself for `#x`) needs a heading with that id."""
    ids = anchors(target)
    if fragment and fragment not in ids:
        where = "this article" if target.id == article.id else target.id
        hint = did_you_mean(fragment, ids, cutoff=0.4) or (
            f"; its sections are {', '.join('#' + i for i in ids)}" if ids else "; it has no sections"
        )
        warnings.append(
            Problem(
                article.path,
                f"link to #{fragment}: {where} has no such section (the page opens at the top){hint}",
                line=line,
            )
        )


def image_suggestion(root: Path, folder: Path, target: str) -> str:
    """`; did you mean img/x.png?` for a missing image: the image file of the articles folder whose name
    is closest (suffix aside: `tray.jpg` finds `tray.png`), written relative to the article's folder."""
    by_stem: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            shown = os.path.relpath(path, folder)
            by_stem.setdefault(path.stem.lower(), []).append(shown)
    close = difflib.get_close_matches(Path(target).stem.lower(), sorted(by_stem), n=1, cutoff=0.6)
    if not close:
        return ""
    candidates = by_stem[close[0]]
    best = difflib.get_close_matches(target, candidates, n=1, cutoff=0) or candidates
    return f"; did you mean {best[0]}?"
