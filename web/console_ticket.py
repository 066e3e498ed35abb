"""The console's ticket page (/console/tickets/<reference>): built around the conversation.

The conversation comes first (the customer's words, messages both ways, internal notes; system events
folded), then one composer (Reply / Internal note) with canned replies; the properties and pickers sit in a
side panel; rare actions (merge, close) sit behind a menu and ask for confirmation. Every action is a POST
(CSRF-checked) through `TicketService`, and works without JavaScript: a canned reply, an article link or an
article search posted without JS re-render the page with both drafts kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from kb_engine.content.canned import FILENAME as CANNED_FILE
from kb_engine.content.canned import load_canned, replies_for
from kb_engine.errors import InvalidQuery, KBError
from kb_engine.helpdesk.customers import earlier_searches, earlier_tickets
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import Ticket, TicketEvent, User
from kb_engine.helpdesk.tickets import ACTIVE, TIERS, TicketService
from kb_engine.helpdesk.users import assignee_for, tiers_for
from kb_engine.search.answer import card_of, plain_card
from web.auth import agent_required, require_tier, staff, staff_required
from web.console import bp
from web.console_labels import STATUS_LABELS, console_error, label, tier_label
from web.resources import get_db, get_embed, get_searcher, get_tickets

SUGGESTIONS = 5
FOUND = 8
# Events that are part of the conversation; every other kind is a system event, folded.
MESSAGE_KINDS = {"customer_reply": "customer", "asked_customer": "reply", "message": "reply", "note": "note"}
# Actions that ask "are you sure?" first (final, or hard to undo).
CONFIRM = {
    "close": _l("Close %(ref)s for good? A closed ticket never changes again."),
    "merge": _l(
        "Merge these tickets into %(ref)s? Each is closed and its customers follow %(ref)s from now on."
    ),
}


def _canned(lang: str | None) -> list[Any]:
    path = Path(current_app.config["ARTICLES_DIR"]) / CANNED_FILE
    return replies_for(load_canned(path), lang, current_app.config["LANGUAGES"][0])


def _search(text: str, lang: str | None, k: int) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return get_searcher().search(text[:2000], k=k, include_internal=True, lang=lang)
    except KBError:
        return None


def _filled_canned(ticket: Ticket, suggestions: Any) -> list[tuple[Any, str]]:
    """The canned replies in the ticket's language, filled for this customer and the best article."""
    top = suggestions.hits[0] if suggestions and suggestions.hits else None
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")
    contact = ticket.contacts[0] if ticket.contacts else None
    # Several customers (merged tickets): left as placeholders, filled for each one when they read it.
    several = len(get_tickets().customers(ticket)) > 1
    values = {
        "customer_name": None if several else (contact.name if contact else None) or ticket.contact_name,
        "reference": None if several else ticket.reference,
        "article_url": f"{public_url}{top.url}" if top and top.audience == "public" else None,
        "article_title": top.title if top and top.audience == "public" else None,
        "agent_name": staff().username,
    }
    return [(reply, reply.render(values)) for reply in _canned(ticket.lang)]


def _ticket_text(ticket: Ticket) -> str:
    return " ".join(p for p in (ticket.query, ticket.details or "") if p)


def conversation(ticket: Ticket, history: list[TicketEvent]) -> list[dict[str, Any]]:
    """The ticket's story in time order: messages as they are, runs of system events folded together."""
    items: list[dict[str, Any]] = [
        {
            "type": "customer",
            "at": ticket.created_at,
            "actor": ticket.contact_name or "customer",
            "text": "\n\n".join(p for p in (ticket.query, ticket.details) if p),
            "first": True,
        }
    ]
    for event in history:
        kind = MESSAGE_KINDS.get(event.kind)
        if event.kind == "resolved" and event.message:
            kind = "reply"  # the customer sees the fix on their page
        if event.kind == "escalated":
            kind = "escalation"
        if kind:
            items.append(
                {
                    "type": kind,
                    "at": event.at,
                    "actor": event.actor,
                    "text": event.message or "",
                    "event": event,
                }
            )
            continue
        if items[-1]["type"] != "system":
            items.append({"type": "system", "at": event.at, "events": []})
        items[-1]["events"].append(event)
    return items


