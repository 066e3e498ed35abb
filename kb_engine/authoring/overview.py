"""The authors' landing page: every article file with its state, the drafts, the recent changes, the lint
problems, and the files the served index keeps at their last good version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.authoring.lint import LintResult, lint_articles
from kb_engine.content.articles import Problem, iter_article_files, scan_articles

RECENT = 10


@dataclass
class FileRow:
    path: str  # in the articles folder: en/x.md
    lang: str
    slug: str
    title: str
    state: str  # published, draft, broken (not usable: see the problems)
    updated: str | None
    modified: dt.datetime
    errors: int = 0
    warnings: int = 0


@dataclass
class Overview:
    files: list[FileRow] = field(default_factory=list)
    recent: list[FileRow] = field(default_factory=list)
    lint: LintResult = field(default_factory=LintResult)
    kept: list[str] = field(default_factory=list)  # ids served from the last good build
    served_problems: list[dict[str, Any]] = field(default_factory=list)  # as the served build reported them

    @property
    def drafts(self) -> list[FileRow]:
        return [row for row in self.files if row.state == "draft"]

    @property
    def broken(self) -> list[FileRow]:
        return [row for row in self.files if row.state == "broken"]


def overview(
    root: Path,
    languages: tuple[str, ...],
    manifest: dict[str, Any] | None = None,
    jargon: Sequence[str] | None = None,
) -> Overview:
    """What an author wants to see first about the articles folder (no semantic checks: it must be quick).

    Args:
        root: the articles folder.
        languages: the knowledge base's languages.
        manifest: the served build's manifest (for what it keeps at its last good version).
        jargon: the desk's words public articles should not use (None: the setting's default list).
    """
    root = Path(root)
    scan = scan_articles(root, languages=languages)
    result = lint_articles(root, languages=languages, jargon=jargon)
    counts: dict[str, list[int]] = {}
    for level, items in ((0, result.problems), (1, result.warnings)):
        for problem in items:
            counts.setdefault(problem.path, [0, 0])[level] += 1
    parsed = {a.path: a for a in [*scan.articles, *scan.drafts]}
    out = Overview(lint=result)
    for path in iter_article_files(root) if root.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        article = parsed.get(rel)
        errors, warnings = counts.get(rel, [0, 0])
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        if article is None:
            lang = rel.split("/", 1)[0] if "/" in rel else ""
            out.files.append(FileRow(rel, lang, path.stem, "", "broken", None, modified, errors, warnings))
            continue
        state = "draft" if article.is_draft else "published"
        row = FileRow(rel, article.lang, article.slug, article.title, state, article.updated, modified)
        row.errors, row.warnings = errors, warnings
        out.files.append(row)
    out.recent = sorted(out.files, key=lambda row: row.modified, reverse=True)[:RECENT]
    if manifest:
        out.kept = list(manifest.get("kept") or [])
        out.served_problems = list(manifest.get("problems") or [])
    return out


def problems_of(result: LintResult, path: str) -> list[tuple[str, Problem]]:
    """("error" | "warning", problem) for one file, errors first, by line."""
    rows = [("error", p) for p in result.problems if p.path == path]
    rows += [("warning", p) for p in result.warnings if p.path == path]
    return rows
