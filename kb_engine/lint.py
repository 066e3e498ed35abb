"""`kb lint`: every problem with the articles folder, with the file and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.articles import Problem, iter_article_files, scan_articles
from kb_engine.errors import ArticleError
from kb_engine.glossary import load_glossary


@dataclass
class LintResult:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": not self.problems,
            "errors": [{"path": p.path, "reason": p.reason} for p in self.problems],
            "warnings": [{"path": p.path, "reason": p.reason} for p in self.warnings],
        }


def lint_articles(root: Path, *, languages: tuple[str, ...] = ("en", "fr")) -> LintResult:
    """Check every article (and the glossary) below root.

    Errors (exit 1): no front matter, invalid YAML, missing title, non-UTF-8 bytes, duplicate id, empty body,
    a file resolving outside the root. Warnings: articles with no `questions`.
    """
    result = LintResult()
    scan = scan_articles(root, languages=languages)
    result.checked = len(iter_article_files(root)) if root.is_dir() else 0
    result.problems.extend(scan.problems)
    try:
        load_glossary(root)
    except ArticleError as exc:
        result.problems.append(Problem(exc.path, exc.reason))
    for article in scan.articles:
        if not article.questions:
            result.warnings.append(Problem(article.path, "no `questions`: customers' phrasings help search"))
    return result
