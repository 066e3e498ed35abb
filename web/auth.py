"""Staff login and logout (Flask-Login), and the access rules every console and authors' page uses.

- Passwords are checked by `kb_engine.helpdesk.users.authenticate` (Argon2id); accounts are created with
  `kb users`.
- Logging in starts a new session (the old one, and its CSRF token, are dropped).
- The session carries `<user id>:<session_version>`: logging out, disabling the account or changing its
  password bumps the version, so every copy of an old session cookie stops working at once.
- Failed logins are limited per account and per client address (`kb_engine.helpdesk.throttle`, counted in the
  database, so across worker processes): each attempt is recorded before its password is checked, and over
  the limit the form answers 429 without checking it. A locked account is refused only to the addresses
  that failed on it: the real user, from elsewhere, still gets in. Lock-outs are logged.
- A session ends after `SESSION_IDLE_MINUTES` without a request and `SESSION_MAX_HOURS` after its login.
- Views declare who may use them with `staff_required`, `agent_required`, `author_required` or
  `admin_required`; ticket actions also call `require_tier(ticket)` (a lower tier cannot act above it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from kb_engine.errors import Forbidden
from kb_engine.helpdesk import audit
from kb_engine.helpdesk.db import store_errors
from kb_engine.helpdesk.models import User
from kb_engine.helpdesk.throttle import LoginThrottle
from kb_engine.helpdesk.users import (
    AUTHOR_ROLES,
    MAX_PASSWORD_CHARS,
    TICKET_ROLES,
    StaffUser,
    authenticate,
    end_sessions,
)
from web.resources import get_db

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/console")
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ConsoleUser(StaffUser):
    """The logged-in staff member (`flask_login.current_user`), with the console language they chose."""

    lang: str | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        # The version makes every older session of this account invalid once it is bumped.
        return f"{self.id}:{self.session_version}"


def staff() -> ConsoleUser:
    """The logged-in staff member (call only from views protected by one of the decorators below)."""
    return cast(ConsoleUser, current_user._get_current_object())


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = get_db().get(User, uid)
    if user is None or not user.active or int(user.session_version or 0) != version:
        return None
    return ConsoleUser(user.id, user.username, user.role, True, version, user.lang)


@login_manager.unauthorized_handler
def unauthorized() -> Any:
    """Anonymous visitors of a staff page go to the login form (JSON clients get a 401)."""
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        abort(401, "log in to the support console first")
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def _roles_required(roles: tuple[str, ...] | None) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles is not None and current_user.role not in roles:
                raise Forbidden(f"your role ({current_user.role}) cannot use this page")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def roles_required(*roles: str) -> Callable[[F], F]:
    """Only logged-in staff with one of these roles (others get 403, anonymous visitors the login page)."""
    return _roles_required(tuple(roles))


staff_required = _roles_required(None)  # any logged-in staff member
agent_required = _roles_required(TICKET_ROLES)  # agents of every tier, and admins
author_required = _roles_required(AUTHOR_ROLES)  # authors and admins
admin_required = _roles_required(("admin",))


def require_tier(tier: str) -> None:
    """Refuse (403) a change to a ticket at `tier` by someone whose role does not cover that tier."""
    user = staff()
    if not user.may_act_on(tier):
        allowed = ", ".join(user.tiers) or "none"
        raise Forbidden(f"{user.username} ({user.role}) cannot act on an {tier} ticket (tiers: {allowed})")


def login_required_for_blueprint(blueprint: Blueprint) -> None:
    """Every page of `blueprint` needs a logged-in staff member, whatever its own decorators say."""

    @blueprint.before_request
    def _require_login() -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @blueprint.after_request
    def _no_store(response: Any) -> Any:
        response.headers["Cache-Control"] = "no-store"  # staff pages hold customers' personal data
        return response


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)])
    next = HiddenField()


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (no scheme, no host, no `//`), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def home_for(user: StaffUser) -> str:
    return url_for("authors.gaps") if user.role == "author" else url_for("console.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Staff login form."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data) or home_for(staff()))
    error = None
    if form.validate_on_submit():
        db = get_db()
        username = form.username.data or ""
        address = request.remote_addr or "unknown"
        throttle = login_throttle()
        # The attempt is recorded (and committed) before the password is checked: parallel attempts
        # count each other, so no more passwords are checked than the limit allows.
        with store_errors():
            attempt = throttle.begin(username, address)
            if attempt.wait:
                db.rollback()
            else:
                db.commit()
        if attempt.wait:
            log.warning("login refused (too many failures) for %r from %s", username[:80], address)
            minutes = max(1, (attempt.wait + 59) // 60)
            error = ngettext(
                "Too many failed logins. Try again in %(num)d minute.",
                "Too many failed logins. Try again in %(num)d minutes.",
                minutes,
            )
            page = render_template("console/login.html", form=form, error=error)
            return page, 429, {"Retry-After": str(attempt.wait)}
        user = authenticate(db, username, form.password.data or "")
        if user is not None:
            with store_errors():
                throttle.succeeded(attempt, username, address)
                audit.record(db, user.username, "login", user.username, role=user.role, address=address)
                db.commit()  # a rehashed password, the forgotten attempt, the audit entry
            target = safe_next(form.next.data)
            lang = session.get("lang")  # the login page's language switch, if used
            session.clear()  # a new session: nothing from before the login survives
            if lang:
                session["lang"] = lang
            console_user = ConsoleUser(
                user.id, user.username, user.role, True, int(user.session_version or 0), user.lang
            )
            login_user(console_user)
            session["login_at"] = session["seen_at"] = int(time.time())
            log.info("login: %s (%s)", user.username, user.role)
            return redirect(target or home_for(console_user), code=303)
        db.rollback()
        log.info("failed login for %r from %s", username[:80], address)
        if attempt.account_failures + 1 == throttle.per_account:
            log.warning(
                "login lock-out: %r has %d failed logins within %d s; refused to the addresses that failed "
                "(last %s), others may still log in",
                username[:80],
                throttle.per_account,
                throttle.window_seconds,
                address,
            )
        error = _("Wrong username or password.")
    elif request.method == "POST":
        error = _("Give your username and password.")
    status = 401 if error else 200
    return render_template("console/login.html", form=form, error=error), status


@bp.post("/language")
def language():
    """Choose the console's language (kept on the staff member's account; `lang=` empty: the browser's)."""
    from web.i18n import UI_LANGUAGES

    lang = request.form.get("lang", "")
    if lang and lang not in UI_LANGUAGES:
        abort(400, "unknown language")
    if current_user.is_authenticated:
        db = get_db()
        user = db.get(User, staff().id)
        if user is not None:
            user.lang = lang or None
            db.commit()
    elif lang:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")) or url_for("auth.login"), code=303)


