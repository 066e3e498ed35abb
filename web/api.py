"""JSON API under /api/v1, documented by OpenAPI (flask-smorest) at /api/v1/openapi.json.

The search response has the same fields as `kb search --json`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, current_app

from kb_engine.content.articles import SLUG_RE, article_id, render_article
from kb_engine.errors import NotFound
from kb_engine.search.answer import card_dict, card_of
from web.i18n import search_language
from web.json_input import Blueprint
from web.openapi import KBApi, Pattern, SettingLength, errors, path_parameter, text
from web.resources import get_embed, get_searcher, get_tickets

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Search and articles")


LANGUAGE = r"^[a-z]{2}$"


def language(description: str) -> ma.fields.String:
    return ma.fields.String(
        load_default=None,
        validate=Pattern(LANGUAGE, error="a two-letter language code, such as en or fr"),
        metadata={"description": description},
    )


class SearchArgs(ma.Schema):
    q = text(
        limit=SettingLength("MAX_QUERY_CHARS"),
        required=True,
        metadata={
            "description": "The customer's problem description (at most KB_MAX_QUERY_CHARS characters)."
        },
    )
    k = ma.fields.Integer(
        load_default=None,
        validate=ma.validate.Range(1, 50),
        metadata={"description": "How many articles at most (default: the KB_RESULTS setting)."},
    )
    lang = language("Search in this language (a language the index does not hold is ignored).")
    ui = language("The interface's language: preferred when the query's own is unclear.")
    known_issues = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also answer the open known issue (problem) this query is about, if any."},
    )
    clarify = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also say which question to ask when the answer depends on the platform."},
    )
    answer = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Also answer the answer card: the first hit's best section (when confident)."
        },
    )
    facet = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=20),
        metadata={"description": "The platform the customer chose (one of `clarify.options`): re-ranks."},
    )


class SectionSchema(ma.Schema):
    heading = ma.fields.String(required=True, metadata={"description": "Heading path, e.g. 'Steps > Phone'."})
    anchor = ma.fields.String(required=True, metadata={"description": "The heading's id on the page."})
    passage = ma.fields.String(required=True, metadata={"description": "The section's best-matching text."})
    url = ma.fields.String(required=True, metadata={"description": "The article page at that section."})


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
    section = ma.fields.Nested(
        SectionSchema, allow_none=True, metadata={"description": "The section that answers best."}
    )


class ClarifySchema(ma.Schema):
    facet = ma.fields.String(required=True, metadata={"description": "What is asked: `platform`."})
    options = ma.fields.List(ma.fields.String(), required=True)


class AnswerSchema(ma.Schema):
    article_id = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    heading = ma.fields.String(required=True, metadata={"description": "Heading path, e.g. 'Steps > Phone'."})
    anchor = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The article page at that section."})
    html = ma.fields.String(
        required=True,
        metadata={"description": "The section's own words, sanitised HTML, query words in <mark>."},
    )
    text = ma.fields.String(required=True, metadata={"description": "The same as plain text, with the link."})
    truncated = ma.fields.Boolean(required=True, metadata={"description": "Cut: the article says more."})


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
    outcome = ma.fields.String(
        metadata={
            "description": "answered (confident), suggest (these might help; a ticket is offered at once) "
            "or out_of_scope (nothing close enough, or a request the desk does not handle)."
        }
    )
    confidence = ma.fields.Float(required=True)
    lang = ma.fields.String()
    degraded = ma.fields.Boolean()
    hits = ma.fields.List(ma.fields.Nested(HitSchema), required=True)
    redirect = ma.fields.Nested(
        RedirectSchema, metadata={"description": "Out of scope: where to go instead (not a ticket offer)."}
    )
    known_issue = ma.fields.Nested(KnownIssueSchema, allow_none=True)
    clarify = ma.fields.Nested(
        ClarifySchema, metadata={"description": "Only with clarify=1, when the answer depends on it."}
    )
    facet = ma.fields.String(metadata={"description": "The facet value the hits were re-ranked for."})
    answer = ma.fields.Nested(
        AnswerSchema,
        allow_none=True,
        metadata={"description": "Only with answer=1: the answer card, null when the engine is not sure."},
    )


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
@blp.doc(operationId="search")
@blp.arguments(SearchArgs, location="query")
@blp.response(200, SearchResponseSchema)
@errors(blp, 503)
def search(args: dict[str, Any]) -> dict[str, Any]:
    """Search public articles (same fields as `kb search --json`); never writes (suggestions, widget)."""
    k = args["k"] or current_app.config["RESULTS"]
    lang = args["lang"] or (search_language(args["q"], args["ui"]) if args["ui"] else None)
    response = get_searcher().search(args["q"], k=k, lang=lang, clarify=args["clarify"], facet=args["facet"])
    data = response.to_dict()
    if args["answer"]:
        card = card_of(get_searcher(), response)
        data["answer"] = card_dict(card) if card is not None else None
    if args["known_issues"]:
        problem = get_tickets().active_problem_for(args["q"], get_embed())
        data["known_issue"] = (
            {"id": problem.id, "title": problem.title, "banner": problem.banner_for(args["ui"] or lang)}
            if problem
            else None
        )
    return data


ARTICLE_PATH = [
    path_parameter("lang", LANGUAGE, "The article's language.", example="en"),
    path_parameter(
        "slug", SLUG_RE.pattern, "The article's file name without `.md`.", example="password-reset"
    ),
]


@blp.route("/articles/<lang>/<slug>", parameters=ARTICLE_PATH)
@blp.doc(operationId="getArticle")
@blp.response(200, ArticleSchema)
@errors(blp, 404, 503)
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
    from web import api_staff
    from web.api_tickets import blp as tickets_blp

    api = KBApi(app)
    # In the app's context: the document states limits that are its settings (SettingLength).
    with app.app_context():
        api.register_blueprint(blp)
        api.register_blueprint(tickets_blp)
        api_staff.register(api)
