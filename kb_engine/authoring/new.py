"""Writing articles: slugs and the new-article template behind `kb new`.

A new article starts from a template in its language (the headings of docs/article-format.md) with its
front matter filled in and `TODO` placeholders that `kb lint` reports until the author replaces them. Its
slug is the title folded to ASCII; an automatic slug is unique across every language folder, so a new
article never silently becomes the "translation" of an unrelated one. Translations are made on purpose
by giving the slug of the existing article.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kb_engine.authoring import templates
from kb_engine.authoring.templates import KINDS
from kb_engine.content.articles import AUDIENCES, SLUG_RE, Article, parse_article, scan_articles
from kb_engine.content.text import fold
from kb_engine.errors import KBError

MAX_SLUG_CHARS = 80
CLOSE_TITLE = 0.8  # difflib ratio from which two titles are "close"
# Letters that Unicode decomposition does not split into ASCII + accent.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O"})


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


def render_template(
    *,
    title: str,
    lang: str,
    category: str | None,
    audience: str,
    tags: tuple[str, ...],
    updated: dt.date,
    kind: str = "troubleshooting",
    source: Article | None = None,
    questions: Sequence[str] = (),
) -> str:
    """The Markdown text of a new article (a draft): front matter and the sections of its kind in its
    language, or the sections of `source` when it is a translation of that article; `questions` replace
    the placeholder question (a gap's examples)."""
    if kind not in KINDS:
        raise KBError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    lines = templates.front_matter(
        title=title, lang=lang, category=category, audience=audience, tags=tags, updated=updated, kind=kind,
        questions=questions,
    )  # fmt: skip
    lines += templates.translation_body(source, lang) if source else templates.body(kind, lang)
    return "\n".join(lines)


@dataclass(frozen=True)
class NewArticle:
    """What `new_article` wrote."""

    path: Path
    article: Article
    translation_of: tuple[str, ...] = ()  # ids of existing articles with the same slug
    warnings: tuple[str, ...] = ()  # a same or close title exists; a translation was probably meant


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
    kind: str = "troubleshooting",
    questions: Sequence[str] = (),
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
        questions: its first `questions` (default: a placeholder for the author to replace).
        kind: troubleshooting, howto or policy: the sections of the template (a translation takes the
            sections of the article it translates).

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
    warnings = close_titles(root, title, lang, languages) if slug is None else []
    if slug is None:
        slug = unique_slug(root, slugify(title))
    elif not SLUG_RE.match(slug):
        raise KBError(f"slug {slug!r} is not valid: lowercase letters, digits, '-' or '_'")
    others = [other for other in _languages_having(root, slug) if other != lang]
    translated = [parse_article(root / other / f"{slug}.md", root, languages=languages) for other in others]
    source = translated[0] if translated else None
    if source is not None:
        # Tags are search words of one language: a translation gets its own, not the source's.
        category = category or source.category
        audience = audience or source.audience
    text = render_template(
        title=title.strip(),
        lang=lang,
        category=category,
        audience=audience or "public",
        tags=tags,
        updated=today or dt.date.today(),
        kind=kind,
        source=source,
        questions=questions,
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
    article = parse_article(path, root, languages=languages)
    return NewArticle(path, article, tuple(a.id for a in translated), tuple(warnings))


def close_titles(root: Path, title: str, lang: str, languages: tuple[str, ...]) -> list[str]:
    """Warnings before writing a new article: an article of the same language with the same or a close
    title, or one of another language whose slug or title is the new one's (a translation was probably
    meant: its slug is proposed)."""
    scan = scan_articles(root, languages=languages) if root.is_dir() else None
    existing = [*(scan.articles if scan else []), *(scan.drafts if scan else [])]
    wanted, slug = title.strip().casefold(), slugify(title)
    warnings = []
    ids = {article.id for article in existing}
    for article in existing:
        ratio = difflib.SequenceMatcher(None, wanted, article.title.casefold()).ratio()
        if not (article.slug == slug or ratio >= CLOSE_TITLE):
            continue
        if article.lang == lang:
            same = "this slug" if article.slug == slug else "a close title" if ratio < 1 else "the same title"
            warnings.append(f"{article.id} has {same} ({article.title!r}): edit it instead?")
        elif f"{lang}/{article.slug}" not in ids:
            warnings.append(
                f"{article.id} ({article.title!r}) looks like the same article in {article.lang}: "
                f"to translate it, use --slug {article.slug}"
            )
    return warnings
