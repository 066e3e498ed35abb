"""Help-centre categories: `articles/categories.yml`, names and descriptions per language, in order.

```yaml
accounts:
  en: {name: "Accounts and passwords", description: "Sign-in, passwords, two-factor codes"}
  fr: {name: "Comptes et mots de passe", description: "Connexion, mots de passe, codes à usage unique"}
```

An article's `category:` names one of them. A category the file does not list still shows, under its
own identifier, so that a missing entry never hides articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb_engine.content.articles import read_kb_file
from kb_engine.content.yaml_files import yaml_mapping
from kb_engine.errors import ArticleError

CATEGORIES_FILE = "categories.yml"


@dataclass(frozen=True)
class Category:
    id: str
    names: dict[str, str]
    descriptions: dict[str, str]

    def name(self, lang: str) -> str:
        return (
            self.names.get(lang)
            or next(iter(self.names.values()), None)
            or self.id.replace("-", " ").capitalize()
        )

    def description(self, lang: str) -> str:
        return self.descriptions.get(lang, "")


def parse_categories(text: str, shown: str = CATEGORIES_FILE) -> dict[str, Category]:
    """Parse the categories file (in its order); ArticleError with the reason when malformed."""
    data = yaml_mapping(text, shown, "must be a mapping of category id -> languages")
    out: dict[str, Category] = {}
    for cid, langs in data.items():
        if not isinstance(langs, dict):
            raise ArticleError(shown, f"category {cid!r}: give a name per language (en: {{name: …}})")
        names: dict[str, str] = {}
        descriptions: dict[str, str] = {}
        for lang, value in langs.items():
            entry: Any = {"name": value} if isinstance(value, str) else value
            if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
                raise ArticleError(shown, f"category {cid!r}, {lang}: `name` is missing")
            names[str(lang)] = str(entry["name"]).strip()
            if entry.get("description"):
                descriptions[str(lang)] = str(entry["description"]).strip()
        out[str(cid)] = Category(str(cid), names, descriptions)
    return out


_cache: dict[Path, tuple[str, dict[str, Category]]] = {}


def load_categories(articles_dir: Path) -> dict[str, Category]:
    """The categories of an articles folder (re-read when the file changes); {} without a file."""
    found = read_kb_file(articles_dir, CATEGORIES_FILE)
    if found is None:
        return {}
    text, sha = found
    cached = _cache.get(Path(articles_dir))
    if cached is None or cached[0] != sha:
        cached = (sha, parse_categories(text))
        _cache[Path(articles_dir)] = cached
    return cached[1]


def category_of(categories: dict[str, Category], cid: str | None) -> Category | None:
    if not cid:
        return None
    return categories.get(cid) or Category(cid, {}, {})
