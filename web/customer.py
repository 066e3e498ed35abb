"""Customer self-service: describe the problem, read the answer, say whether it helped, or get help.

GET pages never write: a search typed in the box is POSTed (logged, and a miss opens a ticket), then
redirected to the GET results page (post/redirect/get), so reloading or sharing a results link changes
nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from markupsafe import Markup

from kb_engine import analytics
from kb_engine.articles import SLUG_RE, article_id, render_markdown
from kb_engine.db import store_errors
from kb_engine.errors import InvalidQuery, InvalidTransition, NotFound
from kb_engine.models import SearchLog, Ticket
from kb_engine.tickets import LIMITS, status_label
from web.resources import get_db, get_embed, get_searcher, get_tickets, open_ticket

bp = Blueprint("customer", __name__)

MAX_REMEMBERED_TICKETS = 10


def visitor_id() -> str:
    if "visitor" not in session:
        session["visitor"] = secrets.token_hex(12)
    return str(session["visitor"])


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


@bp.get("/")
def home():
    """Search page, with the known issues we are working on."""
    if request.args.get("q"):
        return redirect(url_for("customer.results", q=request.args["q"]))
    return render_template("home.html", known_issues=get_tickets().problems(("open",)))


@bp.post("/search")
def search_submit():
    """Log a customer's search; a miss opens an anonymous ticket. Then show the results."""
    query = request.form.get("q", "")
    if not query.strip():
        return redirect(url_for("customer.home"))
    searcher = get_searcher()
    response = searcher.search(query, k=current_app.config["RESULTS"])
    db = get_db()
    with store_errors():
        entry = analytics.log_search(db, response, channel="web", visitor=visitor_id())
        if not response.answered:
            ticket = open_ticket(source="search_miss", query=query, response=response, search_id=entry.id)
            remember_ticket(ticket.reference or "", ticket.token)
            session["miss_for_search"] = {"search": entry.id, "reference": ticket.reference}
        db.commit()
    return redirect(url_for("customer.results", q=query, s=entry.id), code=303)


@bp.get("/search")
def results():
    """Results page (read-only)."""
    query = request.args.get("q", "")
    if not query.strip():
        return redirect(url_for("customer.home"))
    try:
        response = get_searcher().search(query, k=current_app.config["RESULTS"])
    except InvalidQuery as exc:
        return render_template("home.html", error=exc.message, query=query[:200]), 400
    search_id = request.args.get("s", type=int)
    miss = session.get("miss_for_search") or {}
    miss_reference = miss.get("reference") if miss.get("search") == search_id else None
    return render_template(
        "results.html",
        query=query,
        response=response,
        search_id=search_id,
        miss_reference=miss_reference,
        known_issue=get_tickets().active_problem_for(query, get_embed()),
    )


@bp.get("/articles/<lang>/<slug>")
def article(lang: str, slug: str):
    """An article, rendered from Markdown, with 'Did this solve your problem?'."""
    if not SLUG_RE.match(slug) or len(lang) != 2:
        abort(404)
    searcher = get_searcher()
    art = searcher.article(article_id(lang, slug))
    html = Markup(render_markdown(art.body, link_base=f"/articles/{art.lang}"))  # noqa: S704 - sanitised by nh3
    return render_template(
        "article.html",
        article=art,
        html=html,
        translations=searcher.translations(art),
        search_id=request.args.get("s", type=int),
        answer=request.args.get("answer"),
    )


@bp.post("/articles/<lang>/<slug>/feedback")
def feedback(lang: str, slug: str):
    """'Yes, solved' counts a deflection; 'No' opens a ticket with what was tried."""
    art = get_searcher().article(article_id(lang, slug))
    helped = request.form.get("helped")
    if helped not in {"yes", "no"}:
        raise InvalidQuery("answer yes or no")
    db = get_db()
    entry = _search_log(request.form.get("s"))
    with store_errors():
        if helped == "yes":
            analytics.record_feedback(db, art.id, "solved", search=entry, visitor=visitor_id())
            db.commit()
            return redirect(url_for("customer.article", lang=lang, slug=slug, answer="yes"), code=303)
        analytics.record_feedback(db, art.id, "not_helpful", search=entry, visitor=visitor_id())
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


@bp.route("/help/<reference>", methods=["GET", "POST"])
def need_help(reference: str):
    """'Still need help?': the customer adds contact details to their ticket and gets its reference."""
    token = remembered_token(reference)
    if token is None:
        abort(404)
    db = get_db()
    service = get_tickets()
    ticket = service.get_for_customer(reference, token)
    form = {k: request.form.get(k, "") for k in ("name", "email", "phone", "availability", "details")}
    if request.method == "POST":
        error = None
        if not form["email"].strip() and not form["phone"].strip():
            error = "Give an email address or a phone number so that we can reach you."
        elif form["email"].strip() and "@" not in form["email"]:
            error = "That email address does not look right."
        if error is None:
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
            except InvalidQuery as exc:
                db.rollback()
                error = exc.message
        if error is None:
            return redirect(url_for("customer.ticket_status", reference=reference, t=token), code=303)
        return render_template("need_help.html", ticket=ticket, form=form, error=error), 400
    return render_template("need_help.html", ticket=ticket, form=form, error=None)


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
        status=status_label(survivor.status),
        history=service.customer_history(ticket),
        can_reply=survivor.status != "closed",
        error=error,
        reply=reply,
        reply_limit=LIMITS["message"],
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
            get_tickets().customer_reply(ticket, message)
            db.commit()
    except (InvalidQuery, InvalidTransition) as exc:
        db.rollback()
        return _status_page(
            ticket, token, error=exc.message, reply=message[: LIMITS["message"]], status=exc.status
        )
    return redirect(url_for("customer.ticket_status", reference=reference, t=token, sent=1), code=303)


@bp.post("/events/view")
def article_viewed():
    """Beacon sent by the article page's script: counts a view (POST, so GETs stay read-only)."""
    data = request.get_json(silent=True) or {}
    art_id = str(data.get("article", ""))[:120]
    try:
        art = get_searcher().article(art_id)
    except NotFound:
        return jsonify({"ok": False}), 404
    db = get_db()
    with store_errors():
        analytics.record_feedback(db, art.id, "view", search=_search_log(data.get("s")), visitor=visitor_id())
        db.commit()
    return jsonify({"ok": True})


@bp.get("/healthz")
def healthz():
    """Liveness and degraded-mode report."""
    try:
        info = get_searcher().health()
    except Exception as exc:  # noqa: BLE001 - health must answer, whatever failed
        return jsonify({"status": "down", "error": str(exc)}), 503
    info["status"] = "degraded" if info["degraded"] else "ok"
    return jsonify(info)
