"""The embeddable widget: one `<script>` tag on a company's own site, talking to `/api/v1/search`.

`web/static/widget.js` builds a small search panel in a shadow root (its CSS, `widget.css`, is loaded into
that root, so it neither leaks into nor inherits from the host page) and loads `suggest.js`, the same
suggestion code as the help centre's own pages. It uses no inline script or style and no eval, so it runs
under a strict Content-Security-Policy on the host page as long as that policy lets this site in:
``script-src``, ``style-src`` and ``connect-src`` naming kb-engine's origin.

Browsers only let another site's page read the search API if we say so: `KB_CORS_ORIGINS` lists the
origins allowed (or `*`). CORS headers are sent on the search API and the widget's own files only; every
other path (ticket API, forms, console) stays same-origin.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

CORS_PATHS = frozenset(("/api/v1/search", "/static/widget.js", "/static/widget.css", "/static/suggest.js"))
PREFLIGHT_MAX_AGE = 600


def allowed_origin(origin: str | None) -> bool:
    """Whether a page from `origin` may use the search API and the widget (KB_CORS_ORIGINS)."""
    if not origin:
        return False
    allowed = {o.rstrip("/") for o in current_app.config.get("CORS_ORIGINS") or ()}
    return "*" in allowed or origin.rstrip("/") in allowed


def init_app(app: Flask) -> None:
    @app.after_request
    def cors_headers(response: Response) -> Response:
        if request.path not in CORS_PATHS:
            return response
        response.vary.add("Origin")  # the answer differs by origin: caches must not mix them up
        origin = request.headers.get("Origin")
        if allowed_origin(origin):
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET"
                response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        # The widget's files are meant to be loaded by other sites' pages.
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response