def _agents_for(tier: str | None) -> list[str]:
    """Active accounts whose role may act on `tier` (the assignee picker)."""
    users = get_db().scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    return [u.username for u in users if tier and tier in tiers_for(u.role)]


def _follows(ticket: Ticket, history: list[TicketEvent]) -> bool:
    """The agent acted on this ticket before (took, escalated it...): they keep adding notes after it left
    their tier."""
    me = staff().username
    return staff().works_tickets and any(e.actor == me for e in history)


def ticket_page(
    reference: str,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    confirming: str | None = None,
    confirm_fields: list[tuple[str, str]] | None = None,
    find: str | None = None,
) -> str:
    service = get_tickets()
    ticket = service.get(reference)
    db = get_db()
    user = staff()
    history = service.history(ticket)
    suggestions = _search(_ticket_text(ticket), ticket.lang, SUGGESTIONS)
    found = _search(find, None, FOUND) if find else None
    canned = _filled_canned(ticket, suggestions)
    card = (
        card_of(
            get_searcher(),
            suggestions,
            include_internal=True,
            pages="/console/articles",
            media="/console/kb-media",
        )
        if suggestions
        else None
    )
    escalations = [e for e in history if e.kind == "escalated" and e.ticket_id == ticket.id]
    similar = []
    embed = get_embed()
    active = ticket.status in ACTIVE and ticket.merged_into_id is None
    if active and embed is not None:
        similar = service.find_similar(ticket, embed)
    can_act = user.may_act_on(ticket.tier)
    next_tier = TIERS[TIERS.index(ticket.tier) + 1] if ticket.tier != TIERS[-1] else None
    routing = service.routing
    return render_template(
        "console/ticket.html",
        ticket=ticket,
        data=service.describe(ticket),
        conversation=conversation(ticket, history),
        packet=service.escalation_packet(ticket),
        last_escalation=escalations[-1] if escalations else None,
        last_packet=(escalations[-1].data or {}).get("packet") if escalations else None,
        earlier_tickets=earlier_tickets(db, ticket),
        earlier_searches=earlier_searches(db, ticket),
        suggestions=suggestions,
        card=card,
        card_text=plain_card(card, current_app.config["PUBLIC_URL"].rstrip("/")) if card else "",
        found=found,
        find=find or "",
        public_url=current_app.config["PUBLIC_URL"].rstrip("/"),
        canned=canned,
        customers=get_tickets().customers(ticket),
        similar=similar,
        can_act=can_act,
        can_note=can_act or _follows(ticket, history),
        reachable=service.reachable(ticket),
        active=active,
        next_tier=next_tier,
        agents=_agents_for(ticket.tier),
        teams=routing.team_names(ticket.tier) or routing.team_names(),
        next_teams=routing.team_names(next_tier) if next_tier else [],
        escalation_team=routing.escalation_team(ticket.category, next_tier) if next_tier else None,
        target=service.priority_of(ticket).due_at if active else None,
        now=service.clock(),
        confirming=confirming,
        confirm_text=str(CONFIRM[confirming]) % {"ref": ticket.reference} if confirming in CONFIRM else "",
        confirm_fields=confirm_fields or [],
        error=error,
        form=dict(form or {}),
        user=user,
    )


@bp.get("/tickets/<reference>")
@staff_required
def ticket(reference: str):
    """A ticket: the conversation, one composer, properties and actions, the customer's history."""
    return ticket_page(reference)


