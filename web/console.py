"""The agent console (/console): the queue, ticket pages with their actions, agent search, canned replies.

Every page needs a logged-in staff member; every change is a POST (CSRF-checked) that goes through
`TicketService` under the agent's name, and only on tickets of a tier the agent's role covers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from kb_engine.content.articles import SLUG_RE, article_id, render_article
from kb_engine.content.canned import FILENAME as CANNED_FILE
from kb_engine.content.canned import load_canned, replies_for
from kb_engine.errors import InvalidQuery, KBError, NotFound
from kb_engine.helpdesk.customers import earlier_searches, earlier_tickets
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.tickets import ACTIVE, STATUSES, TIERS, TicketService
from kb_engine.helpdesk.users import get_user, tiers_for
from web.auth import agent_required, login_required_for_blueprint, require_tier, staff, staff_required
from web.resources import get_db, get_embed, get_searcher, get_tickets, send_media

bp = Blueprint("console", __name__, url_prefix="/console")
login_required_for_blueprint(bp)

QUEUE_STATUSES = ("new", "open", "waiting_on_customer")
SUGGESTIONS = 5


def _canned(lang: str | None) -> list[Any]:
    path = Path(current_app.config["ARTICLES_DIR"]) / CANNED_FILE
    return replies_for(load_canned(path), lang, current_app.config["LANGUAGES"][0])


# -- queue ------------------------------------------------------------------------------------------------
@bp.get("/")
@staff_required
def queue():
    """Open tickets by priority, filterable by tier, status, category, language and assignee."""
    args = {k: request.args.get(k, "").strip() for k in ("tier", "status", "category", "lang", "assignee")}
    statuses = (args["status"],) if args["status"] in STATUSES else QUEUE_STATUSES
    assignee = args["assignee"]
    if assignee == "me":
        assignee = staff().username
    service = get_tickets()
    entries = service.queue(
        get_embed(),
        statuses=statuses,
        tier=args["tier"] if args["tier"] in TIERS else None,
        assignee=assignee if assignee not in ("", "none") else None,
    )
    if assignee == "none":
        entries = [e for e in entries if e.lead.assignee is None]
    if args["category"]:
        entries = [e for e in entries if e.lead.category == args["category"]]
    if args["lang"]:
        entries = [e for e in entries if e.lead.lang == args["lang"]]
    categories = sorted(c for c in get_db().scalars(select(Ticket.category).distinct()) if c)
    return render_template(
        "console/queue.html",
        entries=entries,
        args=args,
        tiers=TIERS,
        statuses=STATUSES,
        categories=categories,
        languages=current_app.config["LANGUAGES"],
        user=staff(),
    )


# -- ticket page ------------------------------------------------------------------------------------------
def _suggestions(ticket: Ticket) -> Any:
    text = " ".join(part for part in (ticket.query, ticket.details or "") if part).strip()
    if not text:
        return None
    try:
        return get_searcher().search(text[:2000], k=SUGGESTIONS, include_internal=True, lang=ticket.lang)
    except KBError:
        return None


def _ticket_page(reference: str, *, error: str | None = None, form: dict[str, str] | None = None) -> str:
    service = get_tickets()
    ticket = service.get(reference)
    db = get_db()
    suggestions = _suggestions(ticket)
    top = suggestions.hits[0] if suggestions and suggestions.hits else None
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")
    contact = ticket.contacts[0] if ticket.contacts else None
    customers = service.customers(ticket)
    several = len(customers) > 1
    values = {
        # Several customers: left as placeholders, filled for each one when they read the message.
        "customer_name": None if several else (contact.name if contact else None) or ticket.contact_name,
        "reference": None if several else ticket.reference,
        "article_url": f"{public_url}{top.url}" if top and top.audience == "public" else None,
        "article_title": top.title if top and top.audience == "public" else None,
        "agent_name": staff().username,
    }
    canned = [(reply, reply.render(values)) for reply in _canned(ticket.lang)]
    form = dict(form or {})
    chosen = request.args.get("canned")
    if chosen and "message" not in form:
        form["message"] = next((text for reply, text in canned if reply.id == chosen), "")
    escalations = [e for e in service.history(ticket) if e.kind == "escalated" and e.ticket_id == ticket.id]
    similar = []
    embed = get_embed()
    if ticket.status in ACTIVE and ticket.merged_into_id is None and embed is not None:
        similar = service.find_similar(ticket, embed)
    return render_template(
        "console/ticket.html",
        ticket=ticket,
        data=service.describe(ticket),
        history=service.history(ticket),
        packet=service.escalation_packet(ticket),
        last_packet=(escalations[-1].data or {}).get("packet") if escalations else None,
        earlier_tickets=earlier_tickets(db, ticket),
        earlier_searches=earlier_searches(db, ticket),
        suggestions=suggestions,
        canned=canned,
        customers=customers,
        similar=similar,
        can_act=staff().may_act_on(ticket.tier),
        active=ticket.status in ACTIVE and ticket.merged_into_id is None,
        next_tier=TIERS[TIERS.index(ticket.tier) + 1] if ticket.tier != TIERS[-1] else None,
        error=error,
        form=form,
        user=staff(),
    )


@bp.get("/tickets/<reference>")
@staff_required
def ticket(reference: str):
    """A ticket: details, customer's history, escalation packet, suggested articles, canned replies."""
    return _ticket_page(reference)


