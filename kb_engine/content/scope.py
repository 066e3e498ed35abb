"""What the desk does not handle: `articles/out-of-scope.yml`, request families with where to go instead.

Their example phrasings are embedded like article questions but never returned as answers: a query that
resembles one more than any article is a miss, and the customer is told where to go ("leave requests are
handled by HR: …") instead of being shown an unrelated IT article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb_engine.content.articles import Article, read_kb_file
from kb_engine.content.yaml_files import yaml_mapping
from kb_engine.errors import ArticleError

SCOPE_FILE = "out-of-scope.yml"
SCOPE_AUDIENCE = "scope"  # never shown to anybody
SCOPE_PREFIX = "_scope-"  # real slugs cannot start with "_"


@dataclass(frozen=True)
class Family:
    id: str
    title: dict[str, str]
    redirect: dict[str, str]
    examples: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "redirect": self.redirect,
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


@dataclass
class Scope:
    families: list[Family] = field(default_factory=list)

    def to_dict(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.families]

    @classmethod
    def from_dict(cls, data: list[dict[str, Any]]) -> Scope:
        return cls(
            [
                Family(d["id"], d["title"], d["redirect"], {k: tuple(v) for k, v in d["examples"].items()})
                for d in data
            ]
        )


def _lang_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ArticleError(SCOPE_FILE, f"{where} must map a language code to a text")
    return {str(k): v.strip() for k, v in value.items()}


def parse_scope(text: str) -> Scope:
    data = yaml_mapping(text, SCOPE_FILE, "must map a family id to {title, redirect, examples}")
    families = []
    for fid, spec in data.items():
        if not isinstance(spec, dict):
            raise ArticleError(SCOPE_FILE, f"{fid}: must be a mapping")
        examples = spec.get("examples") or {}
        if not isinstance(examples, dict):
            raise ArticleError(SCOPE_FILE, f"{fid}.examples must map a language to a list of phrasings")
        clean: dict[str, tuple[str, ...]] = {}
        for lang, texts in examples.items():
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ArticleError(SCOPE_FILE, f"{fid}.examples.{lang} must be a list of strings")
            clean[str(lang)] = tuple(t.strip() for t in texts if t.strip())
        families.append(
            Family(
                str(fid),
                _lang_map(spec.get("title", {}), f"{fid}.title"),
                _lang_map(spec.get("redirect", {}), f"{fid}.redirect"),
                clean,
            )
        )
    return Scope(families)


def load_scope(articles_dir: Path) -> tuple[Scope, str]:
    """The out-of-scope families of an articles folder and the file's hash (empty if there is none)."""
    found = read_kb_file(articles_dir, SCOPE_FILE)
    if found is None:
        return Scope(), ""
    return parse_scope(found[0]), found[1]


def scope_articles(scope: Scope, sha256: str) -> list[Article]:
    """One hidden pseudo-article per family and language: its examples are its `questions`."""
    return [
        Article(
            id=f"{lang}/{SCOPE_PREFIX}{family.id}",
            slug=f"{SCOPE_PREFIX}{family.id}",
            lang=lang,
            title=family.title.get(lang, family.id),
            body=family.redirect.get(lang, ""),
            path=SCOPE_FILE,
            sha256=sha256,
            audience=SCOPE_AUDIENCE,
            questions=examples,
        )
        for family in scope.families
        for lang, examples in sorted(family.examples.items())
        if examples
    ]
