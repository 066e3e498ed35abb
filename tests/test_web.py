"""Customer pages and the JSON API, against a real index and a real SQLite ticket store."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import csrf_token


def db_rows(app, sql: str) -> list[tuple]:
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def search(client, query: str):
    return client.post("/search", data={"q": query, "csrf_token": csrf_token(client)}, follow_redirects=True)


def test_home_page_has_the_search_box(client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'name="q"' in page.get_data(as_text=True)


def test_answered_search_shows_ranked_articles_and_opens_no_ticket(client, app) -> None:
    page = search(client, "I forgot my password")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index("Reset a forgotten password") < html.index("Account locked")
    assert "Still need help?" not in html
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]
    assert db_rows(app, "SELECT query, answered FROM search_log") == [("I forgot my password", 1)]


def test_out_of_scope_search_is_logged_as_a_ticket(client, app) -> None:
    page = search(client, "recipe for a chocolate cake")
    assert "Still need help?" in page.get_data(as_text=True)
    rows = db_rows(app, "SELECT reference, source, query, status, tier, shown FROM ticket")
    assert len(rows) == 1
    reference, source, query, status, tier, shown = rows[0]
    assert reference.startswith("KB-") and source == "search_miss" and status == "new" and tier == "L1"
    assert query == "recipe for a chocolate cake"
    assert '"score"' in shown  # the articles shown, with their scores


def test_still_need_help_adds_contact_and_shows_reference(client, app) -> None:
    search(client, "recipe for a chocolate cake")
    (reference,) = db_rows(app, "SELECT reference FROM ticket")[0]
    form = client.get(f"/help/{reference}")
    assert form.status_code == 200
    token = csrf_token(client, f"/help/{reference}")
    bad = client.post(f"/help/{reference}", data={"csrf_token": token, "name": "Ana", "details": "urgent"})
    assert bad.status_code == 400 and "email address or a phone" in bad.get_data(as_text=True)
    assert 'value="Ana"' in bad.get_data(as_text=True)  # what the customer typed is kept
    done = client.post(
        f"/help/{reference}",
        data={
            "csrf_token": token,
            "name": "Ana Silva",
            "email": "ana@example.com",
            "availability": "mornings",
        },
        follow_redirects=True,
    )
    assert done.status_code == 200 and reference in done.get_data(as_text=True)
    assert db_rows(app, "SELECT contact_name, contact_email, availability FROM ticket") == [
        ("Ana Silva", "ana@example.com", "mornings")
    ]
    assert db_rows(app, "SELECT email FROM contact") == [("ana@example.com",)]


def test_help_page_of_someone_elses_ticket_is_not_found(client, app) -> None:
    search(client, "recipe for a chocolate cake")
    (reference,) = db_rows(app, "SELECT reference FROM ticket")[0]
    other = app.test_client()
    assert other.get(f"/help/{reference}").status_code == 404
    assert other.get(f"/tickets/{reference}?t=wrong").status_code == 404


def test_article_page_renders_markdown_with_feedback(client) -> None:
    page = client.get("/articles/en/password-reset")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Reset a forgotten password</h1>" in html
    assert "<ol>" in html or "<ul>" in html
    assert "Did this solve your problem?" in html
    assert 'hreflang="fr"' in html


def test_internal_article_is_not_served_to_customers(client) -> None:
    assert client.get("/articles/en/escalation-procedure").status_code == 404
    assert client.get("/api/v1/articles/en/escalation-procedure").status_code == 404


def test_not_helpful_asks_why_and_opens_a_ticket_only_on_contact_support(client, app) -> None:
    page = search(client, "I forgot my password")
    (search_id,) = db_rows(app, "SELECT id FROM search_log")[0]
    assert page.status_code == 200
    token = csrf_token(client, f"/articles/en/password-reset?s={search_id}")
    response = client.post(
        "/articles/en/password-reset/feedback",
        data={"csrf_token": token, "helped": "no", "s": str(search_id)},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#feedback")
    assert db_rows(app, "SELECT article_id, kind FROM feedback") == [("en/password-reset", "not_helpful")]
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]  # nothing filed yet
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "What was wrong?" in html and 'value="did_not_work"' in html
    assert f"?s={search_id}" in html.split("These articles may help instead")[1]  # next-best of that search
    reason = client.post(
        "/articles/en/password-reset/reason",
        data={"csrf_token": token, "reason": "did_not_work", "s": str(search_id)},
    )
    assert reason.status_code == 303
    assert db_rows(app, "SELECT reason FROM feedback") == [("did_not_work",)]
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]
    bad = client.post("/articles/en/password-reset/reason", data={"csrf_token": token, "reason": "<x>"})
    assert bad.status_code == 400 and db_rows(app, "SELECT reason FROM feedback") == [("did_not_work",)]
    contact = client.post(
        "/articles/en/password-reset/contact", data={"csrf_token": token, "s": str(search_id)}
    )
    assert contact.status_code == 303 and "/help/KB-" in contact.headers["Location"]
    rows = db_rows(app, "SELECT source, query, search_id FROM ticket")
    assert rows == [("not_helpful", "I forgot my password", search_id)]


def test_authors_see_why_an_article_did_not_help(client, app) -> None:
    from tests.conftest import login_staff

    token = csrf_token(client, "/articles/en/password-reset")
    for reason in ("outdated", "outdated", "hard_to_follow"):
        client.post("/articles/en/password-reset/feedback", data={"csrf_token": token, "helped": "no"})
        client.post("/articles/en/password-reset/reason", data={"csrf_token": token, "reason": reason})
    login_staff(app, client, "ada", role="author")
    html = client.get("/authors/articles/en/password-reset").get_data(as_text=True)
    assert re.search(r'data-reason="outdated"><td>It is out of date</td><td class="num">2<', html)
    assert re.search(r'data-reason="hard_to_follow">.*?<td class="num">1<', html)


def test_solved_counts_and_proposes_the_query_to_authors(client, app) -> None:
    search(client, "cant get into my account i forgot the code")
    (search_id,) = db_rows(app, "SELECT id FROM search_log")[0]
    token = csrf_token(client)
    client.post(
        "/articles/en/password-reset/feedback", data={"csrf_token": token, "helped": "yes", "s": search_id}
    )
    assert db_rows(app, "SELECT kind FROM feedback") == [("solved",)]
    assert db_rows(app, "SELECT article_id, query, status FROM question_candidate") == [
        ("en/password-reset", "cant get into my account i forgot the code", "pending")
    ]
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_forms_without_csrf_token_are_refused(client, app) -> None:
    response = client.post("/search", data={"q": "recipe for a chocolate cake"})
    assert response.status_code == 400
    assert db_rows(app, "SELECT count(*) FROM ticket") == [(0,)]


def test_api_search_contract(client) -> None:
    response = client.get("/api/v1/search", query_string={"q": "printer offline", "k": 3})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) >= {"query", "answered", "confidence", "hits"}
    assert data["query"] == "printer offline" and data["answered"] is True
    assert len(data["hits"]) == 3
    hit = data["hits"][0]
    assert (
        hit["id"] == "en/printer-offline"
        and hit["lang"] == "en"
        and hit["url"] == "/articles/en/printer-offline"
    )
    assert isinstance(hit["score"], float) and hit["title"] == "Printer offline"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "x", "k": 0}, "k"),
        ({"q": "x", "k": "many"}, "k"),
        ({"q": "y" * 5000}, "q"),
        ({"q": " "}, "q"),
    ],
)
def test_api_search_bad_input_is_a_clear_4xx_json(client, params, field) -> None:
    """Refused by the document's own rules (KB_MAX_QUERY_CHARS included): 422, saying which field."""
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "unprocessable_entity" and list(error["fields"]) == [field]
    assert error["message"].startswith(f"invalid request: {field}: ")


def test_api_article(client) -> None:
    data = client.get("/api/v1/articles/fr/printer-offline").get_json()
    assert data["id"] == "fr/printer-offline" and data["lang"] == "fr"
    assert data["html"].startswith("<") and "en/printer-offline" in data["translations"]
    missing = client.get("/api/v1/articles/en/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_html_errors_are_pages_not_tracebacks(client) -> None:
    page = client.get("/articles/en/does-not-exist")
    assert page.status_code == 404 and "<html" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_healthz(client) -> None:
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok" and data["articles"] > 0


def test_ticket_store_is_a_real_sqlite_file_in_wal_mode(app) -> None:
    path = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    assert path.is_file()
    assert db_rows(app, "PRAGMA journal_mode") == [("wal",)]
