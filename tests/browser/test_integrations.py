"""The integrations page in a real browser: an agent creates a token (shown once, selectable), an admin
declares a webhook to a real receiver on loopback, sees the delivery in the log and sends it again."""

from __future__ import annotations

from werkzeug import Response

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.integrations.webhooks.delivery import WebhookSender
from tests.browser.conftest import login, serious_violations, shot


def test_agent_creates_a_token_shown_once(live_server, page) -> None:
    live_server.create_user("lena", "agent-L1")
    login(page, live_server, "lena")
    page.get_by_role("link", name="Integrations").click()
    page.fill("input[name=name]", "glpi sync")
    page.get_by_label("tickets:write").check()
    page.get_by_role("button", name="Create token").click()
    value = page.locator("#once-value").input_value()
    assert value.startswith("kbt_") and len(value) > 40
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "integrations-token-once-390")
    page.goto(f"{live_server.url}/console/integrations")
    assert value not in page.content()
    row = page.locator("#tokens tbody tr").first
    assert "glpi sync" in row.text_content() and "tickets:read, tickets:write" in row.text_content()
    row.get_by_role("button", name="Revoke glpi sync").click()
    assert page.locator("#tokens [data-field='state']").first.text_content() == "revoked"


def test_admin_webhook_delivery_log_and_send_again(live_server, page, httpserver, axe_page) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_handler(
        lambda r: Response("down", status=503)
    )
    live_server.app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    live_server.create_user("root", "admin")
    for p in (page, axe_page):
        login(p, live_server, "root")
    page.goto(f"{live_server.url}/console/integrations")
    page.fill("input[name=url]", httpserver.url_for("/hook"))
    page.get_by_role("button", name="Add endpoint").click()
    assert page.locator("#shown-once-title").text_content().startswith("Signing secret")
    sessions = make_session_factory(live_server.app.extensions["kb_engine"])
    with sessions() as session:
        TicketService.from_settings(session, live_server.app.config).create(
            source="agent", query="dock has no video"
        )
        session.commit()
    WebhookSender(sessions, allow_private=True).send_due()  # the receiver answers 503: retried later
    # The server's own background job may have claimed the delivery first: then its answer is recorded as
    # soon as the receiver's 503 is in; the page shows it from then on.
    row = page.locator("#deliveries tbody tr").first
    for _ in range(100):
        page.goto(f"{live_server.url}/console/integrations")
        if "HTTP 503" in (row.text_content() or ""):
            break
        page.wait_for_timeout(100)
    assert "ticket.created" in row.text_content() and "HTTP 503" in row.text_content()
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "integrations-admin-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "integrations-admin-390")
    # on a phone the wide tables scroll inside their card, the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
    )
    row.get_by_role("button").click()
    assert "queued again" in page.locator("body").text_content()
    axe_page.goto(f"{live_server.url}/console/integrations")
    assert serious_violations(axe_page) == []
