"""`kb serve`: the development server, plugged into the `kb` command line through the `kb_engine.cli`
entry-point group (pyproject.toml), since the library never imports the web app."""

from __future__ import annotations

import click
from werkzeug.serving import WSGIRequestHandler

from kb_engine.cli.context import Context, pass_ctx
from kb_engine.ops import logs
from web import create_app


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its own access line: that line holds the path with its query
    string (a customer's words, sometimes an email); the app's JSON line (web/observability.py) logs the
    route pattern instead."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@click.option("--watch", is_flag=True, help="Re-index the articles folder whenever it changes (authoring).")
@pass_ctx
def serve_cmd(ctx: Context, host: str, port: int, debug: bool, watch: bool) -> None:
    """Serve the web app (development server; use gunicorn in production).

    Example: kb serve --port 5000
    Example: kb serve --watch
    """
    if watch:
        from kb_engine.cli.authoring import start_watcher

        start_watcher(ctx.settings())
    app = create_app(ctx.overrides or None)
    logs.configure(app.config["LOG_FORMAT"])  # request lines as JSON, like gunicorn's workers
    app.run(
        host=host,
        port=port,
        debug=debug,
        use_reloader=False,
        threaded=True,
        request_handler=QuietRequestHandler,
    )
