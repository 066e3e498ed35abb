"""Merged tickets: each customer sees only what was sent to them or to everyone, with their own name and
reference in it, checked through each customer's own status page; the console says how many customers a
message reaches and lets the agent choose."""

from __future__ import annotations

import html

from tests.conftest import csrf_token, login_staff
from tests.security.conftest import make_ticket


def _page(client, reference: str, token: str) -> str:
    return html.unescape(
        client.get(f"/tickets/{reference}", query_string={"t": token}).get_data(as_text=True)
    )


def test_a_message_on_a_merged_ticket_reaches_each_customer_with_their_own_name(hostile_app) -> None:
    app = hostile_app
    alice, alice_token = make_ticket(app, contact_name="Alice Martin", contact_email="alice@example.com")
    bob, bob_token = make_ticket(app, contact_name="Bob Durand", contact_email="bob@example.com")
    agent = app.test_client()
    login_staff(app, agent, "lead", role="admin")
    token = csrf_token(agent, f"/console/tickets/{alice}")
    merged = agent.post(
        f"/console/tickets/{alice}/merge", data={"csrf_token": token, "others": [bob], "confirm": "yes"}
    )
    assert merged.status_code in (302, 303)

    page = html.unescape(agent.get(f"/console/tickets/{alice}").get_data(as_text=True))
    assert "This request gathers 2 customers" in page
    assert f"Only Bob Durand ({bob})" in page and f"Only Alice Martin ({alice})" in page
    # A canned reply keeps {customer_name} for a request with several customers.
    assert 'data-text="Hello {customer_name},' in page

    sent = agent.post(
        f"/console/tickets/{alice}/ask",
        data={
            "csrf_token": token,
            "message": "Hello {customer_name}, about {reference}: restart the printer.",
        },
    )
    assert sent.status_code in (302, 303)
    assert f"Hello Alice Martin, about {alice}: restart the printer." in _page(
        app.test_client(), alice, alice_token
    )
    bob_page = _page(app.test_client(), bob, bob_token)
    assert f"Hello Bob Durand, about {bob}: restart the printer." in bob_page
    assert "Alice" not in bob_page and f"about {alice}" not in bob_page

    agent.post(
        f"/console/tickets/{alice}/ask",
        data={"csrf_token": token, "message": "Bob, is your printer the HP one?", "to": bob},
    )
    assert "Bob, is your printer the HP one?" in _page(app.test_client(), bob, bob_token)
    alice_page = _page(app.test_client(), alice, alice_token)
    assert "HP one" not in alice_page and "Bob" not in alice_page
    # The API tells the same story.
    api = app.test_client().get(f"/api/v1/tickets/{bob}", query_string={"t": bob_token}).get_json()
    text = str(api["history"])
    assert "Hello Bob Durand" in text and "Alice" not in text


def test_a_message_to_someone_who_is_not_a_customer_of_the_ticket_is_refused(hostile_app) -> None:
    app = hostile_app
    alice, _ = make_ticket(app, contact_name="Alice Martin", contact_email="alice@example.com")
    other, _ = make_ticket(app, contact_name="Carol", contact_email="carol@example.com")
    agent = app.test_client()
    login_staff(app, agent, "lead", role="admin")
    token = csrf_token(agent, f"/console/tickets/{alice}")
    refused = agent.post(
        f"/console/tickets/{alice}/ask", data={"csrf_token": token, "message": "hello", "to": other}
    )
    assert refused.status_code == 400
    assert "not one of the customers" in refused.get_data(as_text=True)
