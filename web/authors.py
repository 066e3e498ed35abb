"""The authors' pages (/authors): content gaps, per-article feedback, learned-question candidates.

Authors and admins only. Changes (a draft article from a gap, approving or rejecting a question) are
CSRF-checked POSTs; the pages themselves only read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from kb_engine.authoring.lint import lint_articles
from kb_engine.authoring.overview import overview, problems_of
from kb_engine.authoring.preview import preview_article
from kb_engine.content.articles import SLUG_RE, article_id, scan_articles
from kb_engine.errors import InvalidQuery, KBError, NotFound
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Feedback
from kb_engine.insights import questions as learned_questions
from kb_engine.insights.analytics import NOT_HELPFUL_REASONS
from kb_engine.insights.gaps import find_gaps, suggest_title, write_draft
from web.auth import author_required, login_required_for_blueprint, staff
from web.console_labels import console_error
from web.resources import get_db, get_searcher, send_media

bp = Blueprint("authors", __name__, url_prefix="/authors")
login_required_for_blueprint(bp)

MAX_DRAFT_QUESTIONS = 8


@bp.get("/")
@author_required
def home():
    """The authors' start page: article files and their state, drafts, recent changes, lint problems."""
    found = overview(
        Path(current_app.config["ARTICLES_DIR"]),
        tuple(current_app.config["LANGUAGES"]),
        get_searcher().manifest,
        current_app.config.get("LINT_JARGON"),
    )
    return render_template("console/authors_home.html", overview=found, user=staff())


@bp.get("/gaps")
@author_required
def gaps():
    """Missed queries clustered into topics, the topics that would help the most customers first."""
    days = request.args.get("days", 30, type=int) or 30
    days = max(1, min(days, 365))
    searcher = get_searcher()
    embedder = searcher.embedder
    found = []
    if embedder is not None:
        found = find_gaps(get_db(), embedder.encode_queries, searcher, days=days, limit=50)
    return render_template(
        "console/gaps.html",
        gaps=found,
        days=days,
        degraded=embedder is None,
        languages=current_app.config["LANGUAGES"],
        user=staff(),
    )


@bp.post("/gaps/draft")
@author_required
def draft():
    """Write a draft article for a topic: front matter pre-filled, `questions` from its examples."""
    title = suggest_title(request.form.get("title", ""))
    lang = request.form.get("lang", "")
    languages = tuple(current_app.config["LANGUAGES"])
    if lang not in languages:
        raise InvalidQuery(_("language must be one of %(languages)s", languages=", ".join(languages)))
    examples = [q for q in request.form.getlist("question") if q.strip()][:MAX_DRAFT_QUESTIONS]
    root = Path(current_app.config["ARTICLES_DIR"])
    same = [a for a in scan_articles(root, languages=languages).drafts if (a.lang, a.title) == (lang, title)]
    if same:  # a second click (or a colleague) would write a `-2` copy: open the draft that exists
        flash(_("A draft with this title exists already: %(file)s", file=same[0].path), "notice")
        return redirect(url_for("authors.preview", lang=lang, slug=same[0].slug), code=303)
    path = write_draft(
        Path(current_app.config["ARTICLES_DIR"]),
        title=title,
        lang=lang,
        questions=[q[:300] for q in examples],
        languages=languages,
    )
    flash(
        _(
            "Draft written: %(file)s (status: draft, not published) — replace its TODOs, "
            "check it with `kb lint`, then remove the `status: draft` line to publish it.",
            file=path.parent.name + "/" + path.name,
        ),
        "notice",
    )
    return redirect(url_for("authors.preview", lang=lang, slug=path.stem), code=303)


def _feedback_counts() -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    rows = get_db().execute(
        select(Feedback.article_id, Feedback.kind, func.count()).group_by(Feedback.article_id, Feedback.kind)
    )
    for art, kind, n in rows:
        counts.setdefault(art, {"view": 0, "solved": 0, "not_helpful": 0})[kind] = int(n)
    return counts


@bp.get("/articles")
@author_required
def articles() -> str:
    """Per-article feedback: views, "solved" and "did not help" counts."""
    counts = _feedback_counts()
    searcher = get_searcher()
    rows: list[dict[str, Any]] = []
    for art in searcher.articles:
        if art.audience not in ("public", "internal"):
            continue
        c = counts.pop(art.id, {"view": 0, "solved": 0, "not_helpful": 0})
        rows.append({"id": art.id, "title": art.title, "lang": art.lang, "audience": art.audience, **c})
    for art_id, c in counts.items():  # feedback on articles since removed
        rows.append(
            {"id": art_id, "title": "(no longer in the index)", "lang": art_id[:2], "audience": "", **c}
        )
    order = request.args.get("sort", "not_helpful")
    if order not in ("view", "solved", "not_helpful", "id"):
        order = "not_helpful"
    rows.sort(key=lambda r: r["id"] if order == "id" else (-r[order], r["id"]))
    return render_template("console/feedback.html", rows=rows, sort=order, user=staff())


