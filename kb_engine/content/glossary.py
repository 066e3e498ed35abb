"""The authors' glossary: lay words and abbreviations -> technical terms, applied at query time.

`articles/glossary.yml` maps, per language, a word or phrase customers type ("mdp", "the internet") to
terms the articles use ("mot de passe", "wi-fi"). Keys match case- and accent-insensitively as whole
words; the terms are added to the query, never substituted for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kb_engine.content.articles import read_kb_file
from kb_engine.content.text import fold
from kb_engine.content.yaml_files import yaml_mapping
from kb_engine.errors import ArticleError

GLOSSARY_FILE = "glossary.yml"


@dataclass
class Glossary:
    entries: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _patterns: dict[str, list[tuple[str, re.Pattern[str], list[str]]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        for lang, mapping in self.entries.items():
            # Longest keys first so "mot de passe" is seen before "mot".
            keys = sorted(mapping, key=len, reverse=True)
            self._patterns[lang] = [
                (fold(k), re.compile(rf"(?<!\w){re.escape(fold(k))}(?!\w)"), mapping[k]) for k in keys
            ]

    def expand(self, query: str) -> dict[str, list[str]]:
        """Terms to add to a query, per language: {"fr": ["mot de passe"], ...}."""
        folded = fold(query)
        out: dict[str, list[str]] = {}
        for lang, patterns in self._patterns.items():
            found: list[str] = []
            for key, pattern, terms in patterns:
                # The substring test is a cheap necessary condition (a query matches few of the keys).
                if key in folded and pattern.search(folded):
                    found.extend(t for t in terms if t not in found)
            if found:
                out[lang] = found
        return out

    def to_dict(self) -> dict[str, dict[str, list[str]]]:
        return self.entries


def parse_glossary(text: str, shown: str = GLOSSARY_FILE) -> Glossary:
    """Parse glossary YAML; raises ArticleError with the reason when malformed."""
    data = yaml_mapping(text, shown, "must be a mapping of language -> {word: [terms]}")
    entries: dict[str, dict[str, list[str]]] = {}
    for lang, mapping in data.items():
        if not isinstance(mapping, dict):
            raise ArticleError(shown, f"section {lang!r} must map words to lists of terms")
        clean: dict[str, list[str]] = {}
        for key, terms in mapping.items():
            if isinstance(terms, str):
                terms = [terms]
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                raise ArticleError(shown, f"{lang}.{key}: the value must be a list of strings")
            if str(key).strip():
                clean[str(key).strip().lower()] = [t.strip() for t in terms if t.strip()]
        entries[str(lang)] = clean
    return Glossary(entries)


def load_glossary(articles_dir: Path) -> tuple[Glossary, str]:
    """The glossary of an articles folder and its content hash (empty glossary if there is none)."""
    found = read_kb_file(articles_dir, GLOSSARY_FILE)
    if found is None:
        return Glossary(), ""
    return parse_glossary(found[0]), found[1]
