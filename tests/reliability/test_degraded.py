"""Without the model or the vector file the server still starts and answers lexically; /healthz says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb_engine.search.index_files import current_build
from tests.conftest import csrf_token
from web import close_app


def vectors_file(index: Path) -> Path:
    return current_build(index) / "vectors.faiss"


def assert_lexical_answers(app) -> None:
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["status"] == "degraded" and health.get_json()["degraded"] is True
    page = client.get("/search?q=I+forgot+my+password")
    assert page.status_code == 200
    # The title, with the query's words marked (<mark>) by the results page.
    assert "Reset a forgotten password" in re.sub(r"</?mark>", "", page.get_data(as_text=True))
    api = client.get("/api/v1/search?q=I+forgot+my+password").get_json()
    assert api["degraded"] is True and api["hits"][0]["id"] == "en/password-reset"
    # A miss still opens a ticket (no similarity linking without the model).
    missed = client.post(
        "/search", data={"q": "recipe for a chocolate cake", "csrf_token": csrf_token(client)}
    )
    assert missed.status_code == 303


def test_healthy_server_says_ok(hashing_app) -> None:
    health = hashing_app.test_client().get("/healthz").get_json()
    assert health["status"] == "ok" and health["vectors"] is True


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "empty"])
def test_missing_or_corrupt_vector_file_serves_lexical_results(hashing_app, own_index: Path, damage) -> None:
    path = vectors_file(own_index)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(
            {"garbage": b"not a faiss index" * 10, "truncated": data[: len(data) // 2]}.get(damage, b"")
        )
    assert_lexical_answers(hashing_app)
    assert hashing_app.test_client().get("/healthz").get_json()["vectors"] is False


def test_model_that_cannot_load_serves_lexical_results(hashing_app, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(name: str, **_: object):
        raise OSError(f"model {name} not found on this machine")

    monkeypatch.setattr("kb_engine.search.searcher.load_embedder", no_model)
    assert_lexical_answers(hashing_app)
    health = hashing_app.test_client().get("/healthz").get_json()
    assert health["model_loaded"] is False and "not found" in health["model_error"]


def test_missing_index_answers_503_not_500(tmp_path: Path, articles_dir: Path) -> None:
    from tests.reliability.conftest import make_app

    app = make_app(tmp_path, articles_dir, tmp_path / "no-index")
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 503
        page = client.get("/search?q=printer")
        assert page.status_code == 503, page.status_code
        assert client.get("/").status_code == 200
    finally:
        close_app(app)