@bp.get("/articles/<lang>/<slug>")
@author_required
def article_feedback(lang: str, slug: str):
    """One article's feedback and the customers' queries that led to it."""
    if not SLUG_RE.match(slug) or len(lang) != 2:
        abort(404)
    art_id = article_id(lang, slug)
    try:
        art: Any = get_searcher().article(art_id, include_internal=True)
    except NotFound:
        art = None
    db = get_db()
    counts = _feedback_counts().get(art_id, {"view": 0, "solved": 0, "not_helpful": 0})
    if art is None and not any(counts.values()):
        abort(404)
    rows = db.execute(
        select(Feedback.query, Feedback.kind, func.count())
        .where(Feedback.article_id == art_id, Feedback.query.is_not(None))
        .group_by(Feedback.query, Feedback.kind)
    ).all()
    queries: dict[str, dict[str, int]] = {}
    for query, kind, n in rows:
        queries.setdefault(query or "", {"view": 0, "solved": 0, "not_helpful": 0})[kind] = int(n)
    ordered = sorted(queries.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    reasons = dict(
        db.execute(
            select(Feedback.reason, func.count())
            .where(
                Feedback.article_id == art_id, Feedback.kind == "not_helpful", Feedback.reason.is_not(None)
            )
            .group_by(Feedback.reason)
        ).all()
    )
    return render_template(
        "console/article_feedback.html",
        reasons=[(r, int(reasons.get(r, 0))) for r in NOT_HELPFUL_REASONS],
        article=art,
        art_id=art_id,
        counts=counts,
        queries=ordered,
        user=staff(),
    )


@bp.get("/media/<path:name>")
@author_required
def media(name: str):
    """Any image of the articles folder, for the preview of files not indexed yet."""
    return send_media(name, shown=None)


@bp.get("/preview/<lang>/<slug>")
@author_required
def preview(lang: str, slug: str):
    """An article file as it is on disk: rendered, how its questions rank it, logged searches, neighbours."""
    if not SLUG_RE.match(slug) or lang not in current_app.config["LANGUAGES"]:
        abort(404)
    root = Path(current_app.config["ARTICLES_DIR"])
    result = preview_article(get_searcher(), root, lang, slug, get_db())
    path = f"{lang}/{slug}.md"
    checked = lint_articles(
        root,
        languages=tuple(current_app.config["LANGUAGES"]),
        only={path},
        jargon=current_app.config.get("LINT_JARGON"),
    )
    return render_template(
        "console/preview.html", preview=result, lint=problems_of(checked, path), user=staff()
    )


@bp.get("/questions")
@author_required
def questions():
    """Customers' phrasings that led to "solved", the most frequent first: approve or reject each."""
    status = request.args.get("status", "pending")
    if status not in learned_questions.CANDIDATE_STATUSES:
        status = "pending"
    candidates = learned_questions.list_candidates(get_db(), status, limit=500)
    titles = {a.id: a.title for a in get_searcher().articles}
    return render_template(
        "console/questions.html", candidates=candidates, titles=titles, status=status, user=staff()
    )


@bp.post("/questions/<int:candidate_id>/<decision>")
@author_required
def decide(candidate_id: int, decision: str):
    """Approve (appended to articles/learned-questions.yml) or reject a candidate."""
    if decision not in ("approve", "reject"):
        abort(404)
    db = get_db()
    try:
        with store_errors():
            if decision == "approve":
                candidate = learned_questions.approve(
                    db, candidate_id, staff().username, Path(current_app.config["ARTICLES_DIR"])
                )
                notice = _(
                    "Approved for %(article)s: “%(query)s” (indexed next build)",
                    article=candidate.article_id,
                    query=candidate.query,
                )
            else:
                candidate = learned_questions.reject(db, candidate_id, staff().username)
                notice = _("Rejected: “%(query)s”", query=candidate.query)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500:
            raise
        flash(console_error(exc), "error")
        return redirect(url_for("authors.questions"), code=303)
    flash(notice, "notice")
    return redirect(url_for("authors.questions"), code=303)
