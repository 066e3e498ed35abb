"""'Email me when it is fixed' on a known issue's banner, through the web app: the link on the banner, the
page in both languages, a bad address refused with what was typed kept, a proposal never shown."""

from __future__ import annotations

from sqlalchemy import select

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.models import ProblemWatch
from tests.apps import app_problem
from tests.conftest import csrf_token


def problem_in(app, status: str = "open") -> int:
    banners = {"en": "The VPN is down.", "fr": "Le VPN est en panne."} if status == "open" else None
    return app_problem(app, title="VPN outage", banners=banners)


def watches(app) -> list[tuple[str, str | None]]:
    with make_session_factory(app.extensions["kb_engine"])() as session:
        return [(w.email, w.lang) for w in session.scalars(select(ProblemWatch))]


def test_the_banner_links_to_email_me_when_it_is_fixed_and_the_address_is_kept_once(app, client) -> None:
    problem = problem_in(app)
    home = client.get("/").get_data(as_text=True)
    assert "The VPN is down." in home and f'href="/known-issues/{problem}"' in home
    page = client.get(f"/known-issues/{problem}")
    assert page.status_code == 200 and "Email me when it is fixed" in page.get_data(as_text=True)
    token = csrf_token(client, f"/known-issues/{problem}")
    bad = client.post(f"/known-issues/{problem}/watch", data={"csrf_token": token, "email": "vic at example"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "does not look right" in html and 'value="vic at example"' in html
    for _ in range(2):
        sent = client.post(
            f"/known-issues/{problem}/watch", data={"csrf_token": token, "email": "vic@example.com"}
        )
        assert sent.status_code == 303 and sent.headers["Location"].endswith(
            f"/known-issues/{problem}?watching=1"
        )
    assert "we will send you one email" in client.get(sent.headers["Location"]).get_data(as_text=True)
    assert watches(app) == [("vic@example.com", "en")]


def test_the_known_issue_page_in_french(app, client) -> None:
    problem = problem_in(app)
    html = client.get(f"/known-issues/{problem}?lang=fr").get_data(as_text=True)
    assert "Le VPN est en panne." in html and "Me prévenir par e-mail quand ce sera résolu" in html
    token = csrf_token(client, f"/known-issues/{problem}")
    client.post(f"/known-issues/{problem}/watch", data={"csrf_token": token, "email": "zoe@example.com"})
    assert watches(app) == [("zoe@example.com", "fr")]  # told in French when it is fixed


def test_a_proposed_problem_is_not_a_page_and_takes_no_address(app, client) -> None:
    problem = problem_in(app, status="proposed")
    assert client.get(f"/known-issues/{problem}").status_code == 404
    token = csrf_token(client)
    refused = client.post(
        f"/known-issues/{problem}/watch", data={"csrf_token": token, "email": "vic@example.com"}
    )
    assert refused.status_code == 404 and watches(app) == []
