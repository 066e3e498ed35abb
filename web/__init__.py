"""The Flask web app: customer self-service pages, the JSON API and (later) the agent console."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.exceptions import HTTPException

from kb_engine.config import SETTINGS, load_settings
from kb_engine.errors import KBError

csrf = CSRFProtect()
log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class _CompiledTemplates(BytecodeCache):
    """The templates compiled once per process, shared by every app the process creates (a test run creates
    hundreds; a server, one per worker). Jinja checks each entry against the template source's checksum."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


def _secret_key(instance_dir: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts and are shared by workers."""
    path = instance_dir / "secret_key"
    instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def close_app(app: Flask) -> None:
    """Stop an app's background runner and close its database connections (tests, embedding apps)."""
    from web import resources

    resources.close_app(app)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory.

    Args:
        test_config: settings that win over the defaults, the instance file and KB_* variables.
    """
    settings = load_settings(test_config)
    instance_dir = Path(settings["INSTANCE_DIR"]).resolve()
    app = Flask(__name__, instance_path=str(instance_dir))
    app.jinja_options = {**app.jinja_options, "bytecode_cache": _COMPILED_TEMPLATES}
    from web.json_input import BoundedJSONProvider

    app.json = BoundedJSONProvider(app)
    app.config.update(settings)
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"] or _secret_key(instance_dir),
        MAX_CONTENT_LENGTH=256 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SESSION_COOKIE_SECURE"],
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        API_TITLE="kb-engine API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    for key, value in (test_config or {}).items():
        if key not in {s.name for s in SETTINGS}:
            app.config[key] = value  # plain Flask settings (TESTING, WTF_CSRF_ENABLED...)

    csrf.init_app(app)
    if settings["TRUSTED_PROXIES"]:
        from web.proxy import TrustedProxyFix

        app.wsgi_app = TrustedProxyFix(app.wsgi_app, settings["TRUSTED_PROXIES"])  # type: ignore[method-assign]

    from web import resources

    resources.init_app(app)

    from web.api import init_api
    from web.customer import bp as customer_bp

    app.register_blueprint(customer_bp)
    from web.helpcentre import bp as helpcentre_bp

    app.register_blueprint(helpcentre_bp)
    init_customer(app)
    init_api(app)
    init_console(app)
    from web.desk import init_desk

    init_desk(app)
    _register_errors(app)
    from web import observability

    observability.init_app(app)

    hsts = settings["SESSION_COOKIE_SECURE"] if settings["HSTS"] is None else settings["HSTS"]

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    return app


def with_retry_after(response: Any, exc: BaseException) -> Any:
    """Add `Retry-After` to a (body, status) answer for a TooManyRequests refusal."""
    wait = getattr(exc, "retry_after", None)
    if wait is None:
        return response
    body, status = response
    return body, status, {"Retry-After": str(int(wait))}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _register_errors(app: Flask) -> None:
    """One answer for every error: the JSON envelope under /api/ (declared by web/openapi.py), a page
    elsewhere. Headers the error carries (`Allow` on a 405, `Retry-After` on a 429 or 503) are kept."""
    from web.openapi import DEFAULT_RETRY_AFTER, validation_error

    def respond(
        status: int,
        code: str,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        retry_after: int | None = None,
    ):
        headers = dict(headers or {})
        if status in (429, 503) and "Retry-After" not in headers:
            headers["Retry-After"] = str(retry_after if retry_after is not None else DEFAULT_RETRY_AFTER)
        if wants_json():
            error: dict[str, Any] = {"code": code, "message": message, "status": status}
            if fields:
                error["fields"] = fields
            return jsonify({"error": error}), status, headers
        extra: dict[str, Any] = {}
        if status == 404:
            from web.helpcentre import not_found_context

            extra = not_found_context()
        return render_template("error.html", status=status, message=message, **extra), status, headers

    @app.errorhandler(KBError)
    def kb_error(exc: KBError):
        if exc.status >= 500:
            log.warning("%s: %s", type(exc).__name__, exc.message)
        from web.i18n import error_text

        # The API keeps the English message; pages speak the interface's language.
        return respond(
            exc.status,
            exc.code,
            exc.message if wants_json() else error_text(exc),
            retry_after=exc.retry_after,
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        from flask_babel import gettext

        return respond(
            400,
            "csrf",
            gettext("The form expired or was not sent from this site. Reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        refused = validation_error(getattr(exc, "data", None)) if status == 422 else None
        if refused:
            message, fields = refused
            return respond(status, "unprocessable_entity", message, fields=fields, headers=headers)
        code = (exc.name or "error").lower().replace(" ", "_")
        return respond(status, code, exc.description or "", headers=headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return respond(500, "internal", "Something went wrong on our side. Please try again.")


def init_customer(app: Flask) -> None:
    """Interface language (web/i18n.py) and the embeddable widget's CORS (web/widget.py)."""
    from web import i18n, widget

    i18n.init_app(app)
    widget.init_app(app)


def init_console(app: Flask) -> None:
    """Staff login, the agent console, the authors' pages and the dashboard (web/auth.py...)."""
    from web import console_labels
    from web.auth import init_auth
    from web.authors import bp as authors_bp
    from web.console import bp as console_bp
    from web.dashboard import bp as dashboard_bp

    init_auth(app)
    console_labels.init_app(app)
    app.register_blueprint(console_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(authors_bp)
    from web.privacy import bp as privacy_bp

    app.register_blueprint(privacy_bp)
