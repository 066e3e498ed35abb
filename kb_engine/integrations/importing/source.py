"""What every source shares: the export's files (for images), relative links between its pages, and
reading JSON or a .zip export."""

from __future__ import annotations

import json
import posixpath
import re
import urllib.parse
import zipfile
from pathlib import Path
from typing import Any

from kb_engine.errors import KBError
from kb_engine.integrations.importing.model import Skipped, SourceDoc

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp")
MAX_ZIP_BYTES = 2 * 1024**3  # an export unpacked past this is refused (zip bomb)


class SourceError(KBError):
    """The source cannot be read: says which file and why."""

    status = 422
    code = "bad_import_source"


class Source:
    """One export being read. Subclasses fill `docs` (and `skipped`) and say how links find articles.

    Args:
        root: the export (folder, or file for the JSON sources).
        languages: the knowledge base's languages; the first is used when a source does not say.
    """

    system = "source"
    # For sources that do not say (Confluence, HTML, Word): `kb import --lang/--category/--audience`.
    lang_override: str | None = None
    category_default: str | None = None
    audience_default = "public"

    def __init__(self, root: Path, languages: tuple[str, ...], *, default_lang: str | None = None) -> None:
        self.root = root
        self.folder = (root if root.is_dir() else root.parent).resolve()
        self.languages = languages
        self.default_lang = default_lang or languages[0]
        self.docs: list[SourceDoc] = []
        self.skipped: list[Skipped] = []
        self._files: dict[str, Path] | None = None

    def read(self) -> Source:
        """Fill `docs` from the export (SourceError when it is not in the expected format)."""
        raise NotImplementedError

    # -- links --------------------------------------------------------------------------------------------
    def target(self, href: str, doc: SourceDoc) -> tuple[str, str | None] | None:
        """(group, language or None) of the imported article an href of `doc` points at, if any."""
        return self.file_target(href, doc)

    def file_target(self, href: str, doc: SourceDoc) -> tuple[str, str | None] | None:
        path = self.relative_file(href, doc)
        if path is None:
            return None
        return self.group_of_file(path)

    def group_of_file(self, path: Path) -> tuple[str, str | None] | None:
        return None

    def relative_file(self, href: str, doc: SourceDoc) -> Path | None:
        """The export's file a relative href of `doc` names (None for URLs, site paths, outside files)."""
        target = urllib.parse.unquote(href.split("#", 1)[0].split("?", 1)[0])
        if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("/"):
            return None
        base = (doc.base or self.folder).resolve()
        path = (base / target).resolve()
        if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
            return None
        return path

    def absolute(self, href: str, doc: SourceDoc) -> str | None:
        """An href kept for a link that leaves the import: absolute URLs as they are, site paths made
        absolute against the article's source URL; None for anything else (the link text is kept)."""
        if re.match(r"^(https?|mailto|tel):", href, re.IGNORECASE):
            return href
        if href.startswith("#"):
            return href
        if href.startswith("/") and doc.url.startswith(("http://", "https://")):
            return urllib.parse.urljoin(doc.url, href)
        return None

    # -- images -------------------------------------------------------------------------------------------
    @property
    def files(self) -> dict[str, Path]:
        """Every non-JSON, non-HTML file of the export by its posix path inside it (images, attachments)."""
        if self._files is None:
            self._files = {}
            if self.folder.is_dir():
                for path in sorted(self.folder.rglob("*")):
                    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                        self._files[path.relative_to(self.folder).as_posix()] = path
        return self._files

    def image_file(self, src: str, doc: SourceDoc) -> Path | None:
        """The export's file for an image src: relative to the page, else the file whose path ends like
        the URL's path (`article_attachments/123/x.png`), else the only file of that name."""
        local = self.relative_file(src, doc)
        if local is not None:
            return local if local.suffix.lower() in IMAGE_SUFFIXES else None
        path = urllib.parse.unquote(urllib.parse.urlsplit(src).path).strip("/")
        if not path:
            return None
        parts = path.split("/")
        for n in range(min(len(parts), 4), 1, -1):
            tail = "/".join(parts[-n:])
            found = [p for rel, p in self.files.items() if rel == tail or rel.endswith("/" + tail)]
            if len(found) == 1:
                return found[0]
        named = [p for rel, p in self.files.items() if posixpath.basename(rel) == parts[-1]]
        return named[0] if len(named) == 1 else None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc


def json_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    found = sorted(p for p in root.rglob("*.json") if p.is_file())
    if not found:
        raise SourceError(f"{root}: no .json file in this folder")
    return found


def unzip(archive: Path, into: Path) -> Path:
    """Unpack a .zip export into `into` (refusing paths outside it and oversized archives)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            total = sum(info.file_size for info in zf.infolist())
            if total > MAX_ZIP_BYTES:
                raise SourceError(f"{archive}: unpacks to {total} bytes, over the {MAX_ZIP_BYTES}-byte limit")
            for info in zf.infolist():
                target = (into / info.filename).resolve()
                if not target.is_relative_to(into.resolve()):
                    raise SourceError(f"{archive}: entry {info.filename!r} points outside the archive")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{archive}: not a readable .zip file ({exc})") from exc
    entries = [p for p in into.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def lang_of(code: str | None) -> str:
    """`en-us` -> `en`, `fr_CA` -> `fr`."""
    return re.split(r"[-_]", str(code or "").strip().lower(), maxsplit=1)[0]


def date_of(value: Any) -> str | None:
    text = str(value or "")
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else None
