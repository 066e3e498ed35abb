"""Customer self-service: describe the problem, read the answer, say whether it helped, or get help.

GET pages never write: a search typed in the box is POSTed (logged, and a miss opens a ticket), then
redirected to the GET results page (post/redirect/get), so reloading or sharing a results link changes
nothing. Suggestions while typing come from the read-only `/api/v1/search` (static/suggest.js); opening a
suggested article logs the search it came from with the article page's view beacon (a POST).

"Contact support" (/contact) tries first: the description is logged as a search from the `form` channel,
the best articles are shown, and only then the contact fields. Views and "solved" reached from there
carry that channel (see `kb_engine.insights.analytics.CHANNELS`): they are the form's deflections.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_number, format_timedelta
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from kb_engine.content.articles import SLUG_RE, article_id, render_article
from kb_engine.content.categories import category_of, load_categories
from kb_engine.content.sections import article_sections
from kb_engine.errors import InvalidQuery, InvalidTransition, NotFound, StoreUnavailable, TooManyRequests
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import SearchLog, Ticket
from kb_engine.helpdesk.priority import TARGETS
from kb_engine.helpdesk.tickets import LIMITS, status_label
from kb_engine.insights import analytics
from kb_engine.search.answer import AnswerCard, answer_card
from kb_engine.search.related import related_articles
from kb_engine.search.searcher import SearchResponse
from web import with_retry_after
from web.contact_form import CONTACT_FIELDS, contact_errors, contact_form, support_hours
from web.helpcentre import home_context
from web.i18n import error_text, search_language, ui_lang
from web.resources import (
    client_address,
    get_db,
    get_embed,
    get_searcher,
    get_tickets,
    limit,
    open_ticket,
    send_media,
)

bp = Blueprint("customer", __name__)

MAX_REMEMBERED_TICKETS = 10
# Channels whose suggestion links may log the search they came from (see article_viewed).
SUGGESTION_CHANNELS = ("web", "form", "widget")


# Pages that show a customer's own ticket (or take their contact details): never kept by a browser or proxy.
PRIVATE_ENDPOINTS = frozenset(
    {"customer.ticket_status", "customer.ticket_reply", "customer.need_help", "customer.contact_send"}
)


@bp.after_request
def no_store_for_private_pages(response: Any) -> Any:
    if request.endpoint in PRIVATE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def visitor_id() -> str:
    if "visitor" not in session:
        session["visitor"] = secrets.token_hex(12)
    return str(session["visitor"])


def log_search(response: SearchResponse, channel: str) -> SearchLog:
    """Log this visitor's search: their browser session and the keyed hash of their address (never the
    address), so the dashboard counts distinct visitors per query."""
    client = analytics.client_key(client_address(), current_app.secret_key or "")
    return analytics.log_search(get_db(), response, channel=channel, visitor=visitor_id(), client=client)


def remember_ticket(reference: str, token: str) -> None:
    tickets = dict(session.get("tickets", {}))
    tickets[reference] = token
    session["tickets"] = dict(list(tickets.items())[-MAX_REMEMBERED_TICKETS:])


def remembered_token(reference: str) -> str | None:
    token = session.get("tickets", {}).get(reference)
    return str(token) if token else None


def _search_log(search_id: Any) -> SearchLog | None:
    try:
        sid = int(search_id)
    except (TypeError, ValueError):
        return None
    entry = get_db().get(SearchLog, sid)
    # Only the visitor who searched may attach feedback or tickets to that search.
    if entry is None or entry.visitor != session.get("visitor"):
        return None
    return entry


def customer_search(query: str, *, clarify: bool = False, facet: str | None = None) -> SearchResponse:
    """Search as a customer: public articles, in the interface's language first."""
    return get_searcher().search(
        query, k=current_app.config["RESULTS"], lang=search_language(query), clarify=clarify, facet=facet
    )


