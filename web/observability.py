"""Request ids, one JSON log line per request, and the Prometheus `/metrics` endpoint.

- Every response carries `X-Request-ID` (the proxy's id when nginx sends a well-formed one, else a new one);
  error pages show it, so a customer can quote it.
- One log line per request: request id, method, route pattern (never the query string), status, latency,
  role. The query text only with `KB_LOG_QUERIES`. The servers (web/gunicorn.conf.py, `kb serve`) write
  them as JSON lines (kb_engine/ops/logs.py); the app itself leaves the process's logging alone.
- `/metrics` (kb_engine/ops/metrics.py) for the addresses in `KB_METRICS_ALLOW` or with `KB_METRICS_TOKEN`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from flask import Flask, Response, abort, current_app, g, request
from flask_login import current_user

from kb_engine.ops import logs, metrics

log = logging.getLogger("kb_engine.web.access")


def init_app(app: Flask) -> None:
    holder = app.extensions["kb_searcher"]
    holder.on_search = metrics.observe_search
    networks = [ipaddress.ip_network(n, strict=False) for n in app.config["METRICS_ALLOW"]]

    @app.before_request
    def start() -> None:
        g.request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        request_id = g.get("request_id") or logs.new_request_id()
        response.headers["X-Request-ID"] = request_id
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        metrics.observe_request(route, request.method, response.status_code, seconds)
        fields = {
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "latency_ms": round(seconds * 1000, 2),
            "role": _role(),
        }
        if current_app.config["LOG_QUERIES"]:
            fields["query"] = request.values.get("q") or request.values.get("query")
        log.info("request", extra=fields)
        return response

    @app.route("/metrics")
    def metrics_view() -> Response:
        token = current_app.config["METRICS_TOKEN"]
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        allowed = bool(token) and hmac.compare_digest(given.encode(), token.encode())
        if not allowed:
            try:
                address = ipaddress.ip_address(request.remote_addr or "")
            except ValueError:
                address = None
            allowed = address is not None and any(address in network for network in networks)
        if not allowed:
            abort(403)
        store = metrics.StoreCollector(app.extensions["kb_sessions"], lambda: holder.served)
        return Response(metrics.exposition(store), mimetype=metrics.CONTENT_TYPE_LATEST)


def _role() -> str:
    return current_user.role if current_user.is_authenticated else "anonymous"
