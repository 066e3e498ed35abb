"""Integrations in the console (/console/integrations): each agent's own staff API tokens (create, shown
once; revoke), and for admins the webhook endpoints (declare, remove) and their delivery log with "Send
again". The same library calls as `kb users token` and `kb webhooks`, audited the same way."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kb_engine.errors import Forbidden, KBError
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import ApiToken
from kb_engine.integrations import webhooks
from kb_engine.integrations.tokens import SCOPES, create_token, list_tokens, revoke_token, token_to_dict
from kb_engine.integrations.webhooks.endpoints import delivery_to_dict, get_endpoint
from web.auth import admin_required, agent_required, staff
from web.console import bp
from web.console_labels import console_error
from web.resources import get_db


def page(*, status: int = 200, error: str | None = None, created: dict[str, Any] | None = None,
         form: dict[str, Any] | None = None) -> Any:  # fmt: skip
    user = staff()
    db = get_db()
    scope = None if user.is_admin else user.username
    tokens = [token_to_dict(row, name) for row, name in list_tokens(db, scope)]
    endpoint_id = request.args.get("endpoint_id", type=int)
    data: dict[str, Any] = {"tokens": tokens, "scopes": SCOPES, "events": webhooks.EVENTS}
    if user.is_admin:
        data["endpoints"] = webhooks.list_endpoints(db)
        data["deliveries"] = [
            delivery_to_dict(r) for r in webhooks.deliveries(db, endpoint_id=endpoint_id, limit=50)
        ]
        data["endpoint_names"] = {e.id: e.url for e in data["endpoints"]}
    body = render_template(
        "console/integrations.html", user=user, error=error, created=created, form=form or {},
        endpoint_filter=endpoint_id, **data,
    )  # fmt: skip
    return body, status, {"Cache-Control": "no-store"}  # a token or secret is shown once, never cached


def _run(change: Any) -> Any:
    """Run a change and commit; a refusal comes back on the page with its reason and the form kept."""
    db = get_db()
    form: dict[str, Any] = {k: v for k, v in request.form.items() if k != "csrf_token"}
    form["events"] = request.form.getlist("events")
    form["scopes"] = request.form.getlist("scopes")
    try:
        with store_errors():
            result = change(db, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500 or exc.status == 403:
            raise
        return page(status=exc.status, error=console_error(exc), form=form)
    if isinstance(result, dict):  # something to show once
        return page(status=201, created=result)
    flash(result, "notice")
    return redirect(url_for("console.integrations"), code=303)


@bp.get("/integrations")
@agent_required
def integrations():
    """Your staff API tokens; for admins, webhooks and their delivery log."""
    return page()


@bp.post("/integrations/tokens")
@agent_required
def create_api_token():
    """Create one of your own staff API tokens (shown once)."""

    def change(db: Any, form: dict[str, Any]) -> dict[str, Any]:
        me = staff().username
        days = int(form.get("days") or 90) if str(form.get("days") or "90").isdigit() else 0
        row, raw = create_token(db, me, form.get("name", ""), ",".join(form["scopes"]), days=days)
        audit.record(db, me, "token_create", me, name=row.name, scopes=row.scopes, days=days)
        return {"kind": "token", "value": raw, "name": row.name}

    return _run(change)


@bp.post("/integrations/tokens/<int:token_id>/revoke")
@agent_required
def revoke_api_token(token_id: int):
    """Revoke a token (yours; an admin may revoke anyone's)."""

    def change(db: Any, form: dict[str, Any]) -> str:
        user = staff()
        row = db.get(ApiToken, token_id)
        if row is not None and row.user_id != user.id and not user.is_admin:
            raise Forbidden(_("You can revoke your own tokens only."))
        revoked = revoke_token(db, token_id)
        audit.record(db, user.username, "token_revoke", str(token_id), name=revoked.name)
        return _("Token “%(name)s” revoked.", name=revoked.name)

    return _run(change)


@bp.post("/integrations/webhooks")
@admin_required
def add_webhook():
    """Declare a webhook endpoint (its signing secret is shown once)."""

    def change(db: Any, form: dict[str, Any]) -> dict[str, Any]:
        me = staff().username
        allow = bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])
        row = webhooks.add_endpoint(db, form.get("url", ""), form["events"], me, allow_private=allow)
        audit.record(db, me, "webhook_add", row.url, events=row.events)
        return {"kind": "secret", "value": row.secret, "name": row.url}

    return _run(change)


@bp.post("/integrations/webhooks/<int:endpoint_id>/remove")
@admin_required
def remove_webhook(endpoint_id: int):
    """Stop sending to an endpoint (kept with its delivery log)."""

    def change(db: Any, form: dict[str, Any]) -> str:
        row = webhooks.remove_endpoint(db, endpoint_id)
        audit.record(db, staff().username, "webhook_remove", row.url)
        return _("%(url)s removed: nothing more is sent to it.", url=row.url)

    return _run(change)


@bp.post("/integrations/deliveries/<int:delivery_id>/send-again")
@admin_required
def send_delivery_again(delivery_id: int):
    """Queue a webhook delivery again now."""

    def change(db: Any, form: dict[str, Any]) -> str:
        row = webhooks.send_again(db, delivery_id)
        get_endpoint(db, int((row.headers or {}).get("endpoint", 0)))
        return _("Delivery %(id)s (%(subject)s) queued again.", id=delivery_id, subject=row.subject)

    return _run(change)