def login_throttle() -> LoginThrottle:
    return LoginThrottle.from_settings(get_db(), current_app.config)


def session_expired(now: float) -> bool:
    """Whether the logged-in session has been idle too long or is older than the absolute limit."""
    config = current_app.config
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return True  # a staff session always carries both: anything else is not ours
    return (
        now - seen_at > config["SESSION_IDLE_MINUTES"] * 60
        or now - login_at > config["SESSION_MAX_HOURS"] * 3600
    )


def enforce_session_timeouts() -> None:
    """End an expired staff session before any view sees it; otherwise note that it was used."""
    if "_user_id" not in session:
        return
    now = int(time.time())
    if session_expired(now):
        log.info("staff session expired")
        logout_user()
        session.clear()
        return
    if now - int(session["seen_at"]) >= 30:  # rewrite the cookie at most every 30 s
        session["seen_at"] = now


@bp.post("/logout")
def logout():
    """Log out: this session, and every other session of the account, stop working."""
    if current_user.is_authenticated:
        db = get_db()
        user = db.get(User, staff().id)
        if user is not None:
            end_sessions(user)
            db.commit()
        logout_user()
    session.clear()
    return redirect(url_for("auth.login"), code=303)


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(enforce_session_timeouts)
    app.register_blueprint(bp)
