"""`kb import`: articles from Zendesk Guide, Freshdesk Solutions, a Confluence space export, or a folder of
HTML or Word files, as Markdown articles with front matter (see README "Importing")."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kb_engine.integrations.importing.helpdesks import Freshdesk, Zendesk
from kb_engine.integrations.importing.model import ImportReport, Skipped, SourceDoc
from kb_engine.integrations.importing.pages import Confluence, Docx, Html
from kb_engine.integrations.importing.source import Source, SourceError, unzip
from kb_engine.integrations.importing.writer import run_import

SOURCES: dict[str, type[Source]] = {
    "zendesk": Zendesk,
    "freshdesk": Freshdesk,
    "confluence": Confluence,
    "html": Html,
    "docx": Docx,
}

__all__ = ["SOURCES", "SourceError", "ImportReport", "Skipped", "SourceDoc", "import_articles"]


def import_articles(
    source: Path,
    kind: str,
    articles_dir: Path,
    *,
    languages: tuple[str, ...] = ("en", "fr"),
    dry_run: bool = False,
    lang: str | None = None,
    category: str | None = None,
    audience: str = "public",
) -> ImportReport:
    """Import an export into an articles folder.

    Args:
        source: the export: a folder, a .zip of it, or (JSON sources, single documents) one file.
        kind: one of SOURCES.
        articles_dir: the articles folder written into.
        languages: the knowledge base's languages (others are skipped, with the reason).
        dry_run: write into a temporary copy only (the report and lint say what would happen).
        lang, category, audience: for sources that do not say (Confluence, HTML, Word): the language
            (default detected), the category (default the first sub-folder or parent page), the audience.

    Returns:
        The ImportReport: written, updated, unchanged, skipped with reasons, what was dropped, lint.

    Raises:
        SourceError: the source is missing or not in the expected format.
    """
    if kind not in SOURCES:
        raise SourceError(f"unknown source kind {kind!r}: one of {', '.join(SOURCES)}")
    if not source.exists():
        raise SourceError(f"{source}: no such file or folder")
    if lang is not None and lang not in languages:
        raise SourceError(
            f"--lang {lang}: not one of the knowledge base's languages ({', '.join(languages)})"
        )
    report = ImportReport(source=str(source), kind=kind, dry_run=dry_run)
    with tempfile.TemporaryDirectory(prefix="kb-import-src-") as tmp:
        root = unzip(source, Path(tmp)) if source.is_file() and source.suffix.lower() == ".zip" else source
        reader = SOURCES[kind](root, languages, default_lang=lang)
        reader.lang_override, reader.category_default, reader.audience_default = lang, category, audience
        reader.read()
        return run_import(reader, articles_dir, report)
