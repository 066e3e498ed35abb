"""An app instance over a given articles folder and index, on a fresh SQLite database (for fixtures)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.databases import migrated_sqlite


@contextmanager
def served_app(
    tmp_path: Path, articles: Path, index: Path, *, model: str = "hashing", testing: bool = True
) -> Iterator[Any]:
    """The web app (cookies over plain http; Flask's TESTING unless a real server serves it) serving
    `index` built from `articles`."""
    from web import close_app, create_app

    app = create_app(
        {
            "ARTICLES_DIR": str(articles),
            "INDEX_DIR": str(index),
            "DATABASE_URL": migrated_sqlite(tmp_path / "tickets.sqlite3"),
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "MODEL": model,
            "SESSION_COOKIE_SECURE": False,
            "AUTOMATIONS_EVERY_SECONDS": 0,  # no scheduler thread in tests
            "TESTING": testing,
        }
    )
    try:
        yield app
    finally:
        close_app(app)


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """`app` served by werkzeug on 127.0.0.1 (a free port) in a thread, as a browser reaches it; yields its
    address, and stops the server afterwards."""
    from werkzeug.serving import make_server

    from web.cli import QuietRequestHandler

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    with _serving(server):
        yield f"http://127.0.0.1:{server.server_port}"


@contextmanager
def page_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Another site (a company's intranet page embedding the widget…) served by `handler` on 127.0.0.1 (a
    free port) in a thread; yields its origin, and stops the server afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with _serving(server):
        yield f"http://127.0.0.1:{server.server_port}"


@contextmanager
def _serving(server: Any) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def app_ticket(app: Any, **fields: Any) -> tuple[str, str]:
    """A ticket created through the service the app uses (its routing and rules; source `agent` and a
    printer query unless given), committed; returns (reference, token)."""
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        fields.setdefault("source", "agent")
        fields.setdefault("query", "my printer is offline")
        ticket = service.create(**fields)
        session.commit()
        return str(ticket.reference), str(ticket.token)


def app_problem(
    app: Any, references: Any = (), *, title: str = "VPN down since 9", banners: dict[str, str] | None = None
) -> int:
    """A problem the engine proposed, linking the tickets of `references`, confirmed with `banners` (a
    banner per language) when given; committed; returns its id."""
    from kb_engine.helpdesk.db import make_session_factory
    from kb_engine.helpdesk.models import Problem
    from kb_engine.helpdesk.tickets import TicketService

    with make_session_factory(app.extensions["kb_engine"])() as session:
        service = TicketService.from_settings(session, app.config)
        problem = Problem(title=title, query=title, status="proposed", created_by="engine")
        session.add(problem)
        session.flush()
        for reference in references:
            service.link_problem(service.get(reference), problem, "engine")
        if banners is not None:
            service.confirm_problem(problem, "alice", banners=banners)
        session.commit()
        return int(problem.id)
