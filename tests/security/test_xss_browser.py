"""In a real browser, the hostile article (scripts, handlers, javascript: links in title, tags and body)
opens no dialog and triggers no Content-Security-Policy violation: nothing executable reached the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.apps import wsgi_server

pytestmark = pytest.mark.browser

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture()
def hostile_server(hostile_app) -> Iterator[str]:
    hostile_app.config["TESTING"] = False
    with wsgi_server(hostile_app) as url:
        yield url


def test_hostile_article_runs_nothing_in_the_browser(page: Any, hostile_server: str) -> None:
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH)
    for path in ("/articles/en/hostile-printer", "/search?q=printer+offline+try+this+first"):
        page.goto(hostile_server + path)
        page.wait_for_load_state("networkidle")
        for link in page.locator("main a").all()[:20]:
            link.hover()  # onmouseover payloads would fire here
        violations = page.evaluate("window.__violations")
        assert violations == [], (path, violations)
    assert "hostile" in page.content()
    # The watch works and the CSP is on: an inline script added now is blocked and reported.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert dialogs == []
    refused = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert len(refused) <= 1, console  # only the deliberate canary above
