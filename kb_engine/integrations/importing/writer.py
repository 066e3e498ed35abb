"""Turning what a source read into article files: one slug per source article (kept across re-imports by
the `source:` front matter), Markdown bodies with links and images rewritten, then `kb lint`.

A re-import finds each file by `source: {system, id}` in the articles folder, so the same source article
always lands in the same file; a file is only rewritten when its text changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import shutil
import tempfile
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from kb_engine.authoring.lint import lint_articles
from kb_engine.authoring.new import MAX_SLUG_CHARS, slugify
from kb_engine.content.articles import MAX_ARTICLE_BYTES
from kb_engine.content.files import atomic_write_text
from kb_engine.integrations.importing.convert import html_to_markdown
from kb_engine.integrations.importing.model import ImportReport, Skipped, SourceDoc
from kb_engine.integrations.importing.source import IMAGE_SUFFIXES, Source

IMAGES_DIR = "images"  # articles/images/<system>/…: shared by every language of an article
MAX_IMAGE_BYTES = 10 * 1024 * 1024


@dataclass
class _Planned:
    doc: SourceDoc
    slug: str
    path: str  # <lang>/<slug>.md


def existing_sources(
    articles_dir: Path,
) -> tuple[dict[tuple[str, str], str], dict[str, tuple[str, str] | None]]:
    """(system, id) -> slug of the articles an earlier import wrote, and slug -> its owner (None: an
    article written by hand) for every slug in any language folder."""
    owned: dict[tuple[str, str], str] = {}
    slugs: dict[str, tuple[str, str] | None] = {}
    if not articles_dir.is_dir():
        return owned, slugs
    for path in sorted(articles_dir.glob("*/*.md")):
        owner = None
        try:
            meta = frontmatter.loads(path.read_text(encoding="utf-8")).metadata
            source = meta.get("source")
            if isinstance(source, dict) and source.get("system") and source.get("id") is not None:
                owner = (str(source["system"]), str(source["id"]))
                owned.setdefault(owner, path.stem)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, TypeError):
            pass  # a broken file keeps its slug taken; kb lint says what is wrong with it
        if slugs.get(path.stem) is None:
            slugs[path.stem] = owner
    return owned, slugs


def plan(source: Source, articles_dir: Path, report: ImportReport) -> list[_Planned]:
    """One slug per source article, and the files to write (translations share the slug)."""
    owned, slugs = existing_sources(articles_dir)
    groups: dict[str, list[SourceDoc]] = defaultdict(list)
    for doc in source.docs:
        groups[doc.group].append(doc)
    first = source.languages[0]
    planned: list[_Planned] = []
    for group, docs in groups.items():
        key = (source.system, group)
        kept: dict[str, SourceDoc] = {}
        for doc in docs:
            shown = f"{source.system}:{group} ({doc.lang})"
            if doc.lang not in source.languages:
                report.skipped.append(
                    Skipped(
                        shown,
                        f"language {doc.lang!r} is not one of the knowledge base's "
                        f"({', '.join(source.languages)}; KB_LANGUAGES)",
                    )  # fmt: skip
                )
            elif not doc.title:
                report.skipped.append(Skipped(shown, "no title"))
            elif doc.lang in kept:
                report.skipped.append(Skipped(shown, f"a second {doc.lang} version of the same article"))
            else:
                kept[doc.lang] = doc
        if not kept:
            continue
        slug = owned.get(key)
        if slug is None:
            named = kept.get(first) or next(iter(kept.values()))
            base = slugify(named.title)
            slug, n = base, 1
            while slug in slugs and slugs[slug] != key:
                n += 1
                slug = f"{base[: MAX_SLUG_CHARS - len(str(n)) - 1].rstrip('-')}-{n}"
            if n > 1:
                report.renamed.append(
                    f"{source.system}:{group} {named.title!r}: {base} is taken, written as {slug}"
                )
            slugs[slug] = key
        for lang, doc in sorted(kept.items()):
            planned.append(_Planned(doc, slug, f"{lang}/{slug}.md"))
    return planned


class _Writer:
    def __init__(self, source: Source, root: Path, planned: list[_Planned], report: ImportReport) -> None:
        self.source = source
        self.root = root
        self.report = report
        self.by_group: dict[str, dict[str, _Planned]] = defaultdict(dict)
        for item in planned:
            self.by_group[item.doc.group][item.doc.lang] = item
        self.images: dict[str, bytes | Path] = {}  # articles-root path -> content to write

    def link(self, item: _Planned, href: str) -> str | None:
        doc = self.source
        fragment = "#" + href.split("#", 1)[1] if "#" in href else ""
        found = doc.target(href, item.doc)
        if found is not None:
            group, lang = found
            versions = self.by_group.get(group)
            if versions:
                target = (
                    versions.get(item.doc.lang) or versions.get(lang or "") or next(iter(versions.values()))
                )
                if item.doc.audience == "public" and target.doc.audience != "public":
                    self.report.drop(item.path, f"link to internal article {target.path} (text kept)")
                    return None
                if target.doc.lang == item.doc.lang:
                    return f"{target.slug}.md{fragment}"
                return f"/articles/{target.doc.lang}/{target.slug}{fragment}"
        kept = doc.absolute(href, item.doc)
        if kept is None:
            self.report.drop(item.path, f"link to {href}: not in the import (text kept)")
            return None
        if found is None and kept.startswith("#"):
            return kept
        return kept if found is None or kept.startswith("http") else kept + fragment

    def image(self, item: _Planned, src: str, alt: str) -> str | None:
        content: bytes | Path | None = None
        name = ""
        data = re.match(r"data:image/([\w.+-]+);base64,(.*)$", src, re.DOTALL)
        if data:
            try:
                content = base64.b64decode(data.group(2), validate=False)
            except (binascii.Error, ValueError):
                content = None
            ext = {"jpeg": "jpg", "svg+xml": "svg"}.get(data.group(1), data.group(1))
            name = f"{hashlib.sha256(content or b'').hexdigest()[:16]}.{ext}"
        else:
            path = self.source.image_file(src, item.doc)
            if path is not None and path.stat().st_size <= MAX_IMAGE_BYTES:
                content = path
                # Named by content: the same picture keeps one file however the export is laid out
                # (a folder or its .zip) and however many articles show it.
                digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
                base = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name).strip("-.")[-80:]
                name = f"{digest}-{base}"
        if content is None or not name.lower().endswith(IMAGE_SUFFIXES):
            shown = src if len(src) < 120 else src[:60] + "…"
            self.report.drop(item.path, f"image {shown}: not found in the export")
            return None
        target = f"{IMAGES_DIR}/{self.source.system}/{name}"
        self.images[target] = content
        return "../" + urllib.parse.quote(target)

    def render(self, item: _Planned) -> str | None:
        doc = item.doc
        converted = html_to_markdown(
            doc.html,
            title=doc.title,
            link=lambda href: self.link(item, href),
            image=lambda src, alt: self.image(item, src, alt),
        )
        for note in [*doc.notes, *converted.dropped]:
            self.report.drop(item.path, note)
        body = converted.markdown
        if not body.strip():
            self.report.skipped.append(Skipped(item.path, "empty body once converted"))
            return None
        meta: dict[str, Any] = {"title": doc.title, "lang": doc.lang}
        if doc.category:
            meta["category"] = doc.category
        if doc.tags:
            meta["tags"] = doc.tags
        meta["audience"] = doc.audience
        if doc.updated:
            meta["updated"] = doc.updated
        meta["source"] = {"system": doc.system, "id": doc.group, **({"url": doc.url} if doc.url else {})}
        front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
        text = f"---\n{front}---\n\n{body}"
        size = len(text.encode("utf-8"))
        if size > MAX_ARTICLE_BYTES:
            self.report.skipped.append(
                Skipped(
                    item.path,
                    f"{size} bytes once converted, over the {MAX_ARTICLE_BYTES}-byte article "
                    "limit: split it in the source",
                )  # fmt: skip
            )
            return None
        return text


def write_all(source: Source, root: Path, report: ImportReport) -> list[str]:
    """Write the planned articles and their images below root; returns the article paths written or kept."""
    planned = plan(source, root, report)
    writer = _Writer(source, root, planned, report)
    touched: list[str] = []
    for item in planned:
        text = writer.render(item)
        if text is None:
            continue
        path = root / item.path
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        if old == text:
            report.unchanged.append(item.path)
        else:
            (report.updated if old is not None else report.written).append(item.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
        touched.append(item.path)
    for target, content in sorted(writer.images.items()):
        data = content.read_bytes() if isinstance(content, Path) else content
        path = root / target
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            report.images.append(target)
    _add_categories(source, root, report)
    return touched


def _add_categories(source: Source, root: Path, report: ImportReport) -> None:
    """Name the source's sections/folders in categories.yml (only the ones it lacks)."""
    names: dict[str, dict[str, str]] = {}
    for doc in source.docs:
        if doc.category and doc.category_name and doc.lang in source.languages:
            names.setdefault(doc.category, {}).setdefault(doc.lang, doc.category_name)
    path = root / "categories.yml"
    try:
        current = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except yaml.YAMLError:
        return  # kb lint reports the broken file; not ours to rewrite
    current = current if isinstance(current, dict) else {}
    new = {cid: {lang: {"name": name} for lang, name in langs.items()}
           for cid, langs in sorted(names.items()) if cid not in current}  # fmt: skip
    if not new:
        return
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    addition = yaml.safe_dump(new, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000)
    atomic_write_text(path, (text.rstrip("\n") + "\n" if text.strip() else "") + addition)
    report.categories_added = sorted(new)


def run_import(source: Source, articles_dir: Path, report: ImportReport) -> ImportReport:
    """Write (or, in a dry run, try in a copy of the folder) and lint what was written."""
    report.skipped.extend(source.skipped)
    if report.dry_run:
        with tempfile.TemporaryDirectory(prefix="kb-import-") as tmp:
            copy = Path(tmp) / "articles"
            if articles_dir.is_dir():
                shutil.copytree(articles_dir, copy, ignore=shutil.ignore_patterns(".git", "*.tmp"))
            touched = write_all(source, copy, report)
            report.lint = _lint(copy, touched, source.languages)
        return report
    articles_dir.mkdir(parents=True, exist_ok=True)
    touched = write_all(source, articles_dir, report)
    report.lint = _lint(articles_dir, touched, source.languages)
    return report


def _lint(root: Path, touched: list[str], languages: tuple[str, ...]) -> dict[str, Any]:
    if not touched:
        return {"checked": 0, "errors": [], "warnings": []}
    result = lint_articles(root, languages=languages, only=set(touched))
    data = result.to_dict()
    return {"checked": data["checked"], "errors": data["errors"], "warnings": data["warnings"]}
