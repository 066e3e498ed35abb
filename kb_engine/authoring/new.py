"""Writing articles: slugs and the new-article template behind `kb new`.

A new article starts from a template in its language (the headings of docs/article-format.md) with its
front matter filled in and `TODO` placeholders that `kb lint` reports until the author replaces them. Its
slug is the title folded to ASCII; an automatic slug is unique across every language folder, so a new
article never silently becomes the "translation" of an unrelated one. Translations are made on purpose
by giving the slug of the existing article.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from kb_engine.content.articles import AUDIENCES, PLACEHOLDER, SLUG_RE, Article, parse_article
from kb_engine.content.text import fold
from kb_engine.errors import KBError

MAX_SLUG_CHARS = 80
# Letters that Unicode decomposition does not split into ASCII + accent.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O"})

HEADINGS = {
    "en": ("Symptoms", "Quick checks", "Steps", ("Windows", "macOS", "Phone"), "If it still fails",
           "Before escalating"),
    "fr": ("Symptômes", "Vérifications rapides", "Procédure", ("Windows", "macOS", "Téléphone"),
           "Si le problème persiste", "Avant d'escalader"),
}  # fmt: skip


class SlugTaken(KBError):
    """The article file a `kb new` would write already exists."""

    status = 409
    code = "slug_taken"


def slugify(title: str) -> str:
    """A file-name slug from a title: accents folded, lowercase ASCII words joined by '-'.

    Args:
        title: any title, in any language ("Réinitialiser l'imprimante" -> "reinitialiser-l-imprimante").

    Returns:
        A slug matching the article file-name rule, at most MAX_SLUG_CHARS long ("article" if nothing is
        left of the title).
    """
    slug = re.sub(r"[^a-z0-9]+", "-", fold(title.translate(_LIGATURES))).strip("-")
    if len(slug) > MAX_SLUG_CHARS:
        cut = slug[: MAX_SLUG_CHARS + 1]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut[:MAX_SLUG_CHARS]
    return slug or "article"


def _languages_having(root: Path, slug: str) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / f"{slug}.md").exists())


def unique_slug(root: Path, base: str) -> str:
    """`base`, or `base-2`, `base-3`… : the first slug no language folder of root uses yet."""
    slug, n = base, 1
    while _languages_having(root, slug):
        n += 1
        suffix = f"-{n}"
        slug = base[: MAX_SLUG_CHARS - len(suffix)].rstrip("-") + suffix
    return slug


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: quotes, colons and '#' in titles are safe.
    return json.dumps(text, ensure_ascii=False)


def render_template(
    *,
    title: str,
    lang: str,
    category: str | None,
    audience: str,
    tags: tuple[str, ...],
    updated: dt.date,
) -> str:
    """The Markdown text of a new article: front matter and the section headings of its language."""
    symptoms, checks, steps, platforms, still_fails, escalating = HEADINGS.get(lang, HEADINGS["en"])
    tag_list = ", ".join(_yaml_str(t) for t in tags)
    lines = [
        "---",
        f"title: {_yaml_str(title)}",
        f"lang: {lang}",
        f"category: {category}" if category else f"category: {PLACEHOLDER}",
        f"tags: [{tag_list}]",
        f"audience: {audience}",
        "# A draft is never published: remove this line when the article is finished.",
        "status: draft",
        "# 3 to 6 ways a customer would ask this, in their own vague words (see docs/authoring.md).",
        "questions:",
        f'  - "{PLACEHOLDER}: how a customer would describe the problem"',
        f"updated: {updated.isoformat()}",
        "---",
        "",
        f"{PLACEHOLDER}: one or two lines saying what this article solves.",
        "",
        f"## {symptoms}",
        "",
        f"- {PLACEHOLDER}",
        "",
        f"## {checks}",
        "",
        f"- {PLACEHOLDER}",
        "",
        f"## {steps}",
        "",
    ]
    for platform in platforms:
        lines += [f"### {platform}", "", f"1. {PLACEHOLDER}", ""]
    lines += [f"## {still_fails}", "", f"{PLACEHOLDER}", "", f"## {escalating}", "", f"- {PLACEHOLDER}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class NewArticle:
    """What `new_article` wrote."""

    path: Path
    article: Article
    translation_of: tuple[str, ...] = ()  # ids of existing articles with the same slug


def new_article(
    root: Path,
    title: str,
    *,
    lang: str,
    languages: tuple[str, ...] = ("en", "fr"),
    category: str | None = None,
    audience: str | None = None,
    tags: tuple[str, ...] = (),
    slug: str | None = None,
    today: dt.date | None = None,
) -> NewArticle:
    """Write a new article from the template into `<root>/<lang>/<slug>.md`.

    Args:
        root: the articles folder.
        title: the article's title.
        lang: its language (one of `languages`).
        languages: the knowledge base's languages.
        category: its category; a TODO placeholder when not given (and not taken from a translation).
        audience: "public" or "internal" (default: a translation's, else public).
        tags: its tags.
        slug: an explicit slug, to write the translation of an existing article (same slug, other
            language); its category, tags and audience are copied when not given. Without it, the slug is
            the title's, made unique across all languages.
        today: the `updated` date (default: today).

    Returns:
        A NewArticle: its path, the parsed article and the ids of the articles it translates.

    Raises:
        KBError: bad language, title, slug or audience. SlugTaken: the file already exists.
    """
    root = Path(root)
    if lang not in languages:
        raise KBError(f"language {lang!r} is not one of the knowledge base's ({', '.join(languages)})")
    if not title.strip():
        raise KBError("the title is empty")
    if audience not in (None, *AUDIENCES):
        raise KBError(f"audience must be public or internal, got {audience!r}")
    if slug is None:
        slug = unique_slug(root, slugify(title))
    elif not SLUG_RE.match(slug):
        raise KBError(f"slug {slug!r} is not valid: lowercase letters, digits, '-' or '_'")
    others = [other for other in _languages_having(root, slug) if other != lang]
    translated = [parse_article(root / other / f"{slug}.md", root, languages=languages) for other in others]
    if translated:
        source = translated[0]
        category = category or source.category
        tags = tags or source.tags
        audience = audience or source.audience
    text = render_template(
        title=title.strip(),
        lang=lang,
        category=category,
        audience=audience or "public",
        tags=tags,
        updated=today or dt.date.today(),
    )
    path = root / lang / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never overwrite an article, even one created between the check and the write.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise SlugTaken(f"{path} already exists: choose another --slug or edit that file") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return NewArticle(path, parse_article(path, root, languages=languages), tuple(a.id for a in translated))
