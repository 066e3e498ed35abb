"""Browser fixtures: the real app served on loopback, and headless Chromium driven by playwright-python.

- `live_server`: the app (temp SQLite database, a temp copy of the sample articles, the session's real
  index) served by werkzeug in a thread on 127.0.0.1 and a free port; `.url`, `.app`, `.articles_dir`,
  `.create_user(username, role, password)`.
- `browser`, `page`, `new_page()`: in tests/conftest.py (one Chromium per session for every test folder).
- `shot(page, name)`: saves a full-page screenshot to test-artifacts/<name>.png.
- `login(page, server, username, password)`: logs a staff member in through the form.

Without /usr/bin/chromium the browser tests are skipped, except in CI (CI=true), where that fails.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apps import served_app
from tests.conftest import MODEL, ROOT, SHIPPED

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery staple"


@dataclass
class LiveServer:
    url: str
    app: Any
    articles_dir: Path

    def create_user(self, username: str, role: str, password: str = PASSWORD) -> str:
        """Create an active staff account in the server's database; returns the username."""
        from kb_engine.helpdesk.db import make_session_factory
        from kb_engine.helpdesk.users import create_user

        with make_session_factory(self.app.extensions["kb_engine"])() as session:
            create_user(session, username, password, role)
            session.commit()
        return username


@pytest.fixture()
def live_server(tmp_path: Path, index_dir: Path, articles_dir: Path) -> Iterator[LiveServer]:
    """The app served on 127.0.0.1 (a free port) in a thread, on a fresh database and articles copy."""
    from werkzeug.serving import make_server

    from web.cli import QuietRequestHandler
    from web.resources import get_searcher

    articles = tmp_path / "articles"
    shutil.copytree(articles_dir, articles)
    for name in ("routing.yml", "canned-replies.yml"):
        if (SHIPPED / name).exists():
            shutil.copy(SHIPPED / name, articles / name)
    with served_app(tmp_path, articles, index_dir, model=MODEL, testing=False) as app:
        with app.app_context():  # as gunicorn's workers do: the model is loaded before the first visitor
            get_searcher().search("warm-up", use_cache=False)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
        thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
        thread.start()
        try:
            yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, articles)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot saved as test-artifacts/<name>.png (kept by CI as a test artifact)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Log in through the console's login form (lands on the role's start page)."""
    page.goto(f"{server.url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("form.who")
