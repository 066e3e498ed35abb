"""Self-service that deflects: the contact form that tries articles first, suggestions' logging, known
issues on the form, the widget's CORS, the interface in French and English."""

from __future__ import annotations

import html
import re

import pytest
from babel.messages.extract import extract_from_dir

from kb_engine.helpdesk.db import make_session_factory
from kb_engine.helpdesk.models import Problem
from kb_engine.search.searcher import SearchResponse
from tests.catalogues import compiled_differs, untranslated
from tests.conftest import ROOT, csrf_token
from tests.test_web import db_rows

WEB = ROOT / "web"
CATALOG = WEB / "translations" / "fr" / "LC_MESSAGES"


def describe(client, text: str):
    """Step 1 of "Contact support": the description, posted."""
    return client.post("/contact", data={"q": text, "csrf_token": csrf_token(client, "/contact")})


def open_problem(app, query: str, banner: str) -> None:
    with make_session_factory(app.extensions["kb_engine"])() as session:
        session.add(Problem(title="VPN outage", query=query, banner=banner, status="open"))
        session.commit()


# -- "Contact support" tries first ----------------------------------------------------------------------
def test_contact_form_asks_for_the_description_first(client) -> None:
    html = client.get("/contact").get_data(as_text=True)
    assert 'name="q"' in html and 'for="description"' in html
    assert 'name="email"' not in html  # the contact fields come only after the articles


def test_contact_form_shows_the_best_articles_then_the_contact_fields(client, app) -> None:
    response = describe(client, "my printer says offline")
    assert response.status_code == 303 and "/contact?s=" in response.headers["Location"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert html.index("Printer offline") < html.index("This solved it") < html.index('name="email"')
    assert db_rows(app, "SELECT query, channel FROM search_log") == [("my printer says offline", "form")]
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]  # a description alone is no ticket


def test_solved_from_the_contact_form_is_a_form_deflection_and_opens_no_ticket(client, app) -> None:
    search_id = int(describe(client, "my printer says offline").headers["Location"].split("s=")[1])
    done = client.post(
        "/contact/solved",
        data={"csrf_token": csrf_token(client), "s": search_id, "article": "en/printer-offline"},
        follow_redirects=True,
    )
    assert "Glad it is solved!" in done.get_data(as_text=True)
    assert db_rows(app, "SELECT article_id, kind, channel, search_id FROM feedback") == [
        ("en/printer-offline", "solved", "form", search_id)
    ]
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_article_opened_from_the_contact_form_counts_its_view_and_solved_as_form(client, app) -> None:
    search_id = int(describe(client, "my printer says offline").headers["Location"].split("s=")[1])
    token = csrf_token(client, f"/articles/en/printer-offline?s={search_id}")
    client.post(
        "/events/view", json={"article": "en/printer-offline", "s": search_id}, headers={"X-CSRFToken": token}
    )
    client.post(
        "/articles/en/printer-offline/feedback", data={"csrf_token": token, "helped": "yes", "s": search_id}
    )
    assert db_rows(app, "SELECT kind, channel, search_id FROM feedback ORDER BY id") == [
        ("view", "form", search_id),
        ("solved", "form", search_id),
    ]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "The details field is 10,001 characters long; the limit is 10,000."),
        ("fr", "Le champ « détails » fait 10\u202f001 caractères ; la limite est de 10\u202f000."),
    ],
)
def test_form_errors_are_in_the_interface_language(client, lang: str, expected: str) -> None:
    client.get(f"/?lang={lang}")
    location = describe(client, "my printer says offline").headers["Location"]
    search_id = int(location.split("s=")[1])
    token = csrf_token(client, location)
    form = {"csrf_token": token, "s": search_id, "email": "ana@example.com", "details": "x" * 10_001}
    bad = client.post("/contact/send", data=form)
    assert bad.status_code == 400
    assert expected in html.unescape(bad.get_data(as_text=True))


def test_database_errors_are_in_the_interface_language(app) -> None:
    from kb_engine.errors import StoreUnavailable
    from web.i18n import error_text

    busy = StoreUnavailable("the ticket database is busy", key="store_busy")
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        assert error_text(busy).startswith("La base des demandes est occupée ; rien n'a été perdu")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert error_text(busy).startswith("The ticket database is busy; nothing was lost")


