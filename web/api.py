"""JSON API under /api/v1, documented by OpenAPI (flask-smorest) at /api/v1/openapi.json.

The search response has the same fields as `kb search --json`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, current_app
from flask_smorest import Api

from kb_engine.content.articles import SLUG_RE, article_id, render_article
from kb_engine.errors import NotFound
from web.i18n import search_language
from web.json_input import Blueprint
from web.resources import get_embed, get_searcher, get_tickets

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Search and articles")


class SearchArgs(ma.Schema):
    q = ma.fields.String(required=True, metadata={"description": "The customer's problem description."})
    k = ma.fields.Integer(load_default=None, validate=ma.validate.Range(1, 50))
    lang = ma.fields.String(load_default=None, validate=ma.validate.Length(equal=2))
    ui = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(equal=2),
        metadata={"description": "The interface's language: preferred when the query's own is unclear."},
    )
    known_issues = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also answer the open known issue (problem) this query is about, if any."},
    )


class HitSchema(ma.Schema):
    id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    lang = ma.fields.String(required=True)
    score = ma.fields.Float(required=True)
    url = ma.fields.String(required=True)
    snippet = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    audience = ma.fields.String()
    other_language = ma.fields.Boolean()
    matched = ma.fields.String()


class RedirectSchema(ma.Schema):
    family = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    message = ma.fields.String(required=True)


class KnownIssueSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    banner = ma.fields.String(allow_none=True)


class SearchResponseSchema(ma.Schema):
    query = ma.fields.String(required=True)
    answered = ma.fields.Boolean(required=True)
    confidence = ma.fields.Float(required=True)
    lang = ma.fields.String()
    degraded = ma.fields.Boolean()
    hits = ma.fields.List(ma.fields.Nested(HitSchema), required=True)
    redirect = ma.fields.Nested(
        RedirectSchema, metadata={"description": "Out of scope: where to go instead (not a ticket offer)."}
    )
    known_issue = ma.fields.Nested(KnownIssueSchema, allow_none=True)


class ArticleSchema(ma.Schema):
    id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    lang = ma.fields.String(required=True)
    url = ma.fields.String(required=True)
    category = ma.fields.String(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    questions = ma.fields.List(ma.fields.String())
    updated = ma.fields.String(allow_none=True)
    html = ma.fields.String(required=True)
    markdown = ma.fields.String(required=True)
    translations = ma.fields.List(ma.fields.String())


@blp.route("/search")
@blp.arguments(SearchArgs, location="query")
@blp.response(200, SearchResponseSchema)
def search(args: dict[str, Any]) -> dict[str, Any]:
    """Search public articles (same fields as `kb search --json`); never writes (suggestions, widget)."""
    k = args["k"] or current_app.config["RESULTS"]
    lang = args["lang"] or (search_language(args["q"], args["ui"]) if args["ui"] else None)
    response = get_searcher().search(args["q"], k=k, lang=lang)
    data = response.to_dict()
    if args["known_issues"]:
        problem = get_tickets().active_problem_for(args["q"], get_embed())
        data["known_issue"] = (
            {"id": problem.id, "title": problem.title, "banner": problem.banner} if problem else None
        )
    return data


@blp.route("/articles/<lang>/<slug>")
@blp.response(200, ArticleSchema)
def article(lang: str, slug: str) -> dict[str, Any]:
    """One public article, as sanitised HTML and as Markdown."""
    if not SLUG_RE.match(slug) or len(lang) != 2:
        raise NotFound(f"no article {lang}/{slug}")
    searcher = get_searcher()
    art = searcher.article(article_id(lang, slug))
    return {
        "id": art.id,
        "title": art.title,
        "lang": art.lang,
        "url": art.url,
        "category": art.category,
        "tags": list(art.tags),
        "questions": list(art.questions),
        "updated": art.updated,
        "html": render_article(art, pages="/articles", media="/kb-media"),
        "markdown": art.body,
        "translations": [t.id for t in searcher.translations(art)],
    }


def init_api(app: Flask) -> None:
    from web.api_tickets import blp as tickets_blp

    api = Api(app)
    api.register_blueprint(blp)
    api.register_blueprint(tickets_blp)
