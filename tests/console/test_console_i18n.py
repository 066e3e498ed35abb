"""The staff console in French: every string of its templates goes through gettext and has a translation,
a staff member's language choice is kept on their account, and dates and numbers follow it."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment

from tests.catalogues import compiled_differs
from tests.conftest import csrf_token, login_staff
from tests.console.conftest import open_ticket

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
    for _file, _line, message, _comments, context in extract_from_dir(
        str(WEB), method_map, keywords=KEYWORDS
    ):
        found.add((context, message if isinstance(message, str) else message[0]))  # plurals: by singular
    return found


def test_every_console_string_has_a_french_translation() -> None:
    with (CATALOG / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = sorted(
        m for c, m in _console_messages() if not (catalog.get(m, c) and catalog.get(m, c).string)
    )
    assert not missing, "add to web/translations/fr/LC_MESSAGES/messages.po: " + "; ".join(missing)


def test_compiled_catalog_matches_the_po_file() -> None:
    assert not compiled_differs(CATALOG / "messages.po"), "run: .venv/bin/pybabel compile -d web/translations"


# -- the console in use ------------------------------------------------------------------------------------
def _lang_of(app, username: str) -> str | None:
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.models import User

    with make_session_factory(app.extensions["kb_engine"])() as session:
        return session.query(User).filter_by(username=username).one().lang


def test_login_page_follows_the_browser_and_the_language_switch(client) -> None:
    french = client.get("/console/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(
        as_text=True
    )
    assert '<html lang="fr">' in french and "Se connecter" in french and "Identifiant" in french
    english = client.get("/console/login?lang=en", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english


def test_staff_member_chooses_the_console_language_and_it_is_kept_on_the_account(app, client) -> None:
    login_staff(app, client, "lena", "agent-L1")
    reference = open_ticket(app, query="imprimante hors ligne", contact_email="ana@example.com")
    page = client.get(f"/console/tickets/{reference}").get_data(as_text=True)
    assert '<html lang="en">' in page and "Reply to the customer" in page  # the browser says nothing: English
    token = csrf_token(client, "/console/")
    done = client.post("/console/language", data={"csrf_token": token, "lang": "fr", "next": "/console/"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/console/")
    assert _lang_of(app, "lena") == "fr"
    page = client.get(f"/console/tickets/{reference}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert '<html lang="fr">' in page
    assert "Répondre au client" in page and "Note interne" in page and "nouvelle" in page  # status label
    assert re.search(
        r"<time datetime=\"[^\"]+\">\d{1,2} \w+\.? \d{4}, \d\d:\d\d</time>", page
    )  # 6 déc. 2026, 14:05
    queue = client.get("/console/").get_data(as_text=True)
    assert "File de travail" in queue and "Prendre" in queue and "N1" in queue
    # The customer pages keep their own language: the account's choice is for the console.
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # Back to the browser's language.
    client.post("/console/language", data={"csrf_token": token, "lang": ""})
    assert _lang_of(app, "lena") is None


def test_unknown_language_is_refused_and_changes_nothing(app, client) -> None:
    login_staff(app, client, "lena", "agent-L1")
    token = csrf_token(client, "/console/")
    assert client.post("/console/language", data={"csrf_token": token, "lang": "xx"}).status_code == 400
    assert client.post("/console/language", data={"lang": "fr"}).status_code in (400, 403)  # no CSRF token
    assert _lang_of(app, "lena") is None


def test_next_after_a_language_change_stays_on_this_site(app, client) -> None:
    login_staff(app, client, "lena", "agent-L1")
    token = csrf_token(client, "/console/")
    done = client.post(
        "/console/language", data={"csrf_token": token, "lang": "fr", "next": "//evil.example/x"}
    )
    assert done.status_code == 303 and "evil" not in done.headers["Location"]


def test_notices_and_errors_of_the_console_are_in_french(app, client) -> None:
    login_staff(app, client, "lena", "agent-L1")
    reference = open_ticket(app, query="printer offline", contact_email="ana@example.com")
    token = csrf_token(client, "/console/")
    client.post("/console/language", data={"csrf_token": token, "lang": "fr"})
    taken = client.post(
        f"/console/tickets/{reference}/take", data={"csrf_token": token}, follow_redirects=True
    )
    assert f"{reference} est à vous" in taken.get_data(as_text=True)
    refused = client.post(
        "/console/queue/bulk", data={"csrf_token": token, "bulk": "take"}, follow_redirects=True
    )
    assert "Sélectionnez au moins une demande." in refused.get_data(as_text=True)
    closing = client.post(f"/console/tickets/{reference}/close", data={"csrf_token": token, "reason": ""})
    assert "dites pourquoi la demande est clôturée" in closing.get_data(as_text=True)


def test_priority_reasons_are_shown_in_the_console_language(app) -> None:
    from web.console_labels import priority_reason

    reasons = [
        "no severity words",
        "severity 3 (down)",
        "4 customers",
        "waiting 2.5 days, past its target 1 time(s)",
    ]
    with app.test_request_context("/console/", headers={"Accept-Language": "fr"}):
        assert [priority_reason(r) for r in reasons] == [
            "aucun mot de gravité",
            "gravité 3 (down)",
            "4 clients",
            "en attente depuis 2,5 jours, objectif dépassé 1 fois",
        ]
        assert priority_reason("a reason from elsewhere") == "a reason from elsewhere"
    with app.test_request_context("/console/", headers={"Accept-Language": "en"}):
        assert [priority_reason(r) for r in reasons] == reasons


def test_engine_errors_the_agents_meet_are_translated_and_others_kept(app) -> None:
    from kb_engine.errors import InvalidQuery, InvalidTransition
    from web.console_labels import ERRORS, console_error

    resolved = InvalidTransition("cannot resolve KB-000007: it is already resolved")
    tier = InvalidQuery("lena (agent-L1) cannot work on an L2 ticket")
    other = InvalidQuery("something the table does not know")
    with app.test_request_context("/console/", headers={"Accept-Language": "fr"}):
        assert console_error(resolved) == "impossible de résoudre KB-000007\u00a0: elle est déjà résolue"
        assert console_error(tier) == "lena (agent N1) ne peut pas traiter une demande N2"
        assert console_error(other) == "something the table does not know"
        # Every pattern's placeholders are filled by its groups (a typo would raise KeyError here).
        for pattern, message in ERRORS:
            assert set(pattern.groupindex) >= set(re.findall(r"%\((\w+)\)s", str(message))), pattern.pattern
    with app.test_request_context("/console/", headers={"Accept-Language": "en"}):
        assert console_error(resolved) == resolved.message and console_error(tier) == tier.message


def test_dashboard_labels_follow_each_request_language_in_one_process(app) -> None:
    """Jinja folds a filter of a constant (`'L1'|tier_label`) when it compiles the template: the first
    render's language would then stay for everyone served by that process (the dashboard's chart labels)."""
    english, french = app.test_client(), app.test_client()
    login_staff(app, english, "admin-en", "admin")
    login_staff(app, french, "admin-fr", "admin")
    french.post("/console/language", data={"csrf_token": csrf_token(french, "/console/"), "lang": "fr"})

    def tier_labels(client) -> dict[str, str]:
        html = client.get("/console/dashboard").get_data(as_text=True)
        found = re.search(r"data-labels='([^']+)'", html)
        assert found, "dashboard without its labels"
        return json.loads(unescape(found.group(1)))["tiers"]

    assert tier_labels(english)["L1"] == "L1"  # compiled while rendering in English
    assert tier_labels(french) == {"L1": "N1", "L2": "N2", "L3": "N3", "L4": "N4"}
    assert tier_labels(english)["L2"] == "L2"