def test_none_helped_sends_a_ticket_with_the_description_and_what_was_shown(client, app) -> None:
    location = describe(client, "my printer says offline").headers["Location"]
    search_id = int(location.split("s=")[1])
    token = csrf_token(client, location)
    bad = client.post("/contact/send", data={"csrf_token": token, "s": search_id, "name": "Ana"})
    assert bad.status_code == 400 and 'value="Ana"' in bad.get_data(as_text=True)
    sent = client.post(
        "/contact/send",
        data={
            "csrf_token": token,
            "s": search_id,
            "name": "Ana Silva",
            "email": "ana@example.com",
            "phone": "01 23 45 67 89",
            "availability": "mornings",
            "details": "HP in room 2.14",
        },
    )
    assert sent.status_code == 303 and "created=1" in sent.headers["Location"]
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Your request was sent to support" in page
    assert "by email at ana@example.com" in page and "by phone at 01 23 45 67 89" in page
    assert "We aim to answer within 1 day, Monday to Friday, 8:00–18:00." in page  # P3's first response
    ((source, query, sid, email, phone, availability, details, shown),) = db_rows(
        app,
        "SELECT source, query, search_id, contact_email, contact_phone, availability, details, shown"
        " FROM ticket",
    )
    assert (source, query, sid) == ("contact_form", "my printer says offline", search_id)
    assert (email, phone, availability, details) == (
        "ana@example.com",
        "01 23 45 67 89",
        "mornings",
        "HP in room 2.14",
    )
    assert "en/printer-offline" in shown


def test_contact_steps_of_someone_elses_search_start_over(client, app) -> None:
    search_id = int(describe(client, "my printer says offline").headers["Location"].split("s=")[1])
    other = app.test_client()
    assert 'name="email"' not in other.get(f"/contact?s={search_id}").get_data(as_text=True)
    response = other.post(
        "/contact/send", data={"csrf_token": csrf_token(other), "s": search_id, "email": "m@example.net"}
    )
    assert response.status_code == 303 and db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_known_issue_shows_on_the_contact_form_and_in_suggestions(client, app) -> None:
    banner = "Known issue: VPN outage. We are on it."
    open_problem(app, "the VPN does not connect, it fails for everyone", banner)
    location = describe(client, "VPN cannot connect").headers["Location"]
    assert banner in client.get(location).get_data(as_text=True)
    data = client.get(
        "/api/v1/search", query_string={"q": "VPN cannot connect", "known_issues": 1}
    ).get_json()
    assert data["known_issue"]["banner"] == banner
    assert "known_issue" not in client.get("/api/v1/search", query_string={"q": "vpn"}).get_json()
    assert client.get("/api/v1/search?q=printer+offline&known_issues=1").get_json()["known_issue"] is None


def test_out_of_scope_shows_where_to_go_instead_of_a_ticket_offer(client, app, monkeypatch) -> None:
    redirect = {"family": "hr-leave", "title": "Leave and absences", "message": "Use the HR portal."}
    monkeypatch.setattr(
        "web.customer.customer_search",
        lambda q, **_: SearchResponse(query=q, answered=False, confidence=0.1, redirect=redirect),
    )
    page = client.post(
        "/search", data={"q": "book holiday", "csrf_token": csrf_token(client)}, follow_redirects=True
    )
    html = page.get_data(as_text=True)
    assert "Use the HR portal." in html and "Still need help?" not in html
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]
    form = client.get(describe(client, "book holiday").headers["Location"]).get_data(as_text=True)
    assert "Use the HR portal." in form and "<details" in form  # contact fields still reachable


# -- suggestions ----------------------------------------------------------------------------------------
def test_suggestions_never_write(client, app) -> None:
    data = client.get("/api/v1/search", query_string={"q": "printer offl", "k": 5, "ui": "en"}).get_json()
    assert data["hits"][0]["id"] == "en/printer-offline"
    assert db_rows(app, "SELECT count(*) FROM search_log") == [(0,)]


@pytest.mark.parametrize("channel", ["web", "form", "widget"])
def test_opening_a_suggestion_logs_its_search_under_its_channel(client, app, channel) -> None:
    token = csrf_token(client, f"/articles/en/printer-offline?ch={channel}&q=printer+offline")
    answer = client.post(
        "/events/view",
        json={"article": "en/printer-offline", "ch": channel, "q": "printer offline"},
        headers={"X-CSRFToken": token},
    ).get_json()
    assert db_rows(app, "SELECT id, query, channel FROM search_log") == [
        (answer["s"], "printer offline", channel)
    ]
    assert db_rows(app, "SELECT kind, channel, search_id FROM feedback") == [("view", channel, answer["s"])]


