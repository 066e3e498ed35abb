"""Behind nginx (deploy/nginx.conf, web/production.py: both real, on loopback), what nginx refuses itself
under /api/ still answers what the OpenAPI document declares: the error envelope as JSON, and Retry-After on
a 429. Pages keep their plain-text refusals."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.production import new_client_address, served_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # 5 requests a second (burst 10) per address and bodies up to 300 KB, to see nginx refuse.
    with served_pair(tmp_path_factory.mktemp("prod-api"), rate=5, burst=10, max_body="300k") as running:
        yield running


def call(
    pair, method: str, path: str, body: bytes | None = None, *, source: str
) -> tuple[int, bytes, dict[str, str]]:
    """A request from the loopback address `source` (nginx's limits count per address: a new address has
    its whole burst allowance, without waiting for it to come back)."""
    conn = http.client.HTTPConnection(pair.host, pair.port, timeout=30, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def error_schema(pair) -> Any:
    """The document's own `Error` schema, as served through nginx (fetched before any flood)."""
    import jsonschema_rs

    status, body, _ = call(pair, "GET", "/api/v1/openapi.json", source=new_client_address())
    assert status == 200
    document = json.loads(body)
    return jsonschema_rs.validator_for(
        {"$ref": "#/components/schemas/Error", "components": document["components"]}
    )


def assert_declared_error(schema, status: int, body: bytes, headers: dict[str, str], expected: int) -> None:
    assert status == expected and headers["content-type"].startswith("application/json"), (status, headers)
    schema.validate(json.loads(body))
    assert json.loads(body)["error"]["status"] == expected


def test_api_requests_over_the_rate_get_the_json_envelope_with_retry_after(pair, error_schema) -> None:
    source = new_client_address()
    search = "/api/v1/search?" + urllib.parse.urlencode({"q": "printer offline"})
    answers = [call(pair, "GET", search, source=source) for _ in range(30)]
    statuses = [status for status, _, _ in answers]
    assert statuses[0] == 200 and 429 in statuses, statuses
    status, body, headers = next(a for a in answers if a[0] == 429)
    assert_declared_error(error_schema, status, body, headers, 429)
    assert int(headers["retry-after"]) >= 1
    source = new_client_address()
    page = [call(pair, "GET", "/healthz", source=source) for _ in range(30)]
    refused = next(a for a in page if a[0] == 429)
    assert refused[2]["content-type"].startswith("text/plain") and b"Too many requests" in refused[1]


def test_api_bodies_over_nginx_limit_get_the_json_envelope(pair, error_schema) -> None:
    source = new_client_address()
    huge = json.dumps({"query": "printer", "email": "ana@example.com", "details": "d" * 400_000}).encode()
    status, body, headers = call(pair, "POST", "/api/v1/tickets", body=huge, source=source)
    assert_declared_error(error_schema, status, body, headers, 413)
    # Between the app's 256 KB and nginx's limit, the app itself refuses: the same envelope.
    middle = json.dumps({"query": "printer", "email": "ana@example.com", "details": "d" * 270_000}).encode()
    status, body, headers = call(pair, "POST", "/api/v1/tickets", body=middle, source=source)
    assert_declared_error(error_schema, status, body, headers, 413)