def chosen_facet() -> str | None:
    """The platform the visitor said they use ("Which one are you using?"): `?facet=` on the results page,
    kept in the session for their next searches; `?facet=` empty forgets it."""
    if "facet" in request.args:
        asked = request.args["facet"]
        if asked in get_searcher().platforms.words:
            session["facet"] = asked
        else:
            session.pop("facet", None)
    kept = session.get("facet")
    return str(kept) if kept else None


def box_search(query: str, **options: Any) -> SearchResponse | ResponseReturnValue:
    """The search box's query searched, or the page to show instead: home for an empty query, home with
    the error (400) for a too long one."""
    if not query.strip():
        return redirect(url_for("customer.home"))
    try:
        return customer_search(query, **options)
    except InvalidQuery:
        return render_template("home.html", error=too_long(), query=query[:200]), 400


def too_long() -> str:
    limit = current_app.config["MAX_QUERY_CHARS"]
    return _("Please describe the problem in at most %(limit)s characters.", limit=format_number(limit))


def card_for(query: str, response: SearchResponse) -> AnswerCard | None:
    """The answer card when the engine is confident: the first hit's best section, in its own words."""
    if not response.answered or not response.hits or response.redirect:
        return None
    hit = response.hits[0]
    if not hit.section:
        return None
    searcher = get_searcher()
    try:
        article = searcher.article(hit.id)
    except NotFound:
        return None
    return answer_card(article, hit.section["heading"], query, searcher.glossary)


def known_issue_for(query: str) -> Any:
    return get_tickets().active_problem_for(query, get_embed())


@bp.get("/")
def home():
    """Search page, with the known issues we are working on."""
    if request.args.get("q"):
        return redirect(url_for("customer.results", q=request.args["q"]))
    return render_template("home.html", known_issues=get_tickets().problems(("open",)), **home_context())


@bp.post("/search")
def search_submit():
    """Log a customer's search; a miss opens an anonymous ticket. Then show the results."""
    query = request.form.get("q", "")
    if not query.strip():  # said on the page, in the visitor's language (the box is `novalidate`)
        error = _("Type a few words about the problem first, for example “my printer is offline”.")
        known = get_tickets().problems(("open",))
        return render_template("home.html", error=error, known_issues=known, **home_context()), 400
    # Logged as the results page shows it: the platform kept for the session, the question if asked.
    response = box_search(query, clarify=True, facet=chosen_facet())
    if not isinstance(response, SearchResponse):
        return response
    db = get_db()
    with store_errors():
        # Out of scope: the customer is sent elsewhere (response.redirect); no ticket is offered.
        miss = not response.answered and not response.redirect
        if miss:
            try:
                limit("miss")
            except TooManyRequests:
                # Over the limit the search still answers; only the automatic ticket is not opened.
                db.rollback()
                miss = False
        entry = log_search(response, "web")
        if miss:
            ticket = open_ticket(source="search_miss", query=query, response=response, search_id=entry.id)
            remember_ticket(ticket.reference or "", ticket.token)
            session["miss_for_search"] = {"search": entry.id, "reference": ticket.reference}
        db.commit()
    return redirect(url_for("customer.results", q=query, s=entry.id), code=303)


@bp.post("/search/facet")
def choose_facet():
    """The visitor's answer to "Which one are you using?": kept for the session and logged with their
    search, then the same results re-ranked for it (nothing to retype). An empty value shows every
    platform again."""
    query = request.form.get("q", "")
    value = request.form.get("facet", "")
    if value and value not in get_searcher().platforms.words:
        raise InvalidQuery("choose one of the platforms offered")
    if value:
        session["facet"] = value
    else:
        session.pop("facet", None)
    entry = _search_log(request.form.get("s"))
    if entry is not None:
        with store_errors():
            entry.facet = value or None
            get_db().commit()
    args: dict[str, Any] = {"q": query, "facet": value}
    if entry is not None:
        args["s"] = entry.id
    if request.form.get("ch"):
        args["ch"] = analytics.channel_or_default(request.form.get("ch"))
    return redirect(url_for("customer.results", **args), code=303)


