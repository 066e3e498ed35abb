"""End to end in headless Chromium: a customer's miss becomes a ticket, L1 escalates it, L2 resolves it,
and the dashboard counts the journey. Screenshots of the main pages go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_customer_miss_is_escalated_by_l1_and_resolved_by_l2_and_counted(live_server, new_page) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    server.create_user("omar", "agent-L2")

    # A customer searches, reads the best article, says it did not help, leaves their contact details.
    customer = new_page()
    customer.goto(server.url + "/")
    customer.fill("input[name=q]", "my printer shows offline and will not print")
    customer.press("input[name=q]", "Enter")
    customer.wait_for_selector(".hits a")
    shot(customer, "01-customer-results")
    customer.click(".hits a >> nth=0")
    customer.wait_for_selector("article[data-article]")
    article_id = customer.get_attribute("article[data-article]", "data-article")
    shot(customer, "02-customer-article")
    customer.click("button[value=no]")
    customer.click("form.still-stuck button[type=submit]")  # "No" files nothing until "Contact support"
    customer.wait_for_selector("form.contact")
    customer.fill("#name", "Ana Silva")
    customer.fill("#email", "ana@example.com")
    customer.fill("#availability", "mornings")
    customer.click("form.contact button[type=submit]")
    customer.wait_for_url(re.compile(r"/tickets/KB-\d+"))
    reference = re.search(r"KB-\d{6}", customer.url).group(0)  # type: ignore[union-attr]
    assert reference in customer.inner_text("main")
    shot(customer, "03-customer-ticket-status")

    # An L1 agent logs in, takes the ticket from the queue and escalates it to L2.
    l1 = new_page()
    l1.goto(f"{server.url}/console/")  # every console page needs a login
    l1.wait_for_selector("#username")
    shot(l1, "04-console-login")
    login(l1, server, "lena")
    row = l1.locator(f"tr[data-reference={reference}]")
    assert "Ana Silva" in row.inner_text()  # the requester, so the agent knows who is waiting
    shot(l1, "05-console-queue")
    row.locator("button", has_text="Take").click()
    l1.wait_for_selector("[data-field=assignee]:has-text('lena')")
    assert "ana@example.com" in l1.inner_text("main")
    shot(l1, "06-console-ticket")
    l1.fill("#reason", "printer firmware, needs desktop support")
    l1.click("#escalate button[type=submit]")
    l1.wait_for_selector("[data-field=tier]:has-text('L2')")
    assert l1.locator(".read-only").count() == 1  # L1 can no longer act on it, only add notes
    assert l1.locator("#resolve").count() == 0 and l1.locator("#composer").count() == 1

    # An L2 agent resolves it with an article.
    l2 = new_page()
    login(l2, server, "omar")
    l2.goto(f"{server.url}/console/?tier=L2")
    l2.click(f"tr[data-reference={reference}] a")
    assert "printer firmware" in l2.inner_text("main")  # the escalation packet reached L2
    l2.select_option("#article", article_id)
    l2.click("#resolve button[type=submit]")
    l2.wait_for_selector("[data-field=status]:has-text('resolved')")

    # The customer sees it resolved; the dashboard counts the journey.
    customer.reload()
    assert "Resolved" in customer.inner_text("main")
    l2.goto(f"{server.url}/console/dashboard")
    l2.wait_for_selector(".card[data-chart-drawn]")  # Chart.js ran under the strict CSP
    assert l2.inner_text("[data-metric=searches]") == "1"
    assert l2.inner_text("[data-metric=tickets]") == "1"
    assert l2.inner_text("tr[data-stage=opened] td.num >> nth=0") == "1"
    assert l2.inner_text("tr[data-stage=solved] td.num >> nth=0") == "0"
    assert l2.inner_text("tr[data-tier=L2]").split()[1:] == ["0", "0", "1", "0"]  # one L2 ticket, P3
    shot(l2, "07-dashboard")
    l2.goto(f"{server.url}/console/search?q=printer+offline")
    assert l2.locator("td.score").count() > 0  # agents see the scores
    shot(l2, "08-agent-search")