def test_solved_from_an_email_link_counts_as_email(client, app) -> None:
    token = csrf_token(client, "/articles/en/printer-offline?ch=email")
    client.post(
        "/articles/en/printer-offline/feedback", data={"csrf_token": token, "helped": "yes", "ch": "email"}
    )
    client.post(
        "/articles/en/printer-offline/feedback", data={"csrf_token": token, "helped": "yes", "ch": "evil"}
    )
    assert db_rows(app, "SELECT channel FROM feedback ORDER BY id") == [("email",), ("web",)]


# -- widget and CORS ------------------------------------------------------------------------------------
@pytest.fixture()
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "CORS_ORIGINS": "https://intranet.example.com"}


@pytest.mark.parametrize("path", ["/api/v1/search?q=printer", "/static/widget.js", "/static/suggest.js"])
def test_allowed_origin_may_use_the_search_api_and_the_widget(client, path) -> None:
    with client.get(path, headers={"Origin": "https://intranet.example.com"}) as allowed:
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://intranet.example.com"
        assert "Origin" in allowed.headers["Vary"]
    with client.get(path, headers={"Origin": "https://evil.example.net"}) as other:
        assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]


def test_cors_stays_off_everywhere_else(client) -> None:
    for path in ("/", "/api/v1/articles/en/printer-offline", "/healthz"):
        response = client.get(path, headers={"Origin": "https://intranet.example.com"})
        assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("name", ["widget.js", "suggest.js", "app.js"])
def test_scripts_need_no_unsafe_csp(name: str) -> None:
    source = (WEB / "static" / name).read_text(encoding="utf-8")
    for unsafe in ("eval(", "new Function", "innerHTML", "insertAdjacentHTML", "document.write", ".style."):
        assert unsafe not in source


def test_widget_strings_exist_in_both_languages() -> None:
    source = (WEB / "static" / "widget.js").read_text(encoding="utf-8")
    blocks = re.findall(r"\n    (en|fr): \{(.*?)\n    \}", source, re.S)
    keys = {lang: set(re.findall(r"(?:^|,|\{)\s*(\w+):", body, re.M)) for lang, body in blocks}
    assert set(keys) == {"en", "fr"} and keys["en"] == keys["fr"]


# -- languages ------------------------------------------------------------------------------------------
def test_language_follows_the_browser_then_the_switch(client) -> None:
    french = client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="fr">' in french and "Comment pouvons-nous vous aider" in french
    switched = client.get("/?lang=en", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in switched and "How can we help?" in switched
    kept = client.get("/contact", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Contact support" in kept  # the switch is remembered in the session
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)


def test_dates_are_localised(client, app) -> None:
    location = describe(client, "my printer says offline").headers["Location"]
    token = csrf_token(client, location)
    sent = client.post(
        "/contact/send",
        data={"csrf_token": token, "s": location.split("s=")[1], "email": "ana@example.com"},
    )
    french = client.get(sent.headers["Location"] + "&lang=fr").get_data(as_text=True)
    assert "Nous avons reçu votre demande." in french
    assert re.search(r"<time datetime=\"[^\"]+\">\d{1,2} \w+\.? \d{4}", french)  # e.g. 3 mars 2026, 09:12:00


def test_interface_language_puts_its_translation_first_when_the_query_is_ambiguous(client) -> None:
    french = client.get("/search?q=VPN&lang=fr").get_data(as_text=True)
    english = client.get("/search?q=VPN&lang=en").get_data(as_text=True)
    assert "/articles/fr/vpn-cannot-connect" in french and "/articles/en/vpn-cannot-connect" in english


def _template_messages() -> set[str]:
    method_map = [
        ("customer.py", "python"),
        ("helpcentre.py", "python"),
        ("contact_form.py", "python"),
        ("__init__.py", "python"),
        ("i18n.py", "python"),
        ("templates/*.html", "jinja2"),
    ]
    return {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(str(WEB), method_map)
    }


def test_every_customer_facing_string_has_a_french_translation() -> None:
    missing = untranslated(CATALOG / "messages.po", _template_messages())
    assert not missing, "add to web/translations/fr/LC_MESSAGES/messages.po: " + "; ".join(missing)


def test_compiled_catalog_matches_the_po_file() -> None:
    assert not compiled_differs(CATALOG / "messages.po"), "run: .venv/bin/pybabel compile -d web/translations"
