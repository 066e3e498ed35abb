"""`kb lint`: every problem with the articles folder, with the file, the line and the reason.

Errors make `kb lint` exit 1 (CI fails): files that cannot be parsed or indexed, links to articles or files
that do not exist, images that do not exist, `TODO` placeholders left from the `kb new` template, a broken
glossary, routing, out-of-scope, learned-questions or canned-replies file, approved questions for an
article that does not exist. Warnings are reported and do not fail CI (unless `--strict`): no or few
`questions`, the desk's jargon in a public article (`lint_jargon`), a missing translation, translations
that disagree on category or audience, stale or missing
`updated` dates, remote images, a canned reply missing a language, and the two semantic checks, which need
the embedding model: near-duplicate articles and `questions` that another article matches better than
their own.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.authoring.lint_jargon import check_jargon, parse_jargon
from kb_engine.authoring.lint_rules import (
    check_alt_text,
    check_anchor,
    check_headings,
    did_you_mean,
    image_suggestion,
)
from kb_engine.authoring.lint_semantic import DUPLICATE_SIMILARITY, QUESTION_MARGIN, Embed, check_semantic
from kb_engine.config import defaults
from kb_engine.content.articles import (
    PLACEHOLDER,
    Article,
    Problem,
    iter_article_files,
    scan_articles,
)
from kb_engine.content.canned import FILENAME as CANNED_FILE
from kb_engine.content.canned import load_canned
from kb_engine.content.glossary import load_glossary
from kb_engine.content.learned import apply_learned, load_learned
from kb_engine.content.links import references
from kb_engine.content.platforms import load_platforms
from kb_engine.content.scope import load_scope
from kb_engine.errors import ArticleError, KBError
from kb_engine.helpdesk.routing import FILENAME as ROUTING_FILE
from kb_engine.helpdesk.routing import load_routing
from kb_engine.search.sections import Platforms, platforms_for

STALE_DAYS = 365
MIN_QUESTIONS = 3
SAFE_SCHEMES = ("http", "https", "mailto", "tel")


@dataclass
class LintResult:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    semantic: bool = False  # whether the checks needing the embedding model ran

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": not self.problems,
            "semantic": self.semantic,
            "errors": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
        }


def lint_articles(
    root: Path,
    *,
    languages: tuple[str, ...] = ("en", "fr"),
    stale_days: int = STALE_DAYS,
    today: dt.date | None = None,
    embed: Embed | None = None,
    duplicate_similarity: float = DUPLICATE_SIMILARITY,
    question_margin: float = QUESTION_MARGIN,
    only: Collection[str] | None = None,
    jargon: Sequence[str] | None = None,
    facet_field: str = "platform",
) -> LintResult:
    """Check every article (and the glossary and routing files) below root.

    Args:
        root: the articles folder.
        languages: the knowledge base's languages (a slug missing in one of them is a missing translation).
        stale_days: an `updated` date older than this many days is stale.
        today: the date stale dates are counted from (default: today).
        embed: embeds chunk texts; when given, the semantic checks (near-duplicates, questions matched
            better by another article) run too.
        duplicate_similarity: article similarity from which two articles are near-duplicates.
        question_margin: how much better another article must match one of an article's questions.
        only: report only these files (paths in root, e.g. `en/x.md`: the files being changed); the whole
            knowledge base is still read (links, translations, and the near-duplicate check against every
            article, with a threshold fitted on the untouched articles instead of `duplicate_similarity`).
        jargon: the desk's words public articles should not use (setting `LINT_JARGON`; None: its
            default list; empty: no check).
        facet_field: the front-matter field articles declare their platforms in (setting FACET_FIELD):
            its values must be platforms of the vocabulary or of `platforms.yml`.

    Returns:
        A LintResult: errors (`problems`) and warnings, each with the file and the reason.
    """
    root = Path(root)
    result = LintResult()
    scan = scan_articles(root, languages=languages)
    files = iter_article_files(root) if root.is_dir() else []
    result.checked = len(files)
    result.problems.extend(scan.problems)
    articles = scan.articles
    _check_support_files(root, articles, languages, result)
    for draft in scan.drafts:
        unfinished = scan.unfinished.get(draft.id)
        left = f"; {PLACEHOLDER} left on line {', '.join(map(str, unfinished))}" if unfinished else ""
        lines = (root / draft.path).read_text(encoding="utf-8").split("\n")
        at = next((i + 1 for i, text in enumerate(lines) if re.match(r"(status|draft):", text)), 1)
        result.warnings.append(
            Problem(draft.path, f"draft: not published until `status: draft` is removed{left}", line=at)
        )
    by_id = {a.id: a for a in articles}
    present = set(by_id) | {f"{p.parent.name}/{p.stem}" for p in files}
    routes = _routing_categories(root, result)
    terms = parse_jargon(defaults()["LINT_JARGON"].split(",") if jargon is None else jargon)
    platforms = platforms_for(root, facet_field)
    for article in [*articles, *scan.drafts]:
        source = _Source.read(root, article)
        _check_links(root, article, source, by_id, present, result)
        _check_questions(article, result)
        _check_updated(article, today or dt.date.today(), stale_days, result)
        check_headings(article, source.text, source.line, result.warnings)
        check_alt_text(article, source.text, source.line, result.warnings)
        check_jargon(article, source.text, source.line, terms, result.warnings, source.field_line("title"))
        _check_facet(article, source, platforms, result)
        if routes is not None and article.category not in (None, PLACEHOLDER, *routes):
            result.warnings.append(
                Problem(
                    article.path,
                    f"category {article.category!r} is not in {ROUTING_FILE}: "
                    f"its tickets take the default route{did_you_mean(article.category or '', routes)}",
                    line=source.field_line("category"),
                )
            )
    _check_translations(articles, languages, present, result)
    if embed is not None and articles:
        result.semantic = True
        focus = None if only is None else {a.id for a in articles if a.path in only}
        check_semantic(articles, embed, duplicate_similarity, question_margin, result.warnings, focus)
    if only is not None:
        result.checked = len([f for f in files if str(f.relative_to(root)) in only])
        result.problems = [p for p in result.problems if p.path in only]
        result.warnings = [p for p in result.warnings if p.path in only]
    result.problems.sort(key=lambda p: (p.path, p.line or 0))
    result.warnings.sort(key=lambda p: (p.path, p.line or 0))
    return result


def _check_facet(article: Article, source: _Source, platforms: Platforms, result: LintResult) -> None:
    """The platforms an article declares are known ones (an unknown value would be silently ignored by
    the clarifying question)."""
    name = platforms.facet_field
    line = source.field_line(name)
    if line is None:
        return
    known = sorted(platforms.words)
    values = article.facet(name)
    if not values:
        result.problems.append(
            Problem(article.path, f"`{name}` must be a platform or a list of them ({', '.join(known)})", line)
        )
    for value in values:
        if value not in platforms.words:
            result.problems.append(
                Problem(
                    article.path,
                    f"`{name}`: {value!r} is not a known platform ({', '.join(known)}; others are declared "
                    f"in platforms.yml){did_you_mean(value, known)}",
                    line,
                )
            )


# -- reading ------------------------------------------------------------------------------------------------
def _check_support_files(
    root: Path, articles: Sequence[Article], languages: Sequence[str], result: LintResult
) -> None:
    """The glossary, out-of-scope, platforms, learned-questions and canned-replies files parse, and point
    at what exists (the routing file is read by `_routing_categories`)."""
    for load in (load_glossary, load_scope, load_platforms):
        try:
            load(root)
        except ArticleError as exc:
            result.problems.append(Problem(exc.path, exc.reason))
    try:
        learned, _ = load_learned(root)
    except ArticleError as exc:
        result.problems.append(Problem(exc.path, exc.reason))
    else:
        result.problems.extend(apply_learned(articles, learned)[1])
    if root.is_dir():
        try:
            replies = load_canned(root / CANNED_FILE)
        except (KBError, UnicodeDecodeError) as exc:
            result.problems.append(Problem(CANNED_FILE, str(getattr(exc, "message", exc))))
            replies = {}
        for reply_id, versions in replies.items():
            missing = [lang for lang in languages if lang not in versions]
            if missing:
                result.warnings.append(
                    Problem(CANNED_FILE, f"{reply_id}: no {', '.join(missing)} version (agents get another)")
                )


@dataclass
class _Source:
    """An article's Markdown body, as written (`raw`) and with code masked out (`text`, for the line-based
    checks), and the file line its first line is on."""

    text: str
    first_line: int
    front: tuple[str, ...] = ()  # the lines between the two '---', from file line 2
    raw: str = ""

    @classmethod
    def read(cls, root: Path, article: Article) -> _Source:
        raw = (root.resolve() / article.path).read_text(encoding="utf-8")
        lines = raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
        fences = [i for i, line in enumerate(lines) if re.fullmatch(r"-{3,}\s*", line)]
        start = fences[1] + 1 if len(fences) > 1 and fences[0] == 0 else 0
        body = "\n".join(lines[start:])
        # Placeholders and headings inside code are examples, not content: blank them, keeping offsets.
        blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
        masked = re.sub(r"^(```|~~~).*?^\1[ \t]*$", blank, body, flags=re.MULTILINE | re.DOTALL)
        masked = re.sub(r"`[^`\n]+`", blank, masked)
        return cls(masked, start + 1, tuple(lines[1 : start - 1]) if start else (), body)

    def field_line(self, name: str) -> int | None:
        """The file line of a front-matter key."""
        return next((i + 2 for i, text in enumerate(self.front) if text.startswith(f"{name}:")), None)

    def line(self, offset: int) -> int:
        return self.first_line + self.text.count("\n", 0, offset)

    def references(self) -> list[tuple[bool, str, int]]:
        """(is_image, target, file line) for every link and image, from the Markdown tree (code is code)."""
        found = [(r.is_image, r.target, self.first_line + r.line - 1) for r in references(self.raw)]
        return sorted(found, key=lambda r: r[2])


# -- checks -------------------------------------------------------------------------------------------------
def _check_links(
    root: Path,
    article: Article,
    source: _Source,
    by_id: dict[str, Article],
    present: set[str],
    result: LintResult,
) -> None:
    folder = (root.resolve() / article.path).parent
    for is_image, target, line in source.references():
        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", target)
        if target.startswith("#"):
            check_anchor(article, article, urllib.parse.unquote(target[1:]), line, result.warnings)
            continue
        if not target or (scheme and scheme.group(1).lower() in SAFE_SCHEMES):
            if is_image and scheme and scheme.group(1).lower() in ("http", "https"):
                result.warnings.append(
                    Problem(
                        article.path,
                        f"remote image {target} is blocked by the site's Content-Security-Policy "
                        "(img-src 'self'): put the file in the articles folder",
                        line=line,
                    )
                )
            continue
        if scheme:
            if not (is_image and scheme.group(1).lower() == "data"):
                result.problems.append(
                    Problem(article.path, f"link {target} uses a scheme the site removes", line=line)
                )
            continue
        path = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
        fragment = urllib.parse.unquote(target.split("#", 1)[1]) if "#" in target else ""
        if not is_image and (path.endswith(".md") or path.startswith("/articles/")):
            _check_article_link(article, path, fragment, line, by_id, present, result)
        elif path.startswith("/"):
            continue  # a page of the site, not something in the articles folder
        elif not is_image and (folder / f"{path}.md").is_file():
            result.problems.append(
                Problem(
                    article.path,
                    f"link to {target}: the article exists, but links to articles end in .md: "
                    f"write `{path}.md`",
                    line=line,
                )
            )
        elif not (folder / path).resolve().is_file():
            what = "image" if is_image else "link to"
            hint = image_suggestion(root.resolve(), folder, path) if is_image else ""
            if not is_image:
                hint = did_you_mean(path, (p.name for p in folder.iterdir() if not p.name.startswith(".")))
            result.problems.append(Problem(article.path, f"{what} {target} does not exist{hint}", line=line))


def _check_article_link(
    article: Article,
    path: str,
    fragment: str,
    line: int,
    by_id: dict[str, Article],
    present: set[str],
    result: LintResult,
) -> None:
    if path.startswith("/articles/"):
        target_id = path.removeprefix("/articles/").rstrip("/")
    elif "/" in path:
        result.problems.append(
            Problem(
                article.path,
                f"link {path} is not turned into an article page: link to an article of the same "
                "language as `slug.md`, to another language as `/articles/<lang>/<slug>`",
                line=line,
            )
        )
        return
    else:
        target_id = f"{article.lang}/{path.removesuffix('.md')}"
    target = by_id.get(target_id)
    if target_id not in present:
        lang, _, slug = target_id.partition("/")
        slugs = (known.split("/", 1)[1] + (".md" if path.endswith(".md") else "") for known in present
                 if known.startswith(f"{lang}/"))  # fmt: skip
        wanted = path.rsplit("/", 1)[-1]
        hint = did_you_mean(wanted, slugs, cutoff=0.75)
        result.problems.append(
            Problem(article.path, f"broken link to {path}: no article {target_id}{hint}", line=line)
        )
    elif target is not None and fragment:
        check_anchor(article, target, fragment, line, result.warnings)
    if target is not None and article.is_public and not target.is_public:
        result.problems.append(
            Problem(
                article.path,
                f"links to internal article {target_id}, which customers cannot open",
                line=line,
            )
        )


def _check_questions(article: Article, result: LintResult) -> None:
    if not article.questions:
        result.warnings.append(Problem(article.path, "no `questions`: customers' phrasings help search"))
    elif len(article.questions) < MIN_QUESTIONS:
        result.warnings.append(
            Problem(
                article.path,
                f"only {len(article.questions)} `questions`: write {MIN_QUESTIONS} to 6 different phrasings",
            )
        )


def _check_updated(article: Article, today: dt.date, stale_days: int, result: LintResult) -> None:
    if article.updated is None:
        result.warnings.append(Problem(article.path, "no `updated` date: cannot tell whether it is stale"))
        return
    updated = dt.date.fromisoformat(article.updated)
    age = (today - updated).days
    if age > stale_days:
        result.warnings.append(
            Problem(
                article.path,
                f"stale: `updated` {article.updated} is {age} days old (over {stale_days}): "
                "check it is still right and update the date",
            )
        )
    elif age < -1:
        result.warnings.append(Problem(article.path, f"`updated` {article.updated} is in the future"))


def _check_translations(
    articles: list[Article], languages: tuple[str, ...], present: set[str], result: LintResult
) -> None:
    """Missing translations of public articles (internal ones are for agents and may exist in one
    language only), and translations that disagree on what routes and shows them."""
    by_slug: dict[str, list[Article]] = {}
    for article in articles:
        by_slug.setdefault(article.slug, []).append(article)
    for article in articles:
        if article.is_public:
            for lang in languages:
                if f"{lang}/{article.slug}" not in present:
                    result.warnings.append(
                        Problem(article.path, f"missing translation: no {lang}/{article.slug}.md")
                    )
    for group in by_slug.values():
        first = group[0]
        for other in group[1:]:
            for name in ("category", "audience"):
                if getattr(first, name) != getattr(other, name):
                    result.warnings.append(
                        Problem(
                            other.path,
                            f"translations disagree on {name}: {getattr(other, name)!r} here, "
                            f"{getattr(first, name)!r} in {first.path}",
                        )
                    )


def _routing_categories(root: Path, result: LintResult) -> set[str] | None:
    """The categories `routing.yml` routes, or None without the file (or when it is broken: an error)."""
    path = root / ROUTING_FILE
    if not path.is_file():
        return None
    try:
        return set(load_routing(path).categories)
    except (KBError, UnicodeDecodeError) as exc:
        result.problems.append(Problem(ROUTING_FILE, str(getattr(exc, "message", exc))))
        return None
