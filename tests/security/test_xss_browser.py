"""In a real browser, the hostile article (scripts, handlers, javascript: links in title, tags and body)
opens no dialog and triggers no Content-Security-Policy violation: nothing executable reached the page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture()
def hostile_server(hostile_app) -> Iterator[str]:
    from werkzeug.serving import make_server

    from web.cli import QuietRequestHandler

    hostile_app.config["TESTING"] = False
    server = make_server("127.0.0.1", 0, hostile_app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="hostile-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


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
