"""Markdown to plain text: what is embedded and indexed, and what snippets show.

`plain_text(md)` drops the Markdown marks (links keep their label). With `menus=True` it also marks, for
the chunker, what a snippet shows differently from what is embedded: the `>` of menu paths (kept in
snippets) and the words of tables (left out of snippets). The marks never change the words, so what is
embedded, and the embedding cache, stay the same (kb_engine.content.chunking).
"""

from __future__ import annotations

import re

_MD_NOISE = re.compile(r"(!?\[([^\]]*)\]\([^)]*\))|[`*_>#|]+")
_MD_NOISE_CHAR = re.compile(r"[\[`*_>#|]")  # a character _MD_NOISE can match starts with one of these


_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.MULTILINE)


# "Settings > Mail > Accounts": a `>` between two words is a menu path's separator, not a quote marker.
_MENU_SEP = re.compile(r"(?<=\S)[ \t]+>[ \t]+(?=\S)")
# What a menu separator becomes with `menus=True`: a word of its own, which the chunker glues to the word
# before it, so that the windows cut from the text, and what is embedded, do not change.
MENU_MARK = "\ue000"
# With `menus=True`, each word of a table row is followed by this mark: a flattened table reads as a
# heap of words ("Network For How to join Example-Corp Company laptops…"), so snippets leave it out.
TABLE_MARK = "\ue001"
_TABLE_ROW = re.compile(r"^[ \t]*\|.*\|[ \t]*$", re.MULTILINE)
_TABLE_WORD = re.compile(r"\S*\w\S*")


def plain_text(markdown_text: str, *, menus: bool = False) -> str:
    """Markdown to readable plain text (for snippets and embedding): links keep their label.

    Args:
        markdown_text: the Markdown.
        menus: mark the `>` of menu paths with MENU_MARK instead of dropping it (snippets show it), and
            the words of table rows with TABLE_MARK (snippets leave them out).
    """
    text = _TABLE_RULE.sub(" ", markdown_text) if "---" in markdown_text else markdown_text
    if menus and "|" in text:
        text = _TABLE_ROW.sub(lambda m: _TABLE_WORD.sub(rf"\g<0>{TABLE_MARK}", m.group(0)), text)
    if menus and ">" in text:
        text = _MENU_SEP.sub(f" {MENU_MARK} ", text)
    if _MD_NOISE_CHAR.search(text):  # most sections of plain prose have nothing to strip
        text = _MD_NOISE.sub(lambda m: m.group(2) or " " if m.group(1) else " ", text)
    return re.sub(r"\s+", " ", text).strip()
