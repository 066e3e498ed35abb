"""Every user-supplied string is escaped or sanitised: OWASP-style payloads through articles, queries,
ticket fields and names (hypothesis draws payloads and wraps them in random text)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb_engine.content.articles import render_markdown
from tests.conftest import csrf_token, login_staff
from tests.security.conftest import make_ticket
from tests.security.xss import PAYLOADS, executable_markup

payload = st.sampled_from(PAYLOADS)
wrapped = st.builds(
    lambda before, p, after: f"{before}{p}{after}",
    st.text(max_size=20),
    payload,
    st.sampled_from(["", " printer offline", "\n\n# heading\n", "**bold** [link](other.md)"]),
)


def page_problems(response) -> list[str]:
    assert response.status_code < 500, response.status_code
    return executable_markup(response.get_data(as_text=True))


def test_payload_list_is_vendored() -> None:
    assert len(PAYLOADS) >= 100


@pytest.mark.parametrize("text", PAYLOADS)
def test_rendered_markdown_never_carries_a_payload(text: str) -> None:
    assert executable_markup(render_markdown(text, link_base="/articles/en")) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(wrapped, min_size=1, max_size=4).map("\n\n".join))
def test_rendered_markdown_of_mixed_content_is_safe(body: str) -> None:
    assert executable_markup(render_markdown(body, link_base="/articles/en")) == []


def test_checker_sees_raw_payloads() -> None:
    """The checker itself: most payloads, unescaped, are found (so a missing escape fails the tests)."""
    found = sum(1 for p in PAYLOADS if executable_markup(p))
    assert found >= 80


def test_hostile_article_page_and_results_are_inert(hostile_app) -> None:
    client = hostile_app.test_client()
    page = client.get("/articles/en/hostile-printer")
    assert page.status_code == 200
    assert page_problems(page) == []
    assert "&lt;script&gt;alert(" in page.get_data(as_text=True)  # the title is shown, escaped
    results = client.get("/search?q=printer+offline+try+this+first")
    assert "hostile-printer" in results.get_data(as_text=True)
    assert page_problems(results) == []
    api = client.get("/api/v1/search?q=printer+offline+try+this+first").get_json()
    assert any(hit["id"] == "en/hostile-printer" for hit in api["hits"])
    login_staff(hostile_app, client, "agent")
    for path in ("/console/articles/en/hostile-printer", "/console/search?q=printer+offline"):
        assert page_problems(client.get(path)) == [], path


def test_queries_are_escaped_everywhere(hostile_app) -> None:
    client = hostile_app.test_client()
    token = csrf_token(client)

    @settings(max_examples=25, deadline=None)
    @given(query=wrapped)
    def check(query: str) -> None:
        for path in ("/search", "/contact", "/articles/en/password-reset"):
            assert page_problems(client.get(path, query_string={"q": query})) == [], path
        posted = client.post("/search", data={"q": query, "csrf_token": token}, follow_redirects=True)
        assert page_problems(posted) == []

    check()


def test_ticket_fields_are_escaped_for_customer_and_agent(hostile_app) -> None:
    client = hostile_app.test_client()
    token = csrf_token(client)
    agent = hostile_app.test_client()
    login_staff(hostile_app, agent, "agent")

    examples = itertools.count(1)

    @settings(max_examples=15, deadline=None)
    @given(name=wrapped, details=wrapped, query=wrapped)
    def check(name: str, details: str, query: str) -> None:
        # Each example from its own customer: one address and one email would soon meet the ticket limits.
        n = next(examples)
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n % 250}"
        described = client.post("/contact", data={"q": "printer " + query, "csrf_token": token})
        assert described.status_code == 303
        search_id = re.search(r"s=(\d+)", described.headers["Location"]).group(1)
        sent = client.post(
            "/contact/send",
            data={
                "s": search_id,
                "name": name[:100],
                "email": f"ana{n}@example.com",
                "details": details,
                "availability": name[:50],
                "csrf_token": token,
            },
        )
        assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
        assert page_problems(client.get(sent.headers["Location"])) == []
        reference = re.search(r"/tickets/(KB-[^?]+)", sent.headers["Location"]).group(1)
        assert page_problems(agent.get(f"/console/tickets/{reference}")) == []

    check()
    assert page_problems(agent.get("/console/")) == []


def test_agent_notes_and_customer_replies_are_escaped(hostile_app) -> None:
    reference, ticket_token = make_ticket(hostile_app, contact_name=PAYLOADS[0], query=PAYLOADS[20])
    customer = hostile_app.test_client()
    token = csrf_token(customer)
    agent = hostile_app.test_client()
    login_staff(hostile_app, agent, "agent", role="agent-L3")
    agent_token = csrf_token(agent)
    for text in PAYLOADS[:30]:
        customer.post(
            f"/tickets/{reference}/reply", data={"t": ticket_token, "message": text, "csrf_token": token}
        )
        agent.post(f"/console/tickets/{reference}/note", data={"note": text, "csrf_token": agent_token})
    assert page_problems(agent.get(f"/console/tickets/{reference}")) == []
    assert page_problems(customer.get(f"/tickets/{reference}", query_string={"t": ticket_token})) == []
