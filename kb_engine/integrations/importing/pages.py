"""Readers for page exports: a Confluence space HTML export, a folder of .html files, a folder of .docx files.

- **Confluence** (Space tools → Export → HTML, unzipped or the .zip): one `<Title>_<pageId>.html` (or
  `<pageId>.html`) per page, `index.html` the space overview (not imported), the text in
  `#main-content`, the title in `#title-text`, the place in the tree in `#breadcrumbs` (the top-level page
  under the space home becomes the category), labels in `.label-list`, attachments in
  `attachments/<pageId>/`.
- **HTML** and **Word**: every `.html`/`.htm` or `.docx` file below the folder; `name.fr.html` and
  `name.en.html` (or `.docx`) are translations of one article; the first sub-folder is the category; the
  title is the document's title (`<title>`, Word's title property), else its first heading, else the file
  name; the language is the file's suffix, else `<html lang>`, else detected from the text.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from kb_engine.authoring.new import slugify
from kb_engine.integrations.importing.model import Skipped, SourceDoc
from kb_engine.integrations.importing.source import Source, SourceError, lang_of

LANG_SUFFIX = re.compile(r"^(?P<stem>.+)\.(?P<lang>[a-z]{2})$")


def _detect(text: str, languages: tuple[str, ...]) -> str:
    from kb_engine.search.language import detect_language

    return detect_language(text[:4000], languages)[0] if text.strip() else languages[0]


def _soup(path: Path) -> BeautifulSoup:
    raw = path.read_bytes()
    # Declared or sniffed encoding (old exports are often Windows-1252); lxml is lenient with broken HTML.
    return BeautifulSoup(raw, "lxml")


class Confluence(Source):
    system = "confluence"
    PAGE_FILE = re.compile(r"(?:^|_)(\d+)\.html?$")

    def read(self) -> Confluence:
        pages = sorted(p for p in self.folder.rglob("*.htm*") if p.is_file())
        if not pages:
            raise SourceError(f"{self.root}: no .html page in this Confluence export")
        for path in pages:
            if path.name == "index.html":
                continue  # the space overview lists the pages, it is not one
            soup = _soup(path)
            content = soup.select_one("#main-content") or soup.body
            if content is None:
                self.skipped.append(Skipped(path.name, "no page content (#main-content) in the file"))
                continue
            title_el = soup.select_one("#title-text") or soup.title
            title = title_el.get_text(" ", strip=True) if title_el else path.stem
            if " : " in title:
                title = title.split(" : ", 1)[1].strip()  # "Space name : Page title"
            crumbs = [a.get_text(" ", strip=True) for a in soup.select("#breadcrumbs a")]
            top = crumbs[1] if len(crumbs) > 1 else None
            labels = [a.get_text(strip=True) for a in soup.select(".label-list a, a[rel=tag]")]
            text = content.get_text(" ", strip=True)
            self.docs.append(
                SourceDoc(
                    system=self.system,
                    group=self._page_id(path),
                    lang=self.lang_override or _detect(f"{title}. {text}", self.languages),
                    title=title,
                    html=content.decode_contents(),
                    category=slugify(top) if top else self.category_default,
                    category_name=top,
                    tags=list(dict.fromkeys(labels)),
                    audience=self.audience_default,
                    updated=self._modified(soup),
                    base=path.parent,
                )
            )
        return self

    def _page_id(self, path: Path) -> str:
        m = self.PAGE_FILE.search(path.name)
        return m.group(1) if m else path.relative_to(self.folder).with_suffix("").as_posix()

    def group_of_file(self, path: Path) -> tuple[str, str | None] | None:
        return (self._page_id(path), None) if path.suffix.lower() in (".html", ".htm") else None

    def target(self, href: str, doc: SourceDoc) -> tuple[str, str | None] | None:
        m = re.search(r"[?&]pageId=(\d+)", href)
        if m:
            return m.group(1), None
        return self.file_target(href, doc)

    @staticmethod
    def _modified(soup: BeautifulSoup) -> str | None:
        meta = soup.select_one(".page-metadata")
        m = (
            re.search(r"on ([A-Z][a-z]{2} \d{1,2}, \d{4})\s*$", meta.get_text(" ", strip=True))
            if meta
            else None
        )
        if not m:
            return None
        try:
            return dt.datetime.strptime(m.group(1), "%b %d, %Y").date().isoformat()
        except ValueError:
            return None


class Files(Source):
    """A folder of .html or .docx documents (see the module's doc)."""

    suffixes: tuple[str, ...] = (".html", ".htm")

    def read(self) -> Files:
        found = sorted(p for p in self.folder.rglob("*") if p.is_file() and p.suffix.lower() in self.suffixes)
        if self.root.is_file():
            found = [self.root]
        if not found:
            raise SourceError(f"{self.root}: no {' or '.join(self.suffixes)} file in this folder")
        for path in found:
            try:
                title, html, lang, tags, updated, notes = self.load(path)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                self.skipped.append(Skipped(self._shown(path), f"cannot be read: {exc}"))
                continue
            group, suffix_lang = self.group_of_file(path) or (path.stem, None)
            rel = path.relative_to(self.folder)
            folder = rel.parts[0] if len(rel.parts) > 1 else None
            text = BeautifulSoup(html, "lxml").get_text(" ", strip=True)
            self.docs.append(
                SourceDoc(
                    system=self.system,
                    group=group,
                    lang=self.lang_override
                    or suffix_lang
                    or lang
                    or _detect(f"{title}. {text}", self.languages),
                    title=title,
                    html=html,
                    category=slugify(folder) if folder else self.category_default,
                    category_name=folder,
                    tags=tags,
                    audience=self.audience_default,
                    updated=updated,
                    base=path.parent,
                    notes=notes,
                )
            )
        return self

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix() if path.is_relative_to(self.folder) else path.name

    def group_of_file(self, path: Path) -> tuple[str, str | None] | None:
        if path.suffix.lower() not in self.suffixes or not path.is_relative_to(self.folder):
            return None
        rel = path.relative_to(self.folder).with_suffix("").as_posix()
        m = LANG_SUFFIX.match(rel)
        if m and m.group("lang") in self.languages:
            return m.group("stem"), m.group("lang")
        return rel, None

    def load(self, path: Path) -> tuple[str, str, str | None, list[str], str | None, list[str]]:
        soup = _soup(path)
        body = soup.select_one("main, article, [role=main]") or soup.body or soup
        heading = body.find(re.compile(r"^h[12]$"))
        title = (soup.title.get_text(" ", strip=True) if soup.title else "") or (
            heading.get_text(" ", strip=True) if isinstance(heading, Tag) else ""
        )
        html_el = soup.find("html")
        lang = lang_of(str(html_el.get("lang") or "")) if isinstance(html_el, Tag) else ""
        keywords = soup.find("meta", attrs={"name": "keywords"})
        tags = (
            [t.strip() for t in str(keywords.get("content") or "").split(",") if t.strip()]
            if keywords
            else []
        )
        date = soup.find("meta", attrs={"name": re.compile(r"^(date|last-modified|dcterms.modified)$", re.I)})
        updated = str(date.get("content") or "")[:10] if isinstance(date, Tag) else None
        if updated and not re.match(r"^\d{4}-\d{2}-\d{2}$", updated):
            updated = None
        return (
            title or path.stem,
            body.decode_contents(),
            lang if lang in self.languages else None,
            tags,
            updated,
            [],
        )


class Html(Files):
    system = "html"


class Docx(Files):
    system = "docx"
    suffixes = (".docx",)

    def load(self, path: Path) -> tuple[str, str, str | None, list[str], str | None, list[str]]:
        import mammoth

        with path.open("rb") as fh:
            result = mammoth.convert_to_html(fh)  # images become data: URIs, written to files later
        notes = sorted({f"Word: {m.message}" for m in result.messages if m.type == "warning"})[:20]
        title, lang, keywords, modified = self._properties(path)
        if not title:
            first = BeautifulSoup(result.value, "lxml").find(re.compile(r"^h[12]$"))
            title = first.get_text(" ", strip=True) if isinstance(first, Tag) else path.stem
        tags = [t.strip() for t in re.split(r"[,;]", keywords) if t.strip()]
        return title, result.value, lang, tags, modified, notes

    def _properties(self, path: Path) -> tuple[str, str | None, str, str | None]:
        """Title, language, keywords and modification date from the document's core properties."""
        with zipfile.ZipFile(path) as zf:
            try:
                core = zf.read("docProps/core.xml").decode("utf-8", "replace")
            except KeyError:
                return "", None, "", None
        soup = BeautifulSoup(core, "xml")

        def text(name: str) -> str:
            found = soup.find(name)
            return found.get_text(strip=True) if isinstance(found, Tag) else ""

        lang = lang_of(text("language")) or None
        modified = text("modified")[:10] or None
        return text("title"), lang if lang in self.languages else None, text("keywords"), modified
