"""One check of a customer's email address, inside the ticket service: the form, the API and
`kb tickets create` refuse the same address with the same message and keep nothing of it.
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from kb_engine.cli.main import cli
from kb_engine.helpdesk.models import Ticket, TicketContact
from kb_engine.helpdesk.tickets.rules import BAD_EMAIL
from tests.conftest import csrf_token

BAD = ["ana.example.com", "ana@", "ana@exa mple.com", "ana@@example.com", "ana@example.com, bob@example.com"]


def _tickets(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Ticket))


@pytest.mark.parametrize("email", BAD)
def test_bad_email_is_refused_alike_by_form_api_and_cli(client, runner, session, db_url, email) -> None:
    client.post("/search", data={"q": "recipe for a chocolate cake", "csrf_token": csrf_token(client)})
    (reference,) = session.scalars(select(Ticket.reference)).all()  # the miss, before any contact
    token = csrf_token(client, f"/help/{reference}")
    form = client.post(f"/help/{reference}", data={"csrf_token": token, "name": "Ana", "email": email})
    assert form.status_code == 400
    page = html.unescape(form.get_data(as_text=True))
    assert BAD_EMAIL in page and f'value="{email}"' in page  # what the customer typed is kept

    api = client.post("/api/v1/tickets", json={"query": "payroll is down", "email": email})
    # The API's document states the rule (a pattern within this check): refused as a 422, same words.
    assert api.status_code == 422 and api.get_json()["error"]["fields"] == {"email": [BAD_EMAIL]}

    cli_run = runner.invoke(
        cli, ["tickets", "--database", db_url, "create", "--query", "payroll is down", "--email", email]
    )
    assert cli_run.exit_code == 2 and BAD_EMAIL in cli_run.output and "Traceback" not in cli_run.output

    assert _tickets(session) == 1
    assert session.scalar(select(func.count()).select_from(TicketContact)) == 0


def test_form_says_it_in_french(client, session) -> None:
    client.get("/?lang=fr")
    client.post("/search", data={"q": "recette de gâteau au chocolat", "csrf_token": csrf_token(client)})
    (reference,) = session.scalars(select(Ticket.reference)).all()
    token = csrf_token(client, f"/help/{reference}")
    form = client.post(f"/help/{reference}", data={"csrf_token": token, "email": "ana.example.com"})
    assert form.status_code == 400
    assert "Cette adresse e-mail" in html.unescape(form.get_data(as_text=True))


@pytest.mark.parametrize("email", ["ana@example.com", "élodie@exemple.fr", "ana@corp.local", "a+b@x.org"])
def test_good_email_is_kept(client, runner, session, db_url, email) -> None:
    api = client.post("/api/v1/tickets", json={"query": "payroll is down", "email": email})
    assert api.status_code == 201, api.get_json()
    args = ["tickets", "--database", db_url, "create", "--query", "payroll is down", "--email", f" {email} "]
    made = runner.invoke(cli, args)
    assert made.exit_code == 0, made.output
    session.expire_all()
    assert session.scalars(select(Ticket.contact_email)).all() == [email, email]