@bp.get("/search")
def results():
    """Results page (read-only); asks "Which one are you using?" when the answer depends on it."""
    query = request.args.get("q", "")
    response = box_search(query, clarify=True, facet=chosen_facet())
    if not isinstance(response, SearchResponse):
        return response
    search_id = request.args.get("s", type=int)
    miss = session.get("miss_for_search") or {}
    miss_reference = miss.get("reference") if miss.get("search") == search_id else None
    return render_template(
        "results.html",
        query=query,
        response=response,
        search_id=search_id,
        channel=analytics.channel_or_default(request.args.get("ch")),
        miss_reference=miss_reference,
        known_issue=known_issue_for(query),
        card=card_for(query, response),
        card_solved=request.args.get("solved") == "1",
        platform_labels=get_searcher().platforms.labels,
    )


@bp.get("/articles/<lang>/<slug>")
def article(lang: str, slug: str):
    """An article, rendered from Markdown, with 'Did this solve your problem?'."""
    if not SLUG_RE.match(slug) or len(lang) != 2:
        abort(404)
    searcher = get_searcher()
    art = searcher.article(article_id(lang, slug))
    html = Markup(render_article(art, pages="/articles", media="/kb-media"))  # noqa: S704 - sanitised by nh3
    translations = searcher.translations(art)
    search_id = request.args.get("s", type=int)
    entry = _search_log(search_id) if search_id else None
    related = related_articles(searcher, art)
    answer = request.args.get("answer")
    return render_template(
        "article.html",
        article=art,
        html=html,
        translations=translations,
        # The language switch opens the article's translation (in that interface language).
        switch_urls={t.lang: f"{t.url}?lang={t.lang}" for t in translations},
        category=category_of(load_categories(Path(current_app.config["ARTICLES_DIR"])), art.category),
        contents=[s for s in article_sections(art.body) if s.level == 2],
        related=related,
        next_best=next_best(entry, art, related) if answer == "no" else [],
        reason_given=request.args.get("reason") == "1",
        reasons=analytics.NOT_HELPFUL_REASONS,
        back_to=url_for("customer.results", q=entry.query, s=entry.id) if entry else None,
        search_id=search_id,
        channel=analytics.channel_or_default(request.args.get("ch")),
        suggested_for=request.args.get("q", "")[:300],
        answer=answer,
    )


@bp.get("/kb-media/<path:name>")
def media(name: str):
    """An image a public article shows (a file of the articles folder)."""
    return send_media(name, shown=get_searcher().media())


@bp.post("/articles/<lang>/<slug>/feedback")
def feedback(lang: str, slug: str):
    """'Yes, solved' counts a deflection and thanks in place; 'No' is recorded and the page then asks
    what was wrong and offers the search's next-best articles: no ticket until 'Contact support'."""
    art = get_searcher().article(article_id(lang, slug))
    helped = request.form.get("helped")
    if helped not in {"yes", "no"}:
        raise InvalidQuery("answer yes or no")
    db = get_db()
    entry = _search_log(request.form.get("s"))
    channel = entry.channel if entry else analytics.channel_or_default(request.form.get("ch"))
    with store_errors():
        limit("feedback")
        kind = "solved" if helped == "yes" else "not_helpful"
        analytics.record_feedback(db, art.id, kind, search=entry, visitor=visitor_id(), channel=channel)
        if helped == "yes":
            get_tickets().resolve_by_self_service(visitor_id(), art.id)
        db.commit()
    if helped == "yes" and request.form.get("from") == "card":
        # "Solved" on the results page's answer card: the customer stays on the results.
        query = entry.query if entry else str(request.form.get("q", ""))[:300]
        # No #fragment: scrolling to it after load would take the focus off the thank-you.
        target = url_for("customer.results", q=query, s=entry.id if entry else None, solved=1)
        return redirect(target, code=303)
    # Back to the same place of the article: the answer replaces the question there (focused by app.js).
    target = url_for(
        "customer.article", lang=lang, slug=slug, answer=helped, s=entry.id if entry else None, ch=channel
    )
    return redirect(target + "#feedback", code=303)


