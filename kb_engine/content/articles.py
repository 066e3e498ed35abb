"""Articles: Markdown files with YAML front matter under `<root>/<lang>/<slug>.md`.

Parsing never raises on a bad file during a scan: every problem is reported with the file's path and a
reason, and the good files are still returned, so one broken article never blocks the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import markdown
import nh3
import yaml

from kb_engine.content.anchors import add_heading_ids
from kb_engine.content.facets import front_matter_facets
from kb_engine.content.front_matter import FENCE, front_matter_hint, yaml_problem
from kb_engine.content.plaintext import plain_text as plain_text  # where its readers have found it
from kb_engine.errors import ArticleError

AUDIENCES = ("public", "internal")
STATUSES = ("published", "draft")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$")
LANG_RE = re.compile(r"^[a-z]{2}$")
MAX_ARTICLE_BYTES = 2 * 1024 * 1024

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
}


@dataclass(frozen=True)
class Article:
    """One parsed article."""

    id: str
    slug: str
    lang: str
    title: str
    body: str
    path: str
    sha256: str
    tags: tuple[str, ...] = ()
    category: str | None = None
    audience: str = "public"
    questions: tuple[str, ...] = ()
    updated: str | None = None
    status: str = "published"  # "draft": never indexed, seen only in the authors' preview
    # Other front-matter fields holding a word or a list of words (`platform: [windows, macos]`,
    # `product: teams`), lowercased: facet values the clarifying question can use (setting FACET_FIELD).
    facets: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def facet(self, name: str) -> tuple[str, ...]:
        """The values the article declares for a front-matter field (empty when it declares none)."""
        return next((values for key, values in self.facets if key == name), ())

    @property
    def url(self) -> str:
        return f"/articles/{self.lang}/{self.slug}"

    @property
    def is_public(self) -> bool:
        return self.audience == "public"

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "lang": self.lang,
            "title": self.title,
            "body": self.body,
            "path": self.path,
            "sha256": self.sha256,
            "tags": list(self.tags),
            "category": self.category,
            "audience": self.audience,
            "questions": list(self.questions),
            "updated": self.updated,
            "status": self.status,
            "facets": {key: list(values) for key, values in self.facets},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(
            **{
                **data,
                "tags": tuple(data.get("tags") or ()),
                "questions": tuple(data.get("questions") or ()),
                "facets": tuple(
                    (str(key), tuple(str(v) for v in values))
                    for key, values in (data.get("facets") or {}).items()
                ),
            }
        )


@dataclass(frozen=True)
class Problem:
    """A file that could not be used (or a warning about it), why, and the file's line when known."""

    path: str
    reason: str
    line: int | None = None

    @property
    def where(self) -> str:
        """`path:line` (or `path`), the form editors and CI annotations jump to."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "reason": self.reason}

    @classmethod
    def from_error(cls, exc: ArticleError) -> Problem:
        return cls(exc.path, exc.reason, exc.line)


@dataclass
class ScanResult:
    articles: list[Article] = field(default_factory=list)  # the published ones
    problems: list[Problem] = field(default_factory=list)
    drafts: list[Article] = field(default_factory=list)  # `status: draft`: never indexed
    unfinished: dict[str, list[int]] = field(default_factory=dict)  # draft id -> lines of template TODOs


def problem_line(problem: Problem, folder: str | Path = "", level: str = "error") -> str:
    """`articles/en/x.md:18: error: reason`: the form editors, `grep -n` and CI annotations jump to."""
    path = str(Path(folder) / problem.path) if str(folder) not in ("", ".") else problem.path
    where = f"{path}:{problem.line}" if problem.line else path
    return f"{where}: {level}: {problem.reason}"


def article_id(lang: str, slug: str) -> str:
    return f"{lang}/{slug}"


def _str_list(value: Any, what: str, shown: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ArticleError(shown, f"`{what}` must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_article(path: Path, root: Path, *, languages: Iterable[str] = ("en", "fr")) -> Article:
    """Parse one article file (a draft too: see `Article.is_draft`).

    Args:
        path: the Markdown file.
        root: the articles root; the file must resolve inside it (symlinks out of it are refused).
        languages: language folders known to the knowledge base.

    Returns:
        The Article.

    Raises:
        ArticleError: with the path, the reason the file cannot be used and, when known, its line.
    """
    return _parse(path, root, languages=languages)[0]


def _parse(path: Path, root: Path, *, languages: Iterable[str]) -> tuple[Article, int, list[str]]:
    """The Article, the file line its body starts on and the front-matter lines (from file line 2)."""
    root = root.resolve()
    shown = _display_path(path, root)
    real = path.resolve()
    if not real.is_relative_to(root):
        raise ArticleError(shown, "file resolves outside the articles root (symlink or '..'): refused")
    if not real.is_file():
        raise ArticleError(shown, "not a regular file")
    size = real.stat().st_size
    if size > MAX_ARTICLE_BYTES:
        raise ArticleError(shown, f"file is {size} bytes, over the {MAX_ARTICLE_BYTES}-byte limit")
    raw = real.read_bytes()
    if b"\x00" in raw:
        raise ArticleError(shown, "binary file (contains NUL bytes), not Markdown")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArticleError(
            shown, f"not valid UTF-8 (bad byte 0x{raw[exc.start]:02x} on line {line})"
        ) from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("---\n"):
        raise ArticleError(shown, "no front matter (the file must start with a '---' line)")
    lines = text.split("\n")
    closing = next((i for i in range(1, len(lines)) if FENCE.match(lines[i])), None)
    if closing is None:
        raise ArticleError(shown, "the front matter is never closed: add a '---' line after it", line=1)
    front = lines[1:closing]  # front[i] is on file line i + 2
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        at, reason = yaml_problem(exc, front)
        raise ArticleError(shown, f"invalid YAML front matter: {reason}", line=at) from exc
    except (ValueError, TypeError) as exc:
        raise ArticleError(shown, f"invalid front matter: {exc}") from exc
    meta = post.metadata
    if not isinstance(meta, dict) or not meta:
        hint = front_matter_hint(front)
        raise ArticleError(
            shown,
            "front matter is empty or not a mapping" + (f": {hint[1]}" if hint else ""),
            line=hint[0] if hint else 2,
        )
    title = meta.get("title")
    if not isinstance(title, str | int | float) or not str(title).strip():
        hint = front_matter_hint(front)
        raise ArticleError(
            shown,
            "missing title (front matter needs `title:`)" + (f": {hint[1]}" if hint else ""),
            line=hint[0] if hint else 2,
        )
    body = post.content.strip()
    if not body:
        raise ArticleError(shown, "empty body (no text after the front matter)", line=closing + 1)
    body_line = next((i + 1 for i in range(closing + 1, len(lines)) if lines[i].strip()), closing + 2)
    field_line = lambda name: next(  # noqa: E731 - the file line of a front-matter key, for messages
        (i + 2 for i, row in enumerate(front) if row.startswith(f"{name}:")), 2
    )

    rel = real.relative_to(root)
    known = tuple(languages)
    # The language comes from `lang:`, else a language folder (`en/…`), else the knowledge base's first one.
    folder = rel.parts[0].lower() if len(rel.parts) > 1 and LANG_RE.match(rel.parts[0].lower()) else None
    lang = meta.get("lang") or folder or (known[0] if known else None)
    if lang is None:
        raise ArticleError(shown, "no language: put the file under a language folder or set `lang:`")
    lang = str(lang).strip().lower()
    if not LANG_RE.match(lang):
        raise ArticleError(shown, f"`lang` must be a two-letter code, got {lang!r}", line=field_line("lang"))
    if known and lang not in known:
        raise ArticleError(
            shown,
            f"language {lang!r} is not one of the knowledge base's ({', '.join(known)})",
            line=field_line("lang"),
        )
    if folder is not None and folder in known and lang != folder:
        # A copy in en/ marked `lang: fr` would be published as French and outrank the real French one.
        raise ArticleError(
            shown,
            f"`lang: {lang}` disagrees with the file's folder {folder}/: move the file to {lang}/ "
            f"or set `lang: {folder}`",
            line=field_line("lang"),
        )
    slug = real.stem
    if not SLUG_RE.match(slug):
        raise ArticleError(shown, "file name must be a slug: letters, digits, '.', '-' or '_' (no spaces)")
    audience = str(meta.get("audience", "public")).strip().lower()
    if audience not in AUDIENCES:
        raise ArticleError(
            shown, f"`audience` must be public or internal, got {audience!r}", line=field_line("audience")
        )
    status = _status(meta, shown, field_line)
    category = meta.get("category")
    if category is not None and not isinstance(category, str | int):
        raise ArticleError(shown, "`category` must be a string")
    updated = meta.get("updated")
    if isinstance(updated, dt.datetime | dt.date):
        updated = updated.isoformat()[:10]
    elif updated is not None:
        updated = str(updated)
        try:
            dt.date.fromisoformat(updated)
        except ValueError as exc:
            raise ArticleError(
                shown, f"`updated` must be a date (YYYY-MM-DD), got {updated!r}", line=field_line("updated")
            ) from exc
    article = Article(
        id=article_id(lang, slug),
        slug=slug,
        lang=lang,
        title=str(title).strip(),
        body=body,
        path=str(rel),
        sha256=hashlib.sha256(raw).hexdigest(),
        tags=_str_list(meta.get("tags"), "tags", shown),
        category=str(category).strip() if category is not None else None,
        audience=audience,
        questions=_str_list(meta.get("questions"), "questions", shown),
        updated=updated,
        status=status,
        facets=front_matter_facets(meta),
    )
    return article, body_line, front


def _status(meta: dict[str, Any], shown: str, field_line: Any) -> str:
    """`status: draft|published`; `draft: true` (Hugo, Jekyll) means a draft too."""
    if meta.get("draft") is True:
        return "draft"
    status = str(meta.get("status", "published")).strip().lower()
    if status not in STATUSES:
        raise ArticleError(
            shown,
            f"`status` must be draft or published, got {status!r} "
            "(a draft is never published; remove the line to publish)",
            line=field_line("status"),
        )
    return status


def _display_path(path: Path, root: Path) -> str:
    try:
        return str(path.absolute().relative_to(root))
    except ValueError:
        return str(path)


def read_kb_file(articles_dir: Path, name: str) -> tuple[str, str] | None:
    """Text and sha256 of one of the authors' data files beside the articles (glossary, out-of-scope list,
    learned questions); None when the file does not exist. ArticleError when it is not UTF-8."""
    path = Path(articles_dir) / name
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(name, "not valid UTF-8") from exc
    return text, hashlib.sha256(raw).hexdigest()


def iter_article_files(root: Path) -> list[Path]:
    """Every `*.md` file below root (not following symlinked folders), sorted."""
    found = [
        p for p in root.rglob("*.md") if not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


def scan_articles(root: Path, *, languages: Iterable[str] = ("en", "fr")) -> ScanResult:
    """Parse every article under root; bad files and duplicate ids become problems.

    Args:
        root: the articles folder.
        languages: language codes the knowledge base accepts.

    Returns:
        A ScanResult: the good articles (sorted by id) and one Problem per bad file.
    """
    result = ScanResult()
    root = Path(root)
    if not root.is_dir():
        result.problems.append(Problem(str(root), "articles folder does not exist"))
        return result
    seen: dict[str, Article] = {}
    parsed: list[tuple[Article, int, list[str]]] = []
    for path in iter_article_files(root):
        try:
            parsed.append(_parse(path, root, languages=languages))
        except ArticleError as exc:
            result.problems.append(Problem.from_error(exc))
        except OSError as exc:
            result.problems.append(Problem(str(path), f"cannot read: {exc.strerror or exc}"))
    # Of slugs differing only by case (one file on macOS and Windows checkouts), the lowercase one wins.
    parsed.sort(key=lambda pair: (pair[0].slug != pair[0].slug.lower(), pair[0].path))
    folded: dict[str, Article] = {}
    for article, body_line, front in parsed:
        first = seen.get(article.id) or folded.get(article.id.lower())
        if first is not None:
            what = "duplicate id" if first.id == article.id else "slug differs only by case from"
            result.problems.append(
                Problem(
                    article.path,
                    f"{what} {first.id!r} ({first.path}): the two files are one on macOS and Windows; "
                    "rename or delete this one",
                    line=1,
                )
            )
            continue
        unfinished = template_placeholders(article, body_line, front)
        if unfinished and article.is_draft:
            result.unfinished[article.id] = unfinished
        elif unfinished:
            where = ", ".join(map(str, unfinished[:5])) + ("…" if len(unfinished) > 5 else "")
            result.problems.append(
                Problem(
                    article.path,
                    f"unfinished: {PLACEHOLDER} left from the template (line {where}): finish it, or "
                    "add `status: draft` to the front matter to keep it unpublished",
                    line=unfinished[0],
                )
            )
            continue
        seen[article.id] = article
        folded[article.id.lower()] = article
    result.drafts = sorted((a for a in seen.values() if a.is_draft), key=lambda a: a.id)
    result.articles = sorted((a for a in seen.values() if not a.is_draft), key=lambda a: a.id)
    result.problems.sort(key=lambda p: (p.path, p.line or 0))
    return result


PLACEHOLDER = "TODO"
# What the `kb new` templates leave to fill in: a line (or list item) that is, or starts with, "TODO:".
_TEMPLATE_TODO = re.compile(
    rf"^[ \t]*(?:[-*+][ \t]+|\d+[.)][ \t]+)?{PLACEHOLDER}(?:[ \t]*:.*)?[ \t]*$", re.MULTILINE
)


def template_placeholders(article: Article, body_line: int = 1, front: Sequence[str] = ()) -> list[int]:
    """File lines where the article still holds the template's `TODO` placeholders (the front matter
    lines `front`, file lines 2…, are searched for the title, category or question holding one), sorted;
    [] for a finished article.

    Only the template's forms count (a `TODO` line or list item, `TODO: …`, `category: TODO`), so an
    article that mentions a "TODO list" is not unfinished.
    """
    found = []
    fields = (article.title, article.category or "", *article.questions)
    if any(text == PLACEHOLDER or text.startswith(f"{PLACEHOLDER}:") for text in fields):
        found += [i + 2 for i, row in enumerate(front) if PLACEHOLDER in row] or [2]
    body = article.body
    found += [body_line + body.count("\n", 0, m.start()) for m in _TEMPLATE_TODO.finditer(body)]
    return sorted(set(found))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif")
# Python-Markdown's, for the pages. toc: headings get ids (`## Steps` -> id="steps"), so that
# `article.md#steps` links open at the section.
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists", "toc")


def media_path(folder: str, src: str) -> str | None:
    """The articles-root path (posix) of an image an article in `folder` links relatively, or None when
    `src` is not a relative image path inside the root (URL, site path, `..` above the root, not an image)."""
    target = urllib.parse.unquote(src.split("#", 1)[0].split("?", 1)[0])
    if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("/", "\\")):
        return None
    path = posixpath.normpath(posixpath.join(folder, target))
    if path.startswith("../") or path == ".." or not path.lower().endswith(IMAGE_SUFFIXES):
        return None
    return path


def article_media(article: Article) -> set[str]:
    """Articles-root paths of the images an article shows (as `media_path` resolves them)."""
    shown: set[str] = set()
    render_markdown(article.body, folder=posixpath.dirname(article.path), media_seen=shown)
    return shown


# A link to another article of the same folder, as authors write it: `other-article.md#section`.
_ARTICLE_HREF = re.compile(r"(?!https?:|mailto:|tel:|/|#)([a-z0-9][a-z0-9_-]*)\.md(#.*)?", re.DOTALL)


def render_markdown(
    body: str,
    *,
    link_base: str = "",
    media_base: str = "",
    folder: str = "",
    media_seen: set[str] | None = None,
) -> str:
    """Render article Markdown to sanitised HTML.

    Scripts, event handlers, styles and `javascript:` URLs never survive; relative links between articles
    (`other-article.md`) are rewritten to the article page (`link_base`), and images linked relatively
    from the article's `folder` (in the articles root) to `media_base`/<path in the root>, so that they
    show on any page that renders the article. The rewriting is done on each attribute by the sanitiser
    (nh3's `attribute_filter`), never by patterns over the HTML. `media_seen`, if given, receives the
    articles-root path of every image shown. Headings get their anchors as ids
    (kb_engine.content.anchors), so that a search result can link to the section that answers.
    """

    def rewrite(element: str, attribute: str, value: str) -> str | None:
        if element == "a" and attribute == "href" and link_base:
            if match := _ARTICLE_HREF.fullmatch(value):
                return f"{link_base}/{match.group(1)}{match.group(2) or ''}"
        elif element == "img" and attribute == "src":
            path = media_path(folder, value)
            if path is not None:
                if media_seen is not None:
                    media_seen.add(path)
                if media_base:
                    return f"{media_base}/{urllib.parse.quote(path)}"
        return value

    html = markdown.markdown(body, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=rewrite,
    )
    return add_heading_ids(clean)


def render_article(article: Article, *, pages: str, media: str) -> str:
    """An article's sanitised HTML for a page of the site: links to other articles go under `pages`
    (`/articles`, `/console/articles`), its images under `media` (`/kb-media`, `/console/kb-media`)."""
    return render_markdown(
        article.body,
        link_base=f"{pages}/{article.lang}",
        media_base=media,
        folder=posixpath.dirname(article.path),
    )
