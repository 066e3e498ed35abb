"""Hostile input answered at the right depth: tokens outside their alphabet, deep or malformed JSON, extreme
dashboard dates, formulas in CSV cells; and private ticket pages and API answers never cached."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from tests.conftest import csrf_token, login_staff
from tests.security.conftest import make_ticket

CSRF_META = re.compile(r'name="csrf-token" content="[^"]*"')  # signed with the time: differs per page
BAD_TOKENS = ["é" * 32, "jeton-😀", "tok\u0000en", "a" * 500, "abc def", "abc%2F..%2F"]


def _reference_pair(app: Any) -> tuple[str, str, str]:
    """(existing reference, its token, a reference that does not exist)."""
    reference, token = make_ticket(app, contact_email="li@example.com")
    return reference, token, "KB-999999"


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_a_token_outside_the_alphabet_is_the_same_404_as_a_wrong_one(hostile_app, bad: str) -> None:
    app = hostile_app
    client = app.test_client()
    reference, _token, missing = _reference_pair(app)
    csrf = csrf_token(client)
    answers = {}
    for ref in (reference, missing, "KB-ÉÉ", "x" * 300):
        page = client.get(f"/tickets/{ref}", query_string={"t": bad})
        reply = client.post(f"/tickets/{ref}/reply", data={"csrf_token": csrf, "t": bad, "message": "hello"})
        api = client.get(f"/api/v1/tickets/{ref}", query_string={"t": bad})
        api_reply = client.post(f"/api/v1/tickets/{ref}/replies", json={"t": bad, "message": "hello"})
        answers[ref] = [
            (r.status_code, CSRF_META.sub("", r.get_data(as_text=True).replace(ref, "REF")))
            for r in (page, reply, api, api_reply)
        ]
        # Pages: the 404 of a wrong link. The API: 404, or the 422 its schema gives a token that cannot
        # be one (web/openapi.py), before any lookup. Never a 500.
        statuses = [status for status, _ in answers[ref]]
        assert statuses[:2] == [404, 404] and set(statuses[2:]) <= {404, 422}, (ref, answers[ref])
    # An existing reference and a made-up one answer alike: nothing tells which exists.
    assert [status for status, _ in answers[reference]] == [status for status, _ in answers[missing]]
    api_bodies = [body for _status, body in answers[reference][2:]]
    assert api_bodies == [body for _status, body in answers[missing][2:]]


def test_private_ticket_pages_and_the_ticket_api_are_never_stored(hostile_app) -> None:
    app = hostile_app
    client = app.test_client()
    reference, token, missing = _reference_pair(app)
    responses = [
        client.get(f"/tickets/{reference}", query_string={"t": token}),
        client.get(f"/tickets/{missing}", query_string={"t": token}),
        client.get(f"/api/v1/tickets/{reference}", query_string={"t": token}),
        client.get(f"/api/v1/tickets/{missing}", query_string={"t": token}),
        client.post(f"/api/v1/tickets/{reference}/replies", json={"t": token, "message": "more"}),
        client.post("/api/v1/tickets", json={"query": "printer jam", "email": "ada@example.com"}),
    ]
    for response in responses:
        assert response.headers.get("Cache-Control") == "no-store", (
            response.request.path,
            response.status_code,
        )
    # Public pages stay cacheable.
    assert client.get("/").headers.get("Cache-Control") != "no-store"


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "body",
    [DEEP, '{"query": ' + "[" * 50 + "]" * 50 + "}", '{"query": "unterminated', "\xff\xfe{", "{'single': 1}"],
    ids=["100k-deep", "50-deep", "unterminated", "not-utf8", "single-quotes"],
)
def test_malformed_or_too_deep_json_is_a_400_everywhere(hostile_app, body: str) -> None:
    app = hostile_app
    client = app.test_client()
    reference, token, _missing = _reference_pair(app)
    data = body.encode("latin-1") if body.startswith("\xff") else body.encode()
    headers = {"Content-Type": "application/json", "X-CSRFToken": csrf_token(client)}
    for path in ("/api/v1/tickets", f"/api/v1/tickets/{reference}/replies", "/events/view"):
        response = client.post(path, data=data, headers=headers)
        assert response.status_code == 400, (
            path,
            response.status_code,
            response.get_data(as_text=True)[:200],
        )
    assert client.get(f"/api/v1/tickets/{reference}", query_string={"t": token}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "9999-12-31", "to": "9999-12-31"},
        {"to": "0001-01-10"},
        {"from": "2026-13-45"},
    ],
)
def test_extreme_dashboard_dates_are_a_400(hostile_app, query: dict[str, str]) -> None:
    client = hostile_app.test_client()
    login_staff(hostile_app, client, "lead", role="admin")
    for path in ("/console/dashboard", "/console/dashboard.json", "/console/dashboard.csv"):
        assert client.get(path, query_string=query).status_code == 400, (path, query)


def test_every_csv_cell_is_neutralised_whatever_the_separator(hostile_app) -> None:
    app = hostile_app
    customer = app.test_client()
    token = csrf_token(customer)
    hostile = [
        '=HYPERLINK("http://evil.example","x")',
        'printer;=cmd|"/c calc"!A1',
        "wifi, +SUM(1;2)",
        "vpn\t@SUM(1)",
        "mail;  -2+3",
    ]
    for query in hostile:
        assert customer.post("/search", data={"csrf_token": token, "q": query}).status_code == 303
    staff = app.test_client()
    login_staff(app, staff, "lead", role="admin")
    text = staff.get("/console/dashboard.csv").get_data(as_text=True)
    assert "hyperlink" in text and "cmd|" in text  # the queries are there (normalised)...
    for delimiter in (",", ";", "\t"):
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            for cell in row:
                cell = cell.strip().strip('"').strip()
                try:
                    float(cell)
                    continue  # a number
                except ValueError:
                    pass
                assert cell[:1] not in {"=", "+", "-", "@"}, (delimiter, cell)  # ...never as formulas
