"""The staff console in French: every string of its templates goes through gettext and has a translation,
a staff member's language choice is kept on their account, and dates and numbers follow it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment

from tests.catalogues import compiled_differs

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOG = WEB / "translations" / "fr" / "LC_MESSAGES"
CONSOLE_TEMPLATES = sorted((WEB / "templates" / "console").glob("*.html"))
# Python files whose strings the console shows (flash messages, notices, labels).
CONSOLE_PYTHON = [
    "auth.py",
    "authors.py",
    "console.py",
    "console_admin.py",
    "console_intake.py",
    "console_integrations.py",
    "console_labels.py",
    "console_problems.py",
    "console_queue.py",
    "console_ticket.py",
    "dashboard.py",
    "desk.py",
    "privacy/__init__.py",
]
# Visible text that is the same in every language (codes, symbols, product names).
ALLOWED = {"P", "UTC", "JSON", "CSV", "kb", "KB", "API", "SLA", "OK", "CSAT", "URL"}
VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "summary")
WORD = re.compile(r"[^\W\d_]{2,}")
URL = re.compile(r"https?://\S+")
MARK = "\x00"


class _Text(HTMLParser):
    """Collects the text nodes and visible attributes of an HTML page whose Jinja parts were blanked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "pre"):
            self._skip += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "pre") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def untranslated_text(source: str) -> list[str]:
    """User-visible words of a Jinja template that are written outside `_()` / `{% trans %}`."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    pieces: list[str] = []
    in_trans = False
    block: list[str] = []
    for _line, kind, value in env.lex(source):
        if kind == "block_begin":
            block = []
        elif kind == "name" and not block:
            block.append(value)
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
        if kind == "data" and not in_trans:
            pieces.append(value)
        elif kind in ("variable_begin", "block_begin", "comment_begin"):
            pieces.append(MARK)
    parser = _Text()
    parser.feed("".join(pieces))
    parser.close()
    left = []
    for text in parser.found:
        bare = URL.sub(" ", text.replace(MARK, " "))
        words = [w for w in WORD.findall(bare) if w not in ALLOWED]
        if words:
            left.append(" ".join(text.replace(MARK, "…").split()))
    return left


def test_the_checker_finds_a_bare_string_and_accepts_translated_ones() -> None:
    assert untranslated_text("<p>Hello {{ name }}</p>") == ["Hello …"]
    assert untranslated_text('<input placeholder="name">') == ["name"]
    assert untranslated_text("<p>{{ _('Hello') }} P{{ n }} · {{ x }}</p>") == []
    assert untranslated_text("<p>{% trans n=1 %}Hello {{ n }}{% endtrans %}</p>") == []
    assert untranslated_text("{# a comment #}<script src=x>var a</script>") == []


@pytest.mark.parametrize("template", CONSOLE_TEMPLATES, ids=lambda p: p.name)
def test_console_template_has_no_untranslated_string(template: Path) -> None:
    left = untranslated_text(template.read_text(encoding="utf-8"))
    assert not left, f"mark for translation in {template.name}: {left}"


KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "_lp": ((1, "c"), 2)}


def _console_messages() -> set[tuple[str | None, str]]:
    """(context, message) of every string the console's templates and Python files mark."""
    method_map = [(name, "python") for name in CONSOLE_PYTHON] + [("templates/console/*.html", "jinja2")]
    found: set[tuple[str | None, str]] = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(WEB), method_map, keywords=KEYWORDS):
        found.add((context, message if isinstance(message, str) else message[0]))  # plurals: by singular
    return found


def test_every_console_string_has_a_french_translation() -> None:
    with (CATALOG / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(m for c, m in _console_messages() if not (catalog.get(m, c) and catalog.get(m, c).string))
    assert not missing, "add to web/translations/fr/LC_MESSAGES/messages.po: " + "; ".join(missing)


def test_compiled_catalog_matches_the_po_file() -> None:
    assert not compiled_differs(CATALOG / "messages.po"), "run: .venv/bin/pybabel compile -d web/translations"