@bp.get("/tickets/<reference>/articles")
@staff_required
def ticket_articles(reference: str):
    """Any article (internal ones too) for this ticket: the resolve picker's search (an HTML fragment)."""
    ticket = get_tickets().get(reference)
    query = request.args.get("q", "")[:2000]
    return render_template(
        "console/_found_articles.html",
        ticket=ticket,
        found=_search(query, None, FOUND),
        find=query,
        public_url=current_app.config["PUBLIC_URL"].rstrip("/"),
        can_act=staff().may_act_on(ticket.tier),
    )


# -- actions ---------------------------------------------------------------------------------------------
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
    return _("%(ref)s is yours", ref=t.reference)


@action("assign")
def _assign(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    chosen = f.get("assignee", "").strip()
    if chosen in ("", "none"):
        s.unassign(t, actor)
        return _("%(ref)s is unassigned", ref=t.reference)
    s.assign(t, actor, assignee_for(s.session, actor if chosen == "me" else chosen, t.tier))
    return _("%(ref)s assigned to %(who)s", ref=t.reference, who=t.assignee)


@action("team")
def _team(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    team = f.get("team", "").strip()
    if team not in s.routing.team_names():
        raise InvalidQuery(_("choose a team of the routing file"))
    s.transfer(t, actor, team=team, reason=f.get("reason") or None)
    return _("%(ref)s handed to %(team)s", ref=t.reference, team=team)


@action("note")
def _note(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.add_note(t, actor, f.get("note", ""))
    return _("internal note added")


@action("message")
def _message(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    return _write(s.send_message, s, t, actor, f)


@action("ask")
def _ask(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    return _write(s.ask_customer, s, t, actor, f)


def _write(send: Callable[..., Ticket], s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    to = f.get("to") or None
    send(t, actor, f.get("message", ""), to=to)
    reached = 1 if to else len(s.customers(t))
    who = _("the customer") if reached == 1 else _("%(num)s customers", num=reached)
    if t.status == "waiting_on_customer" and send == s.ask_customer:
        return _("message sent to %(who)s; the ticket waits on their answer", who=who)
    return _(
        "message sent to %(who)s; the ticket stays %(status)s", who=who, status=label(STATUS_LABELS, t.status)
    )


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
    return _(
        "%(ref)s escalated to %(tier)s (%(team)s) with its escalation packet",
        ref=t.reference,
        tier=tier_label(t.tier),
        team=t.team or _("no team"),
    )


@action("resolve")
def _resolve(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.resolve(t, actor, article=f.get("article") or None, note=f.get("note") or None)
    return _("%(ref)s resolved", ref=t.reference)


@action("close")
def _close(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    reason = f.get("reason", "").strip()
    if not reason:
        raise InvalidQuery(_("say why the ticket is closed (duplicate, spam, the customer withdrew it...)"))
    s.close(t, actor, reason)
    return _("%(ref)s closed", ref=t.reference)


@action("reopen")
def _reopen(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    s.reopen(t, actor, f.get("reason", ""))
    return _("%(ref)s reopened", ref=t.reference)


@action("priority")
def _priority(s: TicketService, t: Ticket, actor: str, f: dict[str, Any]) -> str:
    level = None if f.get("level") == "auto" else _level(f.get("level"))
    s.set_priority(t, actor, level, f.get("reason", ""))
    return _("priority of %(ref)s set", ref=t.reference)


@action("merge")
def _merge(service: TicketService, ticket: Ticket, actor: str, form: dict[str, Any]) -> str:
    references = {r.strip().upper() for r in form.get("others", []) if r.strip()}
    for chunk in form.get("others_text", "").replace(",", " ").split():
        references.add(chunk.strip().upper())
    references.discard(ticket.reference or "")
    if not references:
        raise InvalidQuery(_("choose the tickets to merge into this one"))
    for reference in sorted(references):
        other = service.get(reference)
        require_tier(other.tier)
        service.merge(ticket, other, actor, form.get("reason"))
    return _("merged %(refs)s into %(ref)s", refs=", ".join(sorted(references)), ref=ticket.reference)


def _level(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise InvalidQuery(_("priority is 1 (critical) to 4 (low), or auto")) from None


def _form() -> dict[str, Any]:
    form: dict[str, Any] = {k: v for k, v in request.form.items() if k not in ("csrf_token", "others")}
    form["others"] = request.form.getlist("others")
    return form


def _kept(form: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _apply(reference: str, name: str, form: dict[str, Any], *, keep: dict[str, str] | None = None):
    """Run one action; on a refusal the page comes back with the reason and everything typed kept."""
    service = get_tickets()
    db = get_db()
    ticket = service.get(reference)
    try:
        with store_errors():
            notice = ACTIONS[name](service, ticket, staff().username, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500 or exc.status == 403:
            raise
        return ticket_page(reference, error=console_error(exc), form=_kept(form)), exc.status
    if keep and (keep.get("message", "").strip() or keep.get("note", "").strip()):  # the other draft stays
        return ticket_page(reference, error=None, form=keep | {"notice": notice})
    flash(notice, "notice")
    return redirect(url_for("console.ticket", reference=ticket.reference), code=303)


@bp.post("/tickets/<reference>/compose")
@agent_required
def compose(reference: str):
    """The composer: send the reply or add the note; without JS also inserts a canned reply, an
    article's link or searches articles, keeping both drafts."""
    service = get_tickets()
    ticket = service.get(reference)
    form = _form()
    message, note = form.get("message", ""), form.get("note", "")
    if form.get("canned"):
        canned = _filled_canned(ticket, _search(_ticket_text(ticket), ticket.lang, SUGGESTIONS))
        text = next((t for r, t in canned if r.id == form["canned"]), "")
        form["message"] = f"{message.rstrip()}\n\n{text}".strip() if message.strip() else text
        form["mode"] = "reply"
        return ticket_page(reference, form=_kept(form))
    if form.get("insert"):
        form["message"] = f"{message.rstrip()}\n{form['insert']}".strip()
        form["mode"] = "reply"
        return ticket_page(reference, form=_kept(form))
    if "find_articles" in form:
        return ticket_page(reference, form=_kept(form), find=form.get("find", ""))
    if form.get("mode") == "note":
        if not (staff().may_act_on(ticket.tier) or _follows(ticket, service.history(ticket))):
            require_tier(ticket.tier)
        return _apply(reference, "note", form, keep={"message": message, "mode": "reply"})
    require_tier(ticket.tier)
    # "Then: keep it open" writes without parking the ticket; the default waits on the customer's answer.
    name = "message" if form.get("after") == "open" else "ask"
    return _apply(reference, name, form, keep={"note": note, "mode": "note"})


@bp.post("/tickets/<reference>/<action>")
@agent_required
def ticket_action(reference: str, action: str):
    """Take, assign, hand to a team, note, ask, escalate, merge, resolve, close, reopen or reprioritise."""
    if action not in ACTIONS:
        abort(404)
    service = get_tickets()
    ticket = service.get(reference)
    if action == "note" and _follows(ticket, service.history(ticket)):
        pass  # an agent who worked on the ticket keeps adding notes after escalating it
    else:
        require_tier(ticket.tier)
    form = _form()
    if action in CONFIRM and form.get("confirm") != "yes":
        try:
            if action == "close":
                _close_check(form)
        except InvalidQuery as exc:
            return ticket_page(reference, error=console_error(exc), form=_kept(form)), exc.status
        fields = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"]
        return ticket_page(reference, form=_kept(form), confirming=action, confirm_fields=fields)
    return _apply(reference, action, form)


def _close_check(form: dict[str, Any]) -> None:
    if not form.get("reason", "").strip():
        raise InvalidQuery(_("say why the ticket is closed (duplicate, spam, the customer withdrew it...)"))
