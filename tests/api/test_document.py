"""What /api/v1/openapi.json states, checked directly: one error envelope for every operation, the headers of
its errors, limits that follow the settings, and links that really lead from a created ticket onwards."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ERROR = {"$ref": "#/components/schemas/Error"}


def document(app: Any) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = doc["components"][section][name]
    return node


def test_every_error_of_every_operation_is_the_one_envelope(api_app) -> None:
    doc = document(api_app)
    envelope = doc["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"] and envelope["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    body = doc["components"]["schemas"]["ErrorBody"]
    assert (
        set(body["required"]) == {"code", "message", "status"}
        and body["properties"]["status"]["type"] == "integer"
    )
    found = operations(doc)
    assert {op["operationId"] for _, _, op in found} == {
        "search",
        "getArticle",
        "createTicket",
        "getTicket",
        "replyToTicket",
        # The staff API (token-authenticated, issue 18).
        "staffListTickets",
        "staffGetTicket",
        "staffAddNote",
        "staffAssign",
        "staffEscalate",
        "staffResolve",
        "staffClose",
    }
    for path, method, op in found:
        assert "default" in op["responses"], (method, path)
        for status, response in op["responses"].items():
            if status == "default" or int(status) >= 400:
                response = resolve(doc, response)
                assert response["content"]["application/json"]["schema"] == ERROR, (method, path, status)
                if status in ("429", "503"):
                    assert response["headers"]["Retry-After"]["required"] is True


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH"])
def test_methods_an_api_path_does_not_answer_get_405_with_allow(api_app, method: str) -> None:
    client = api_app.test_client()
    for path, item in document(api_app)["paths"].items():
        concrete = path.replace("{lang}", "en").replace("{slug}", "password-reset")
        concrete = concrete.replace("{reference}", "KB-000001")
        response = client.open(concrete, method=method)
        assert response.status_code == 405, (method, concrete)
        allowed = {m.strip().lower() for m in response.headers["Allow"].split(",")}
        assert set(item) & METHODS <= allowed, (concrete, allowed)
        assert response.get_json()["error"] == {
            "code": "method_not_allowed",
            "message": "The method is not allowed for the requested URL.",
            "status": 405,
        }


def test_unavailable_index_answers_503_with_retry_after(api_app, monkeypatch) -> None:
    from kb_engine.errors import IndexMissing

    def missing() -> None:
        raise IndexMissing("no index: run kb index")

    monkeypatch.setattr("web.api.get_searcher", missing)
    response = api_app.test_client().get("/api/v1/search", query_string={"q": "printer"})
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "index_missing"


def test_query_limit_in_the_document_is_the_setting(
    tmp_path: Path, articles_dir: Path, hashing_index: Path
) -> None:
    """KB_MAX_QUERY_CHARS=300: the document says 300 and the server refuses the 301st character."""
    from web import close_app, create_app

    app = create_app(
        {
            "ARTICLES_DIR": str(articles_dir),
            "INDEX_DIR": str(hashing_index),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "MODEL": "hashing",
            "MAX_QUERY_CHARS": 300,
            "TESTING": True,
        }
    )
    try:
        doc = document(app)
        q = next(p for p in doc["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "q")
        assert q["schema"]["maxLength"] == 300 and q["required"] is True
        assert doc["components"]["schemas"]["NewTicket"]["properties"]["query"]["maxLength"] == 300
        client = app.test_client()
        assert client.get("/api/v1/search", query_string={"q": "x" * 300}).status_code == 200
        too_long = client.get("/api/v1/search", query_string={"q": "x" * 301})
        assert too_long.status_code == 422 and "300" in too_long.get_json()["error"]["message"]
        ticket = {"query": "y" * 301, "email": "ana@example.com"}
        assert client.post("/api/v1/tickets", json=ticket).status_code == 422
    finally:
        close_app(app)


def evaluate(expression: str, request: dict[str, Any], response: dict[str, Any]) -> Any:
    """An OpenAPI runtime expression of the few forms the document uses."""
    if match := re.fullmatch(r"\$response\.body#/(\w+)", expression):
        return response[match[1]]
    if match := re.fullmatch(r"\$request\.(path|query)\.(\w+)", expression):
        return request[match[1]][match[2]]
    if match := re.fullmatch(r"\$request\.body#/(\w+)", expression):
        return request["body"][match[1]]
    raise AssertionError(f"unexpected expression {expression}")


def follow(client, doc, link: dict[str, Any], request: dict[str, Any], answer: dict[str, Any]):
    """Calls the operation a link names with the values it carries; returns (request, response)."""
    target = next(
        (path, method, op) for path, method, op in operations(doc) if op["operationId"] == link["operationId"]
    )
    path, method, op = target
    locations = {
        p["name"]: p["in"] for p in doc["paths"][path].get("parameters", []) + op.get("parameters", [])
    }
    sent: dict[str, Any] = {"path": {}, "query": {}, "body": None}
    for name, expression in link["parameters"].items():
        sent[locations[name]][name] = evaluate(expression, request, answer)
    if "requestBody" in link:
        sent["body"] = {k: evaluate(v, request, answer) for k, v in link["requestBody"].items()}
        sent["body"]["message"] = "Still broken after the restart"
    url = path.format(**sent["path"])
    response = client.open(url, method=method.upper(), query_string=sent["query"], json=sent["body"])
    return sent, response


def test_links_lead_from_a_created_ticket_to_reading_and_answering_it(api_app) -> None:
    doc = document(api_app)
    client = api_app.test_client()
    body = {"query": "payroll app gives bad gateway 502", "email": "ana@example.com"}
    created = client.post("/api/v1/tickets", json=body)
    assert created.status_code == 201
    create_links = doc["paths"]["/api/v1/tickets"]["post"]["responses"]["201"]["links"]
    assert set(create_links) == {"getTicket", "replyToTicket"}
    first = {"path": {}, "query": {}, "body": body}
    read_request, read = follow(client, doc, create_links["getTicket"], first, created.get_json())
    assert read.status_code == 200 and read.get_json()["reference"] == created.get_json()["reference"]
    read_links = doc["paths"]["/api/v1/tickets/{reference}"]["get"]["responses"]["200"]["links"]
    reply_request, replied = follow(client, doc, read_links["replyToTicket"], read_request, read.get_json())
    assert replied.status_code == 201
    assert replied.get_json()["history"][-1]["text"] == "You replied: Still broken after the restart"
    reply_links = doc["paths"]["/api/v1/tickets/{reference}/replies"]["post"]["responses"]["201"]["links"]
    _, again = follow(client, doc, reply_links["getTicket"], reply_request, replied.get_json())
    assert again.status_code == 200 and len(again.get_json()["history"]) == 2
    _, direct = follow(client, doc, create_links["replyToTicket"], first, created.get_json())
    assert direct.status_code == 201