@bp.post("/articles/<lang>/<slug>/reason")
def feedback_reason(lang: str, slug: str):
    """'What was wrong?' after 'No': one tap, optional; the authors see it on the article's feedback."""
    art = get_searcher().article(article_id(lang, slug))
    reason = request.form.get("reason", "")
    if reason not in analytics.NOT_HELPFUL_REASONS:
        raise InvalidQuery("choose one of the reasons offered")
    db = get_db()
    with store_errors():
        limit("feedback")
        analytics.record_reason(db, art.id, visitor_id(), reason)
        db.commit()
    entry = _search_log(request.form.get("s"))
    channel = analytics.channel_or_default(request.form.get("ch"))
    target = url_for(
        "customer.article",
        lang=lang,
        slug=slug,
        answer="no",
        reason=1,
        s=entry.id if entry else None,
        ch=channel,
    )
    return redirect(target + "#feedback", code=303)


@bp.post("/articles/<lang>/<slug>/contact")
def article_contact(lang: str, slug: str):
    """'Contact support' after 'No': opens the request with what was tried, then asks for contact details."""
    art = get_searcher().article(article_id(lang, slug))
    db = get_db()
    entry = _search_log(request.form.get("s"))
    with store_errors():
        limit("miss")
        shown = entry.hits if entry else [{"id": art.id, "title": art.title, "score": 0.0}]
        ticket = open_ticket(
            source="not_helpful",
            query=entry.query if entry else f"(read {art.title})",
            lang=art.lang,
            shown=shown,
            category=art.category,
            search_id=entry.id if entry else None,
        )
        db.commit()
    remember_ticket(ticket.reference or "", ticket.token)
    return redirect(url_for("customer.need_help", reference=ticket.reference), code=303)


def next_best(entry: SearchLog | None, art: Any, related: list[Any], limit_to: int = 3) -> list[Any]:
    """After 'No': the other articles the same search found (public ones), else the related articles."""
    searcher = get_searcher()
    found = []
    for hit in (entry.hits or []) if entry else []:
        if hit.get("id") == art.id:
            continue
        try:
            found.append(searcher.article(str(hit.get("id"))))
        except NotFound:
            continue
    return (found or list(related))[:limit_to]


SERVICE_FIELDS = {"contact_name": "name", "contact_email": "email", "contact_phone": "phone"}


def _refusal(exc: InvalidQuery | StoreUnavailable | TooManyRequests) -> tuple[dict[str, str], str | None]:
    """A refusal of the ticket service as (field errors, page error): a field's at its field."""
    field = SERVICE_FIELDS.get(str(exc.params.get("field")), str(exc.params.get("field")))
    if isinstance(exc, InvalidQuery) and field in CONTACT_FIELDS:
        return {field: error_text(exc)}, None
    return {}, error_text(exc)


@bp.route("/help/<reference>", methods=["GET", "POST"])
def need_help(reference: str):
    """'Still need help?': the customer adds contact details to their ticket and gets its reference."""
    token = remembered_token(reference)
    if token is None:
        abort(404)
    db = get_db()
    service = get_tickets()
    ticket = service.get_for_customer(reference, token)
    form = contact_form()
    if request.method == "POST":
        errors, error, status = contact_errors(form), None, 400
        if not errors:
            try:
                with store_errors():
                    service.add_contact_details(
                        ticket,
                        name=form["name"],
                        email=form["email"],
                        phone=form["phone"],
                        availability=form["availability"],
                        details=form["details"],
                    )
                    db.commit()
            except (InvalidQuery, StoreUnavailable) as exc:
                db.rollback()
                (errors, error), status = _refusal(exc), exc.status
        if not errors and error is None:
            target = url_for("customer.ticket_status", reference=reference, t=token, created=1)
            return redirect(target, code=303)
        # A busy or full database (503) keeps what the customer typed, like any other refusal.
        page = render_template("need_help.html", ticket=ticket, form=form, errors=errors, error=error)
        return page, status
    return render_template("need_help.html", ticket=ticket, form=form, errors={}, error=None)


