"""The platforms the clarifying question offers ("Which one are you using?", issue 26): the optional
`articles/platforms.yml`, which authors edit like the glossary.

```yaml
phone:                       # a platform the built-in list knows: these words are added to its own
  words: [portable, tel]
chromebook:                  # a new platform: a new option, recognised in headings and queries
  words: [chromebook, chromeos]
  en: Chromebook             # its button's label per language (default: the identifier)
  fr: Chromebook
```

A section heading or a query names a platform when one of its words (accents and case folded) is one of
that platform's words; the built-in vocabulary, in English and French, is
`kb_engine.search.sections.DEFAULT_PLATFORMS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kb_engine.content.articles import read_kb_file
from kb_engine.content.yaml_files import yaml_mapping
from kb_engine.errors import ArticleError

PLATFORMS_FILE = "platforms.yml"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
_WORD = re.compile(r"^[^\W_]+$", re.UNICODE)


@dataclass(frozen=True)
class PlatformVocabulary:
    """Words per platform (added to the built-in ones) and button labels per platform and language."""

    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_platforms(text: str, shown: str = PLATFORMS_FILE) -> PlatformVocabulary:
    """Parse the platforms file; ArticleError saying what is wrong when it is malformed."""
    data = yaml_mapping(text, shown, "must be a mapping of platform -> {words: [...], en: label, ...}")
    words: dict[str, tuple[str, ...]] = {}
    labels: dict[str, dict[str, str]] = {}
    for name, entry in data.items():
        if not isinstance(name, str) or not _ID.match(name):
            raise ArticleError(shown, f"platform {name!r}: use lowercase letters, digits and -, at most 20")
        if not isinstance(entry, dict) or not isinstance(entry.get("words", []), list):
            raise ArticleError(shown, f"platform {name!r}: give `words: [word, …]` and labels per language")
        found = []
        for word in entry.get("words", []):
            if not isinstance(word, str) or not _WORD.match(word.strip()):
                raise ArticleError(shown, f"platform {name!r}: {word!r} is not one word")
            found.append(word.strip().lower())
        words[name] = tuple(found)
        for lang, label in entry.items():
            if lang == "words":
                continue
            if not (isinstance(lang, str) and re.fullmatch(r"[a-z]{2}", lang)) or not isinstance(label, str):
                raise ArticleError(shown, f"platform {name!r}: {lang!r} is not `words` or a language code")
            labels.setdefault(name, {})[lang] = label.strip()[:40]
    return PlatformVocabulary(words, labels)


def load_platforms(articles_dir: Path) -> PlatformVocabulary:
    """The articles folder's platforms file, or an empty vocabulary when it has none."""
    found = read_kb_file(Path(articles_dir), PLATFORMS_FILE)
    if found is None:
        return PlatformVocabulary()
    return parse_platforms(found[0], str(Path(articles_dir) / PLATFORMS_FILE))
