"""Interface language of the customer pages and the staff console (Flask-Babel): English and French.

The language is, in order: on staff pages (console, dashboard, authors' pages), the language the logged-in
staff member chose (`user_account.lang`, set by the console's language buttons); then a `?lang=xx` switch
(kept in the session), the browser's Accept-Language, else English. Translations live in
`web/translations/<lang>/LC_MESSAGES/messages.po`, compiled to the `.mo` committed beside it (`pybabel compile
-d web/translations` after an edit; tests check both agree and that every string of the customer and console
templates is translated). Dates and numbers go through Babel's formatters (`|localdate`, `|when`, `|decimal`,
`|percent` in templates).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_skeleton, get_datetime_format
from flask import Flask, g, request, session
from flask_babel import Babel, format_date, format_decimal, format_number, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from kb_engine.errors import KBError
from kb_engine.search.language import detect_language
from web.resources import get_searcher

# Languages the interface is translated into; the first is the default.
UI_LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT = "en"
# Below this confidence in a query's own language, the interface's language decides which translation
# of an article comes first. Forcing it on every query would cost confidence on clear queries typed in
# the other language (dev set: answered 0.98 -> 0.75-0.79); at 0.7 it costs at most 0.02.
LANGUAGE_SURE = 0.7

# Staff pages: their language is the logged-in member's choice when they made one.
STAFF_BLUEPRINTS = frozenset({"console", "auth", "dashboard", "authors"})
STAFF_ENDPOINTS = frozenset({"privacy.admin", "desk.make_problem"})

babel = Babel()


def is_staff_page() -> bool:
    """Whether this request is for a page of the staff console (not a customer page)."""
    return request.blueprint in STAFF_BLUEPRINTS or request.endpoint in STAFF_ENDPOINTS


def staff_lang() -> str | None:
    """The console language the logged-in staff member chose, if any."""
    from flask_login import current_user

    if not current_user or not current_user.is_authenticated:
        return None
    lang = getattr(current_user, "lang", None)
    return lang if lang in UI_LANGUAGES else None


def ui_lang() -> str:
    """The language of this request's interface (two letters)."""
    cached = g.get("ui_lang")
    if cached:
        return str(cached)
    lang = staff_lang() if is_staff_page() else None
    if lang is None:
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


def localised_datetime(value: Any, date: str = "yMMMd", time: bool = True) -> str:
    """A date and time in the interface's language (naive values are UTC, shown as they are).

    `date` is a CLDR skeleton: "yMMMd" gives "Dec 6, 2026, 14:05" / "6 déc. 2026, 14:05", "MMMd" drops the
    year; `time=False` leaves the time out."""
    if not isinstance(value, dt.date):
        return "" if value is None else str(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    locale = get_locale() or DEFAULT
    day = format_skeleton(date, value, tzinfo=dt.UTC, locale=locale)
    if not time:
        return day
    hour = format_skeleton("Hm", value, tzinfo=dt.UTC, locale=locale)
    return str(get_datetime_format("medium", locale=locale)).replace("{1}", day).replace("{0}", hour)


def localised_decimal(value: Any, places: int = 2) -> str:
    """A score or rate with `places` decimals in the interface's language (0.85 / 0,85)."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return str(value)
    return format_decimal(number, "0." + "0" * places if places else "0")


def localised_percent(value: Any, places: int = 0) -> str:
    """A rate (0.125) as a percentage in the interface's language: "12.5%" / "12,5 %"."""
    try:
        number = float(value or 0)
    except (TypeError, ValueError):
        return str(value)
    # The locale's own pattern (its spacing and sign place), with `places` decimals.
    pattern = str(Locale.parse(str(get_locale() or DEFAULT)).percent_formats[None].pattern)
    if places:
        pattern = pattern.replace("0", "0." + "0" * places, 1)
    return format_percent(number, pattern)


# Ticket fields as customers know them (kb_engine.helpdesk.tickets.LIMITS names).
FIELD_LABELS = {
    "query": _l("description"),
    "contact_name": _l("name"),
    "contact_email": _l("email address"),
    "contact_phone": _l("phone number"),
    "availability": _l("availability"),
    "details": _l("details"),
    "message": _l("message"),
}


def error_text(exc: KBError) -> str:
    """An error of the engine in the customer's interface language (the English `message` otherwise)."""
    params = exc.params
    field = str(FIELD_LABELS.get(str(params.get("field")), params.get("field", "")))
    if exc.key == "too_long":
        return _(
            "The %(field)s field is %(length)s characters long; the limit is %(limit)s.",
            field=field,
            length=format_number(params["length"]),
            limit=format_number(params["limit"]),
        )
    if exc.key == "bad_email":
        return _("That email address does not look right.")
    if exc.key == "required":
        return _("Please fill in the %(field)s field.", field=field)
    if exc.key == "closed":
        return _(
            "Request %(reference)s is closed and cannot take replies any more; please start a new request.",
            reference=params["reference"],
        )
    if exc.key == "overloaded":
        return _("The search service is busy; please try again in a moment.")
    if exc.key == "rating":
        return _("Please choose an answer: satisfied or not.")
    if exc.key == "not_resolved":
        return _("This request is not resolved yet: you can tell us whether you are satisfied once it is.")
    if exc.key == "over":
        return _("This known issue is over: there is nothing left to wait for.")
    if exc.key == "store_busy":
        return _("The ticket database is busy; nothing was lost, please try again in a moment.")
    if exc.key == "too_many":
        minutes = int(str(exc.params.get("minutes", 1)))
        if minutes == 1:
            return _("You have sent a lot in a short time. Please try again in a minute.")
        return _("You have sent a lot in a short time. Please try again in %(num)s minutes.", num=minutes)
    if exc.key == "store_full":
        return _("The ticket database is full; nothing was lost, please try again in a moment.")
    if exc.key == "store_down":
        return _("The ticket database is unavailable; nothing was lost, please try again in a moment.")
    return exc.message


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
    app.jinja_env.filters["when"] = localised_datetime
    app.jinja_env.filters["decimal"] = localised_decimal
    app.jinja_env.filters["percent"] = localised_percent
