"""Interface language of the customer pages (Flask-Babel): English and French.

The language is, in order: a `?lang=xx` switch (kept in the session), the browser's Accept-Language, else
English. Translations live in `web/translations/<lang>/LC_MESSAGES/messages.po`, compiled to the `.mo`
committed beside it (`pybabel compile -d web/translations` after an edit; a test checks both agree and
that every string of the customer templates is translated). Dates and numbers go through Babel's
formatters (`|dateformat`, `|datetimeformat`, `|numberformat` in templates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Flask, g, request, session
from flask_babel import Babel, format_date

from kb_engine.language import detect_language
from web.resources import get_searcher

# Languages the interface is translated into; the first is the default.
UI_LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT = "en"
# Below this confidence in a query's own language, the interface's language decides which translation
# of an article comes first. Forcing it on every query would cost confidence on clear queries typed in
# the other language (dev set: answered 0.98 -> 0.75-0.79); at 0.7 it costs at most 0.02.
LANGUAGE_SURE = 0.7

babel = Babel()


def ui_lang() -> str:
    """The language of this request's interface (two letters)."""
    cached = g.get("ui_lang")
    if cached:
        return str(cached)
    lang = session.get("lang")
    if lang not in UI_LANGUAGES:
        lang = request.accept_languages.best_match(list(UI_LANGUAGES)) or DEFAULT
    g.ui_lang = lang
    return str(lang)


def search_language(query: str, interface: str | None = None) -> str | None:
    """The language to search `query` in: None (let the searcher detect it) unless that is unclear,
    then the interface's language, so that its translation of an article comes first."""
    languages = get_searcher().languages
    interface = interface or ui_lang()
    if interface not in languages:
        return None
    _lang, sure = detect_language(query, languages)
    return None if sure >= LANGUAGE_SURE else interface


def switch_url(lang: str) -> str:
    """This page's address with the interface switched to `lang` (other query parameters kept)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def localised_date(value: Any) -> str:
    """An article's `updated` (ISO date string or date) in the interface's language; as is if unparsable."""
    if isinstance(value, dt.date):
        return format_date(value, "long")
    try:
        return format_date(dt.date.fromisoformat(str(value)), "long")
    except ValueError:
        return str(value)


def init_app(app: Flask) -> None:
    babel.init_app(app, default_locale=DEFAULT, locale_selector=ui_lang)

    @app.before_request
    def remember_language() -> None:
        # A switch only changes the session; the page itself is rendered as usual (GETs stay read-only).
        lang = request.args.get("lang")
        if lang in UI_LANGUAGES:
            session["lang"] = lang
            g.pop("ui_lang", None)

    @app.context_processor
    def language_context() -> dict[str, Any]:
        return {"ui_lang": ui_lang(), "ui_languages": UI_LANGUAGES, "switch_url": switch_url}

    app.jinja_env.filters["localdate"] = localised_date
