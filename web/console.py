"""The agent console (/console): the queue, ticket pages with their actions, agent search, canned replies.

Every page needs a logged-in staff member; every change is a POST (CSRF-checked) that goes through
`TicketService` under the agent's name, and only on tickets of a tier the agent's role covers.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request
from markupsafe import Markup

from kb_engine.content.articles import SLUG_RE, article_id, render_article
from kb_engine.content.canned import FILENAME as CANNED_FILE
from kb_engine.content.canned import load_canned
from kb_engine.errors import InvalidQuery
from web.auth import login_required_for_blueprint, staff, staff_required
from web.console_labels import console_error
from web.resources import get_searcher, send_media

bp = Blueprint("console", __name__, url_prefix="/console")
login_required_for_blueprint(bp)


# -- agent search and internal articles -------------------------------------------------------------------
@bp.get("/search")
@staff_required
def search():
    """The customers' search plus internal articles, with scores and confidence visible (not logged)."""
    query = request.args.get("q", "").strip()
    lang = request.args.get("lang") or None
    response = error = None
    if query:
        try:
            response = get_searcher().search(
                query,
                k=10,
                include_internal=True,
                lang=lang if lang in current_app.config["LANGUAGES"] else None,
            )
        except InvalidQuery as exc:
            error = console_error(exc)
    return render_template(
        "console/search.html",
        query=query,
        lang=lang or "",
        response=response,
        threshold=get_searcher().params.threshold,
        languages=current_app.config["LANGUAGES"],
        error=error,
        user=staff(),
    )


@bp.get("/articles/<lang>/<slug>")
@staff_required
def article(lang: str, slug: str):
    """An article as agents see it (internal ones too)."""
    if not SLUG_RE.match(slug) or len(lang) != 2:
        abort(404)
    searcher = get_searcher()
    art = searcher.article(article_id(lang, slug), include_internal=True)
    html = Markup(render_article(art, pages="/console/articles", media="/console/kb-media"))  # noqa: S704 - sanitised by nh3
    return render_template(
        "console/article.html",
        article=art,
        html=html,
        translations=searcher.translations(art, include_internal=True),
        user=staff(),
    )


@bp.get("/kb-media/<path:name>")
@staff_required
def media(name: str):
    """An image any article shows, internal ones included."""
    return send_media(name, shown=get_searcher().media(include_internal=True))


@bp.get("/canned")
@staff_required
def canned():
    """The canned replies, every language, with their placeholders."""
    path = Path(current_app.config["ARTICLES_DIR"]) / CANNED_FILE
    return render_template("console/canned.html", replies=load_canned(path), path=CANNED_FILE, user=staff())


# The queue, ticket page, problems page and intake screen register their views on this blueprint.
from web import (  # noqa: E402,F401
    console_admin,
    console_intake,
    console_integrations,  # noqa: E402,F401
    console_problems,
    console_queue,
    console_ticket,
)