# -- "Contact support": the description first, the best articles, and only then the contact fields -----
def _form_search(search_id: Any) -> SearchLog | None:
    entry = _search_log(search_id)
    return entry if entry is not None and entry.channel == "form" else None


def _contact_page(entry: SearchLog | None, *, error: str | None = None, status: int = 200, **context: Any):
    if entry is None:
        page = render_template(
            "contact.html", entry=None, query=context.pop("query", ""), error=error, **context
        )
        return page, status
    context.pop("query", None)
    response = customer_search(entry.query)
    page = render_template(
        "contact.html",
        entry=entry,
        query=entry.query,
        response=response,
        known_issue=known_issue_for(entry.query),
        form=context.pop("form", dict.fromkeys(CONTACT_FIELDS, "")),
        solved=context.pop("solved", None),
        error=error,
        **context,
    )
    return page, status


@bp.get("/contact")
def contact():
    """'Contact support': describe the problem first (`?s=` then shows the best articles, then the form)."""
    entry = _form_search(request.args.get("s"))
    solved = None
    if entry is not None and request.args.get("solved"):
        try:
            solved = get_searcher().article(request.args["solved"])
        except NotFound:
            solved = None
    return _contact_page(entry, query=request.args.get("q", "")[:2000], solved=solved)


@bp.post("/contact")
def contact_describe():
    """Log the description as a search from the contact form, then show the best articles for it."""
    query = request.form.get("q", "")
    if not query.strip():
        return _contact_page(None, errors={"description": _("Describe the problem first.")}, status=400)
    try:
        response = customer_search(query)
    except InvalidQuery:
        return _contact_page(None, query=query[:200], errors={"description": too_long()}, status=400)
    db = get_db()
    with store_errors():
        entry = log_search(response, "form")
        db.commit()
    return redirect(url_for("customer.contact", s=entry.id), code=303)


@bp.post("/contact/solved")
def contact_solved():
    """'This solved it' on an article the contact form suggested: a deflection, no ticket."""
    entry = _form_search(request.form.get("s"))
    if entry is None:
        return redirect(url_for("customer.contact"), code=303)
    art = get_searcher().article(str(request.form.get("article", ""))[:120])
    db = get_db()
    with store_errors():
        analytics.record_feedback(db, art.id, "solved", search=entry, visitor=visitor_id(), channel="form")
        get_tickets().resolve_by_self_service(visitor_id(), art.id)
        db.commit()
    return redirect(url_for("customer.contact", s=entry.id, solved=art.id), code=303)


@bp.post("/contact/send")
def contact_send():
    """None of the articles helped: open a ticket with the description, what was shown and the contact."""
    entry = _form_search(request.form.get("s"))
    if entry is None:
        return redirect(url_for("customer.contact"), code=303)
    form = contact_form()
    errors = contact_errors(form)
    if errors:
        return _contact_page(entry, form=form, errors=errors, status=400)
    db = get_db()
    try:
        with store_errors():
            limit("ticket", form["email"])
            ticket = open_ticket(
                source="contact_form",
                query=entry.query,
                response=customer_search(entry.query),
                search_id=entry.id,
                contact_name=form["name"],
                contact_email=form["email"],
                contact_phone=form["phone"],
                **{k: form[k] for k in ("availability", "details")},
            )
            db.commit()
    except (InvalidQuery, StoreUnavailable, TooManyRequests) as exc:  # the form keeps what was typed
        db.rollback()
        errors, error = _refusal(exc)
        page = _contact_page(entry, form=form, errors=errors, error=error, status=exc.status)
        return with_retry_after(page, exc)
    remember_ticket(ticket.reference or "", ticket.token)
    return redirect(
        url_for("customer.ticket_status", reference=ticket.reference, t=ticket.token, created=1), code=303
    )


