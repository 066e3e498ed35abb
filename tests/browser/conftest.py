"""Browser fixtures: the real app served on loopback, and headless Chromium driven by playwright-python.

- `live_server`: the app (temp SQLite database, a temp copy of the sample articles, the session's real
  index) served by werkzeug in a thread on 127.0.0.1 and a free port; `.url`, `.app`, `.articles_dir`,
  `.create_user(username, role, password)`.
- `browser`, `page`, `new_page()`: in tests/conftest.py (one Chromium per session for every test folder).
- `shot(page, name)`: saves a full-page screenshot to test-artifacts/<name>.png.
- `login(page, server, username, password)`: logs a staff member in through the form.
- `staff_page(browser, server, username)`: a logged-in page (axe-core may be injected into it).
- `axe_page`: a page whose context lets axe-core in despite the site's CSP (the site keeps its CSP);
  `axe_violations(page)` lists every axe-core violation, `serious_violations(page)` the serious and
  critical ones (WCAG 2.1 A/AA and best practice).
- `rows(server, sql)`: rows of the server's SQLite database.

Without /usr/bin/chromium the browser tests are skipped, except in CI (CI=true), where that fails.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.apps import served_app, wsgi_server
from tests.conftest import MODEL, ROOT, SHIPPED

ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
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
    articles = tmp_path / "articles"
    shutil.copytree(articles_dir, articles)
    for name in ("routing.yml", "canned-replies.yml"):
        if (SHIPPED / name).exists():
            shutil.copy(SHIPPED / name, articles / name)
    with serving(tmp_path, articles, index_dir) as server:
        yield server


@contextmanager
def serving(tmp_path: Path, articles: Path, index: Path) -> Iterator[LiveServer]:
    """The app serving `index` (built from `articles`) on 127.0.0.1 and a free port, in a thread."""
    from web.resources import get_searcher

    with served_app(tmp_path, articles, index, model=MODEL, testing=False) as app:
        with app.app_context():  # as gunicorn's workers do: the model is loaded before the first visitor
            get_searcher().search("warm-up", use_cache=False)
        with wsgi_server(app) as url:
            yield LiveServer(url, app, articles)


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


def staff_page(
    browser: Any, server: LiveServer, username: str, *, width: int = 1280, height: int = 900
) -> Any:
    """A new page, logged in as `username`, at `width` x `height` (axe-core can be injected into it)."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", bypass_csp=True
    )
    context.set_default_timeout(20000)
    page = context.new_page()
    login(page, server, username)
    return page


@pytest.fixture()
def axe_page(browser: Any) -> Iterator[Any]:
    """A page whose context lets the tests inject axe-core despite the site's CSP (the site keeps its CSP)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(20000)
    yield context.new_page()
    context.close()


def axe_violations(page: Any, impacts: frozenset[str] | None = None) -> list[str]:
    """axe-core's violations (WCAG 2.1 A/AA and best practice) on the page as it is now, of `impacts`
    (None: all)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}, resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if impacts is None or v["impact"] in impacts
    ]


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    return axe_violations(page, frozenset({"serious", "critical"}))


def rows(server: LiveServer, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the live server's SQLite database."""
    path = server.app.config["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()