def _assignee(service: TicketService, ticket: Ticket, username: str) -> str:
    """The agent to assign to: an active account whose role covers the ticket's tier."""
    try:
        user = get_user(service.session, username)
    except NotFound:
        raise InvalidQuery(f"no agent account {username!r}") from None
    if not user.active or not ticket.tier or ticket.tier not in tiers_for(user.role):
        raise InvalidQuery(f"{user.username} ({user.role}) cannot work on an {ticket.tier} ticket")
    return user.username


def _merge(service: TicketService, ticket: Ticket, actor: str, form: dict[str, Any]) -> str:
    references = {r.strip().upper() for r in form.get("others", []) if r.strip()}
    for chunk in form.get("others_text", "").replace(",", " ").split():
        references.add(chunk.strip().upper())
    references.discard(ticket.reference or "")
    if not references:
        raise InvalidQuery("choose the tickets to merge into this one")
    for reference in sorted(references):
        other = service.get(reference)
        require_tier(other.tier)
        service.merge(ticket, other, actor, form.get("reason"))
    return f"merged {', '.join(sorted(references))} into {ticket.reference}"


Action = Callable[[TicketService, Ticket, str, dict[str, Any]], str]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register


@action("take")
def _take(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.take(t, actor)
    return f"{t.reference} is yours"


@action("assign")
def _assign(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.assign(t, actor, _assignee(s, t, f.get("assignee", "")))
    return f"{t.reference} assigned to {t.assignee}"


@action("note")
def _note(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.add_note(t, actor, f.get("note", ""))
    return "internal note added"


@action("ask")
def _ask(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    to = f.get("to") or None
    s.ask_customer(t, actor, f.get("message", ""), to=to)
    reached = 1 if to else len(s.customers(t))
    who = "the customer" if reached == 1 else f"{reached} customers"
    return f"message sent to {who}; the ticket waits on their answer"


@action("escalate")
def _escalate(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.escalate(
        t,
        actor,
        f.get("reason", ""),
        team=f.get("team") or None,
        vendor=f.get("vendor") or None,
        vendor_ref=f.get("vendor_ref") or None,
    )
    return f"{t.reference} escalated to {t.tier} ({t.team or 'no team'}) with its escalation packet"


@action("resolve")
def _resolve(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.resolve(t, actor, article=f.get("article") or None, note=f.get("note") or None)
    return f"{t.reference} resolved"


@action("close")
def _close(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.close(t, actor, f.get("reason") or None)
    return f"{t.reference} closed"


@action("reopen")
def _reopen(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.reopen(t, actor, f.get("reason", ""))
    return f"{t.reference} reopened"


@action("priority")
def _priority(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    level = None if f.get("level") == "auto" else _level(f.get("level"))
    s.set_priority(t, actor, level, f.get("reason", ""))
    return f"priority of {t.reference} set"


ACTIONS["merge"] = _merge


def _level(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise InvalidQuery("priority is 1 (critical) to 4 (low), or auto") from None


@bp.post("/tickets/<reference>/<action>")
@agent_required
def ticket_action(reference: str, action: str):
    """Take, assign, note, ask, escalate, merge, resolve, close, reopen or reprioritise a ticket."""
    apply = ACTIONS.get(action)
    if apply is None:
        abort(404)
    service = get_tickets()
    db = get_db()
    ticket = service.get(reference)
    require_tier(ticket.tier)
    form: dict[str, Any] = {k: v for k, v in request.form.items() if k not in ("csrf_token", "others")}
    form["others"] = request.form.getlist("others")
    try:
        with store_errors():
            notice = apply(service, ticket, staff().username, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500 or exc.status == 403:
            raise
        kept = {k: v for k, v in form.items() if isinstance(v, str)}
        return _ticket_page(reference, error=exc.message, form=kept), exc.status
    flash(notice, "notice")
    return redirect(url_for("console.ticket", reference=ticket.reference), code=303)


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
            error = exc.message
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