def _customer_ticket(reference: str, token: str) -> Ticket:
    try:
        return get_tickets().get_for_customer(reference, token)
    except NotFound:
        abort(404)


def _status_page(ticket: Ticket, token: str, *, error: str | None = None, reply: str = "", status: int = 200):
    service = get_tickets()
    survivor = service.surviving(ticket)
    page = render_template(
        "ticket_status.html",
        ticket=ticket,
        token=token,
        survivor=survivor if survivor.id != ticket.id else None,
        status=survivor.status,
        status_text=status_label(survivor.status),
        history=service.customer_history(ticket),
        can_reply=survivor.status != "closed",
        error=error,
        reply=reply,
        reply_limit=LIMITS["message"],
        reply_within=format_timedelta(TARGETS.get(survivor.effective_priority, TARGETS[3])),
        support_hours=support_hours(ui_lang()),
    )
    return page, status


@bp.get("/tickets/<reference>")
def ticket_status(reference: str):
    """A customer follows their ticket from a link carrying its unguessable token."""
    token = request.args.get("t", "")
    return _status_page(_customer_ticket(reference, token), token)


@bp.post("/tickets/<reference>/reply")
def ticket_reply(reference: str):
    """The customer answers support from the status page (a waiting or resolved ticket reopens)."""
    token = request.form.get("t", "")
    ticket = _customer_ticket(reference, token)
    message = request.form.get("message", "")
    db = get_db()
    try:
        with store_errors():
            limit("reply")
            get_tickets().customer_reply(ticket, message)
            db.commit()
    except (InvalidQuery, InvalidTransition, StoreUnavailable, TooManyRequests) as exc:
        db.rollback()
        page = _status_page(
            ticket, token, error=error_text(exc), reply=message[: LIMITS["message"]], status=exc.status
        )
        return with_retry_after(page, exc)
    return redirect(url_for("customer.ticket_status", reference=reference, t=token, sent=1), code=303)


@bp.post("/events/view")
def article_viewed():
    """Beacon sent by the article page's script: counts a view (POST, so GETs stay read-only).

    A view of an article opened from a suggestion (`q`, no search yet) first logs that search under the
    suggestion's channel; the answer carries its id so that "solved" on the page is linked to it.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):  # malformed, too deep (web/json_input.py) or not an object
        return jsonify({"ok": False}), 400
    art_id = str(data.get("article", ""))[:120]
    try:
        art = get_searcher().article(art_id)
    except NotFound:
        return jsonify({"ok": False}), 404
    if current_user.is_authenticated:
        # Staff (an author checking the page, an agent) are not customers: their visits are not views.
        return jsonify({"ok": True, "s": None, "counted": False})
    db = get_db()
    entry = _search_log(data.get("s"))
    channel = entry.channel if entry else analytics.channel_or_default(data.get("ch"))
    query = str(data.get("q") or "")[:300]
    try:
        with store_errors():
            limit("feedback")
    except TooManyRequests as exc:
        db.rollback()
        return jsonify({"ok": False}), 429, {"Retry-After": str(exc.retry_after)}
    with store_errors():
        if entry is None and query.strip() and channel in SUGGESTION_CHANNELS:
            try:
                response = customer_search(query)
            except InvalidQuery:
                response = None
            if response is not None:
                entry = log_search(response, channel)
        analytics.record_feedback(db, art.id, "view", search=entry, visitor=visitor_id(), channel=channel)
        db.commit()
    return jsonify({"ok": True, "s": entry.id if entry else None})


@bp.get("/healthz")
def healthz():
    """Liveness and degraded-mode report."""
    try:
        info = get_searcher().health()
    except Exception as exc:  # noqa: BLE001 - health must answer, whatever failed
        return jsonify({"status": "down", "error": str(exc)}), 503
    info["status"] = "degraded" if info["degraded"] else "ok"
    return jsonify(info)
