"""What an importer reads from a source (SourceDoc) and what an import did (ImportReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SourceDoc:
    """One article in one language, as a source gives it (HTML body).

    `group` is the source's id for the article: its translations share it, and it becomes the one slug of
    every language folder. `base` is the folder relative links and images of the body are resolved from.
    """

    system: str
    group: str
    lang: str
    title: str
    html: str
    url: str = ""
    category: str | None = None
    category_name: str | None = None
    tags: list[str] = field(default_factory=list)
    audience: str = "public"
    updated: str | None = None
    base: Path | None = None
    notes: list[str] = field(default_factory=list)  # what the reader already dropped (macros, styles…)


@dataclass
class Skipped:
    source: str  # "<system>:<id> (<lang>)" or a file name
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason}


@dataclass
class ImportReport:
    """What one `kb import` did (or, in a dry run, would do), per file."""

    source: str
    kind: str
    dry_run: bool = False
    written: list[str] = field(default_factory=list)  # new files
    updated: list[str] = field(default_factory=list)  # files that existed and changed
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # image files copied (new or changed)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # article path -> what was left out
    categories_added: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)  # duplicate titles: the slug given instead
    lint: dict[str, Any] = field(default_factory=dict)

    def drop(self, path: str, what: str) -> None:
        items = self.dropped.setdefault(path, [])
        if what not in items:
            items.append(what)

    @property
    def ok(self) -> bool:
        return not self.lint.get("errors")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "from": self.kind,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "written": self.written,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [s.to_dict() for s in self.skipped],
            "images": self.images,
            "dropped": self.dropped,
            "categories_added": self.categories_added,
            "renamed": self.renamed,
            "lint": self.lint,
        }

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        return (
            f"{verb} {len(self.written)} new, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.skipped)} skipped; {len(self.images)} image(s); "
            f"lint: {len(self.lint.get('errors', []))} error(s), "
            f"{len(self.lint.get('warnings', []))} warning(s)"
        )
