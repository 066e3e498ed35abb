"""Readers for the help-desk knowledge bases: Zendesk Guide (Help Center API JSON) and Freshdesk Solutions
(API v2 JSON).

**Zendesk**: a folder (or one file) of the JSON the Help Center API answers, as saved pages:
`articles.json` (`{"articles": [...]}`, several pages welcome, `?include=translations` or not),
`sections.json`, `categories.json`, and `translations` either sideloaded on each article or saved from
`/articles/{id}/translations.json` (`{"translations": [...]}`, each with its `source_id`). Images: the
attachments saved anywhere in the folder, found by the end of their URL's path.

**Freshdesk**: the Solutions API's JSON: categories holding `folders` holding `articles` (as
`/solutions/categories`, `/categories/{id}/folders`, `/folders/{id}/articles` give them, nested), or the
three flat lists side by side (`{"categories": [...], "folders": [...], "articles": [...]}`); the objects
may be wrapped as the account export writes them (`{"solution_article": {...}}`). A translation is the
same article id again with its `language` (or in a file named `*.fr.json`).
"""

from __future__ import annotations

import re
from typing import Any

from kb_engine.authoring.new import slugify
from kb_engine.integrations.importing.model import Skipped, SourceDoc
from kb_engine.integrations.importing.source import (
    Source,
    SourceError,
    date_of,
    json_files,
    lang_of,
    read_json,
)


def _slug(text: str) -> str:
    return slugify(text)


class Zendesk(Source):
    system = "zendesk"
    ARTICLE_HREF = re.compile(r"/hc/(?:([A-Za-z]{2}(?:-[A-Za-z]{2,4})?)/)?articles/(\d+)")

    def read(self) -> Zendesk:
        articles: dict[str, dict[str, Any]] = {}
        sections: dict[str, dict[str, Any]] = {}
        translations: dict[str, list[dict[str, Any]]] = {}
        for path in json_files(self.root):
            data = read_json(path)
            if not isinstance(data, dict):
                raise SourceError(f"{path}: expected a JSON object as the Help Center API answers")
            for article in _list(data.get("articles")) + _list(
                [data["article"]] if "article" in data else []
            ):
                if article.get("id") is not None:
                    articles[str(article["id"])] = article
            for section in _list(data.get("sections")):
                sections[str(section.get("id"))] = section
            for tr in _list(data.get("translations")):
                if tr.get("source_type", "Article") == "Article" and tr.get("source_id") is not None:
                    translations.setdefault(str(tr["source_id"]), []).append(tr)
        if not articles:
            raise SourceError(f'{self.root}: no Zendesk articles found (expected {{"articles": [...]}})')
        for aid, article in sorted(articles.items(), key=lambda kv: _numeric(kv[0])):
            where = sections.get(str(article.get("section_id")))
            name = str(where.get("name") or "") if where else ""
            versions = _list(article.get("translations")) + translations.get(aid, [])
            own = str(article.get("locale") or article.get("source_locale") or "")
            if own not in {str(tr.get("locale")) for tr in versions}:
                versions.insert(0, article)  # the article itself is its source-locale version
            seen: set[str] = set()
            for tr in versions:
                locale = str(tr.get("locale") or article.get("locale") or article.get("source_locale") or "")
                if locale in seen:
                    continue
                seen.add(locale)
                draft = bool(tr.get("draft", article.get("draft")))
                restricted = article.get("user_segment_id") is not None
                self.docs.append(
                    SourceDoc(
                        system=self.system,
                        group=aid,
                        lang=lang_of(locale) or self.default_lang,
                        title=str(
                            tr.get("title") or article.get("title") or article.get("name") or ""
                        ).strip(),
                        html=str(tr.get("body") or ""),
                        url=str(tr.get("html_url") or article.get("html_url") or ""),
                        category=_slug(name) if name else None,
                        category_name=name or None,
                        tags=[str(t) for t in article.get("label_names") or []],
                        audience="internal" if draft or restricted else "public",
                        updated=date_of(tr.get("updated_at") or article.get("updated_at")),
                    )
                )
        return self

    def target(self, href: str, doc: SourceDoc) -> tuple[str, str | None] | None:
        m = self.ARTICLE_HREF.search(href)
        if m:
            return m.group(2), lang_of(m.group(1)) if m.group(1) else None
        return None


class Freshdesk(Source):
    system = "freshdesk"
    ARTICLE_HREF = re.compile(r"/solutions/articles/(\d+)")
    WRAPPERS = ("solution_category", "solution_folder", "solution_article", "category", "folder", "article")

    def read(self) -> Freshdesk:
        folders: dict[str, dict[str, Any]] = {}
        entries: list[tuple[dict[str, Any], str | None]] = []

        def walk(node: Any, folder: dict[str, Any] | None, file_lang: str | None) -> None:  # noqa: C901
            node = self._unwrap(node)
            if isinstance(node, list):
                for item in node:
                    walk(item, folder, file_lang)
            elif isinstance(node, dict):
                if ("articles" in node or "visibility" in node) and "title" not in node and "id" in node:
                    folders[str(node["id"])] = node
                    folder = node
                for key in ("categories", "folders", "articles"):
                    if key in node:
                        walk(node[key], folder, file_lang)
                if "title" in node and "id" in node and ("description" in node or "status" in node):
                    entries.append(({**node, "_folder": node.get("folder_id") or (folder or {}).get("id")},
                                    file_lang))  # fmt: skip

        for path in json_files(self.root):
            suffix = re.search(r"\.([a-z]{2})(?:[-_][a-z]{2})?$", path.stem.lower())
            walk(read_json(path), None, suffix.group(1) if suffix else None)
        if not entries:
            raise SourceError(f"{self.root}: no Freshdesk solution articles found")
        seen: set[tuple[str, str]] = set()
        for article, file_lang in sorted(entries, key=lambda e: _numeric(str(e[0]["id"]))):
            aid = str(article["id"])
            lang = lang_of(article.get("language") or article.get("lang") or file_lang) or self.default_lang
            if (aid, lang) in seen:
                self.skipped.append(
                    Skipped(f"freshdesk:{aid} ({lang})", "the same article twice in the export")
                )
                continue
            seen.add((aid, lang))
            folder = folders.get(str(article.get("_folder")), {})
            name = str(folder.get("name") or "")
            visibility = folder.get("visibility", 1)
            self.docs.append(
                SourceDoc(
                    system=self.system,
                    group=aid,
                    lang=lang,
                    title=str(article.get("title") or "").strip(),
                    html=str(article.get("description") or ""),
                    url=str(article.get("url") or ""),
                    category=_slug(name) if name else None,
                    category_name=name or None,
                    tags=[str(t) for t in article.get("tags") or []],
                    # status 1 is a draft; folder visibility 1 is "all users", anything else restricted
                    audience="public"
                    if article.get("status", 2) == 2 and str(visibility) == "1"
                    else "internal",
                    updated=date_of(article.get("updated_at")),
                )
            )
        return self

    def _unwrap(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            key = next(iter(node))
            if key in self.WRAPPERS and isinstance(node[key], dict):
                return node[key]
        return node

    def target(self, href: str, doc: SourceDoc) -> tuple[str, str | None] | None:
        m = self.ARTICLE_HREF.search(href)
        return (m.group(1), None) if m else None


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _numeric(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)
