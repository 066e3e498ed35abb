"""Staff administration on the web (/console/admin/users), for admins: create accounts, disable and
enable them, change roles, reset passwords. The same rules as `kb users` (kb_engine.helpdesk.users: the
username and password rules, sessions ended on disable, role or password change), and each change is
recorded in the staff audit log (`kb_engine.helpdesk.audit`, action `user_<change>`) with who made it,
in the same transaction as the change.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from kb_engine.errors import InvalidQuery, KBError
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.users import (
    ROLES,
    create_user,
    get_user,
    list_users,
    set_active,
    set_password,
    set_role,
)
from web.auth import admin_required, login_throttle, staff
from web.console import bp
from web.console_labels import ROLE_LABELS, console_error, label
from web.resources import get_db


def users_page(*, error: str | None = None, form: dict[str, str] | None = None, status: int = 200):
    return (
        render_template(
            "console/users.html",
            users=list_users(get_db()),
            lockouts=login_throttle().lockouts(),
            history=[e for e in audit.entries(get_db(), limit=200) if e.action.startswith("user_")][:20],
            roles=ROLES,
            error=error,
            form=form or {},
            user=staff(),
        ),
        status,
    )


@bp.get("/admin/users")
@admin_required
def users():
    """Staff accounts: who has which role, who is disabled."""
    return users_page()


def _change(action: str, username: str, form: dict[str, str]) -> str:
    db = get_db()
    me = staff().username
    if action == "create":
        user = create_user(
            db, form.get("username", "").strip(), form.get("password", ""), form.get("role", "")
        )
        audit.record(db, me, "user_create", user.username, role=user.role)
        return _(
            "Account %(name)s (%(role)s) created.", name=user.username, role=label(ROLE_LABELS, user.role)
        )
    get_user(db, username)
    if username == me and action in ("disable", "role"):
        raise InvalidQuery(
            _("You cannot disable your own account or change your own role (ask another admin).")
        )
    details = {"role": form.get("role", "")} if action == "role" else {}
    if action in ("disable", "enable", "role", "password"):
        audit.record(db, me, f"user_{action}", username, **details)
    if action == "disable":
        set_active(db, username, False)
        return _("%(name)s disabled: their sessions ended.", name=username)
    if action == "enable":
        set_active(db, username, True)
        return _("%(name)s enabled.", name=username)
    if action == "role":
        user = set_role(db, username, form.get("role", ""))
        return _(
            "%(name)s is now %(role)s: their sessions ended.",
            name=username,
            role=label(ROLE_LABELS, user.role),
        )
    if action == "password":
        set_password(db, username, form.get("password", ""))
        return _("New password set for %(name)s: their sessions ended.", name=username)
    raise InvalidQuery(_("Unknown action %(action)s.", action=repr(action)))


@bp.post("/admin/users", defaults={"username": "", "action": "create"})
@bp.post("/admin/users/<username>/<action>")
@admin_required
def user_action(username: str, action: str):
    """Create an account, or disable, enable, change the role of, or reset the password of one."""
    db = get_db()
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        with store_errors():
            notice = _change(action, username, form)
            db.commit()
    except KBError as exc:
        db.rollback()
        if exc.status >= 500:
            raise
        kept = {k: v for k, v in form.items() if k != "password"}
        return users_page(error=console_error(exc), form=kept, status=exc.status)
    flash(notice, "notice")
    return redirect(url_for("console.users"), code=303)
