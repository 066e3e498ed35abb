"""The help centre to browse (issue 25): category tiles, popular and recently updated articles on the
home page, a page per category, popular articles on the 404 page. Internal articles never appear.

Popularity is `kb_engine.insights.popular` (views and "solved", decaying with `KB_POPULAR_HALF_LIFE_DAYS`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from kb_engine.content.articles import Article
from kb_engine.content.browse import category_tiles, in_category, recently_updated
from kb_engine.content.categories import Category, category_of, load_categories
from kb_engine.errors import (
    IndexBusy,
    IndexMismatch,
    IndexMissing,
    InvalidQuery,
    KBError,
    StoreUnavailable,
    TooManyRequests,
)
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.lost_links import send_links
from kb_engine.helpdesk.tickets.rules import check_email, required_field
from kb_engine.insights.popular import popular_articles, popularity
from kb_engine.search.highlight import highlight_spans, query_terms
from web import with_retry_after
from web.i18n import error_text, ui_lang
from web.resources import get_db, get_searcher, get_tickets, limit

bp = Blueprint("helpcentre", __name__)
log = logging.getLogger(__name__)
CATEGORY_RE = r"[a-z0-9][a-z0-9_-]{0,63}"


def categories() -> dict[str, Category]:
    try:
        return load_categories(Path(current_app.config["ARTICLES_DIR"]))
    except KBError as exc:  # a broken categories file must not take the help centre down: ids are shown
        log.warning("categories file unusable: %s", exc)
        return {}


LINK_RE = re.compile(
    r"(https?://[^\s<>\"]+[^\s<>\".,;:!?)\]])|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
)


@bp.app_template_filter("linkify")
def linkify(text: str) -> Markup:
    """Plain text with its web addresses and email addresses made links (the rest escaped)."""
    out, last = [], 0
    for m in LINK_RE.finditer(text or ""):
        out.append(escape(text[last : m.start()]))
        url, email = m.group(1), m.group(2)
        href = url if url else f"mailto:{email}"
        out.append(Markup('<a href="{}">{}</a>').format(href, m.group(0)))
        last = m.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


@bp.app_template_filter("highlight")
def highlight(text: str, query: str | None, lang: str) -> Markup:
    """Text escaped, with the query's words (and their glossary equivalents) in `<mark>`: a result's
    title and snippet on the results page."""
    text = text or ""
    try:
        glossary = get_searcher().glossary
    except KBError:  # no index: nothing to look words up in, the text is shown as it is
        glossary = None
    spans = highlight_spans(text, query_terms((query or "")[:300], lang, glossary), lang) if query else []
    out, last = [], 0
    for start, end in spans:
        out.append(escape(text[last:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.app_template_global()
def category_name(cid: str) -> str:
    """A category's name in the interface's language (templates: the category under a result's title)."""
    found = category_of(categories(), cid)
    return found.name(ui_lang()) if found else cid


def popular(limit: int = 5) -> list[Article]:
    """The most popular public articles in the interface's language."""
    scores = popularity(get_db(), half_life_days=current_app.config["POPULAR_HALF_LIFE_DAYS"])
    return popular_articles(scores, get_searcher().articles, ui_lang(), limit)


def home_context() -> dict[str, Any]:
    """What the home page shows around the search box."""
    lang = ui_lang()
    try:
        articles = get_searcher().articles
    except (IndexMissing, IndexMismatch, IndexBusy):
        # No index to browse (not built yet, or being replaced): the search box still shows, and a search
        # gets the clear 503 page.
        log.warning("home page without topics: the index cannot be read")
        return {"tiles": [], "popular": [], "recent": []}
    return {
        "tiles": category_tiles(articles, categories(), lang),
        "popular": popular(),
        "recent": recently_updated(articles, lang),
    }


def not_found_context() -> dict[str, Any]:
    """Popular articles for the 404 page; nothing when the index or the database cannot answer (an error
    page must render whatever else is broken)."""
    try:
        return {"popular": popular()}
    except Exception:  # noqa: BLE001 - the error page must render whatever else failed
        log.exception("popular articles unavailable for the error page")
        return {"popular": []}


@bp.get("/categories/<string:cid>")
def category(cid: str):
    """A category's public articles, in the interface's language first."""
    if not re.fullmatch(CATEGORY_RE, cid):
        abort(404)
    lang = ui_lang()
    articles = in_category(get_searcher().articles, cid, lang)
    if not articles:
        abort(404)
    found = category_of(categories(), cid)
    return render_template("category.html", category=found, articles=articles)


# -- "Lost your link?" ---------------------------------------------------------------------------------


@bp.get("/requests/lost-link")
def lost_link():
    """'Lost your link? Enter your email': the form."""
    return render_template("lost_link.html", email="", error=None, sent=request.args.get("sent") == "1")


@bp.post("/requests/lost-link")
def lost_link_send():
    """Email the links of the address's open requests; the same answer whether the address is known."""
    email = request.form.get("email", "").strip()[:320]
    try:  # the one email rule of the contact form, the API and `kb tickets create`
        required_field("email", check_email("email", email))
    except InvalidQuery:
        error = _("Enter the email address you gave when you asked for help, like name@example.com.")
        return render_template("lost_link.html", email=email, error=error, sent=False), 400
    db = get_db()
    try:
        with store_errors():
            limit("lost_link")
            send_links(db, get_tickets().notifier, email, ui_lang())
            db.commit()
    except (StoreUnavailable, TooManyRequests) as exc:
        db.rollback()
        page = render_template("lost_link.html", email=email, error=error_text(exc), sent=False), exc.status
        return with_retry_after(page, exc)
    return redirect(url_for("helpcentre.lost_link", sent=1), code=303)
