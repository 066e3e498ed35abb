"""Split an article into the fields that are embedded and matched separately.

An article is many vectors, not one: its title, each of its `questions`, and each section (under its
heading). At query time an article scores by its best-matching fields, so a long article is not diluted
and a customer's phrasing that an author anticipated in `questions` matches directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb_engine.content.articles import Article
from kb_engine.content.plaintext import MENU_MARK, TABLE_MARK, plain_text

KINDS = ("title", "question", "section")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.MULTILINE)
# Long sections are cut into windows so that a match deep inside one is not truncated away by the
# model's 256-token input limit.
WINDOW_WORDS = 120
OVERLAP_WORDS = 30


@dataclass(frozen=True)
class Chunk:
    """One field of one article.

    Attributes:
        article_id: the article's id (`lang/slug`).
        kind: "title", "question" or "section".
        text: what is embedded (a section carries its article title and heading for context).
        heading: the section heading, or "" for the title, questions and the intro.
        passage: plain text shown as a snippet when this chunk is an article's best match.
    """

    article_id: str
    kind: str
    text: str
    heading: str = ""
    passage: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "article_id": self.article_id,
            "kind": self.kind,
            "text": self.text,
            "heading": self.heading,
            "passage": self.passage,
        }


def split_sections(body: str, *, menus: bool = False) -> list[tuple[str, str]]:
    """Markdown body -> [(heading path, section text)], intro first with heading "" (menus: the `>` of
    menu paths marked with MENU_MARK, see `plain_text`)."""
    sections: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    pos = 0
    heading_path = ""
    for match in _HEADING.finditer(body):
        sections.append((heading_path, body[pos : match.start()]))
        level, title = len(match.group(1)), plain_text(match.group(2))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        heading_path = " > ".join(t for _, t in stack)
        pos = match.end()
    sections.append((heading_path, body[pos:]))
    return [(h, text) for h, t in sections if (text := plain_text(t, menus=menus))]


def _windows(words: list[str]) -> list[str]:
    if len(words) <= WINDOW_WORDS:
        return [" ".join(words)]
    step = WINDOW_WORDS - OVERLAP_WORDS
    return [" ".join(words[i : i + WINDOW_WORDS]) for i in range(0, len(words) - OVERLAP_WORDS, step)]


def chunk_article(article: Article) -> list[Chunk]:
    """All chunks of one article: title, then each question, then each section window."""
    return list(_chunks(article))


# Articles are immutable values: a long-lived indexer (`kb watch`) re-chunks only the ones that changed.
@lru_cache(maxsize=20_000)
def _chunks(article: Article) -> tuple[Chunk, ...]:
    # Passages keep the `>` of menu paths ("Settings > Mail > Accounts"); what is embedded does not, as
    # before (the mark is glued to a word, so the windows are the same and so is the embedding cache).
    sections = split_sections(article.body, menus=True)
    lead = _shown(" ".join(_words(sections[0][1]))) if sections else ""
    chunks = [Chunk(article.id, "title", article.title, "", lead)]
    chunks += [Chunk(article.id, "question", q, "", lead) for q in article.questions]
    for heading, text in sections:
        for window in _windows(_words(text)):
            context = f"{article.title}. {heading}." if heading else f"{article.title}."
            embedded = _MARKS.sub("", window)
            chunks.append(Chunk(article.id, "section", f"{context} {embedded}", heading, _shown(window)))
    return tuple(chunks)


def _words(text: str) -> list[str]:
    """The text's words, a mark left alone (a menu separator, a table word's mark after its bold was
    dropped) glued to the word before it: the words are those of the text without marks."""
    words: list[str] = []
    for word in text.split():
        if not _MARKS.sub("", word):
            if words:
                words[-1] += word
        else:
            words.append(word)
    return words


_MARKS = re.compile(f"[{MENU_MARK}{TABLE_MARK}]")
_TABLE_WORDS = re.compile(rf"\S*{TABLE_MARK}\S*\s*")
# A space left where bold or code marks were dropped ("**Accounts**," -> "Accounts ,").
_SPACE_BEFORE = re.compile(r" +(?=[,.)](?:\s|$))")


def _shown(text: str) -> str:
    """A passage as shown: menu paths with their `>`, tables left out, no space before a comma."""
    text = _TABLE_WORDS.sub("", text) if TABLE_MARK in text else text
    return _SPACE_BEFORE.sub("", re.sub(rf"\s*{MENU_MARK}", " >", text)).strip()
