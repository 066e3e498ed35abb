"""Bad input: the article parser and the search endpoints get garbage, and answer with clear messages.

The parser never raises anything but ArticleError (the other articles are still indexed); the search
endpoints answer 2xx, 3xx or 4xx, never 500, whatever the query.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb_engine.content.articles import scan_articles
from tests.conftest import csrf_token

GOOD = """---
title: Good article
lang: en
---

This one is fine.
"""

front_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "!!python/object/apply:os.system ['touch {canary}']",
            "!!python/object/new:os.system ['touch {canary}']",
            "!!python/name:os.system",
            "&a [*a, *a]",
            "*undefined_alias",
            "{unclosed: ",
            "[1, 2",
            "2026-13-45",
            "!!binary aGVsbG8=",
            "~",
            "| \n  block",
            "\t tab",
        ]
    ),
)
front_keys = st.sampled_from(["title", "lang", "tags", "audience", "category", "questions", "updated", "x"])


@st.composite
def article_bytes(draw) -> bytes:
    lines = [f"{draw(front_keys)}: {draw(front_values)}" for _ in range(draw(st.integers(0, 5)))]
    text = "---\n" + "\n".join(lines) + "\n---\n" + draw(st.text(max_size=200))
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    raw = text.encode("utf-8", "surrogatepass")
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"]))
    suffix = draw(st.one_of(st.just(b""), st.binary(max_size=40)))
    return prefix + raw + suffix


def write(root: Path, name: str, data: bytes) -> Path:
    path = root / "en" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=article_bytes())
def test_parser_survives_garbage_and_keeps_the_good_articles(tmp_path: Path, data: bytes) -> None:
    canary = tmp_path / "pwned"
    root = tmp_path / "kb"
    write(root, "good.md", GOOD.encode())
    write(root, "fuzzed.md", data.replace(b"{canary}", str(canary).encode()))
    result = scan_articles(root)  # raises nothing but returns problems
    assert "en/good" in {a.id for a in result.articles}
    for problem in result.problems:
        assert problem.path.endswith("fuzzed.md") and problem.reason
    assert not canary.exists()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("tag.md", b"---\ntitle: !!python/object/apply:os.system ['true']\n---\nbody\n", "YAML"),
        ("binary.md", b"---\ntitle: x\n---\n\x00\x01\x02", "binary"),
        ("latin1.md", "---\ntitle: café\n---\ncafé\n".encode("latin-1"), "UTF-8"),
        ("nofront.md", b"just text\n", "front matter"),
        ("broken.md", b"---\ntitle: [unclosed\n---\nbody\n", "YAML"),
        ("huge.md", b"---\ntitle: big\n---\n" + b"a" * (10 * 1024 * 1024), "limit"),
    ],
)
def test_bad_files_get_a_clear_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    write(tmp_path, "good.md", GOOD.encode())
    write(tmp_path, name, data)
    result = scan_articles(tmp_path)
    assert [a.id for a in result.articles] == ["en/good"]
    assert len(result.problems) == 1 and reason in result.problems[0].reason, result.problems


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    write(tmp_path, "good.md", b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    result = scan_articles(tmp_path)
    assert [a.title for a in result.articles] == ["Good article"] and not result.problems


def test_files_outside_the_root_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.md"
    outside.write_text(GOOD.replace("Good article", "Secret"))
    root = tmp_path / "kb"
    write(root, "good.md", GOOD.encode())
    os.symlink(outside, root / "en" / "link.md")
    (root / "en" / "sub").mkdir()
    os.symlink(tmp_path, root / "en" / "sub" / "up")  # a folder link: not followed
    result = scan_articles(root)
    assert [a.title for a in result.articles] == ["Good article"]
    assert any("outside the articles root" in p.reason for p in result.problems)


SCRIPTS = (
    "Ünïcödé façade",
    "пароль не работает",
    "كلمة المرور",
    "パスワードを忘れました",
    "密码忘记了",
    "비밀번호",
    "पासवर्ड भूल गया",
    "סיסמה",
    "Κωδικός",
    "🔑🖨️💥",
    "\u202eevil\u202c",
    "a\u0301\u0301\u0301",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
)


def assert_answered(response) -> None:
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize(
    "query",
    ["", " ", "\t\n\r", "\x00", "\x00\x01\x1f\x7f", "%00", "a" * 2001, "x" * (1024 * 1024), *SCRIPTS],
    ids=lambda q: repr(q[:12]) + f"-{len(q)}",
)
def test_search_endpoints_answer_every_query_without_a_500(hashing_app, query: str) -> None:
    client = hashing_app.test_client()
    for path in ("/search", "/api/v1/search", "/contact"):
        assert_answered(client.get(path, query_string={"q": query}))
    token = csrf_token(client)
    for path in ("/search", "/contact"):
        assert_answered(client.post(path, data={"q": query, "csrf_token": token}))
    if len(query) > 2000:
        api = client.get("/api/v1/search", query_string={"q": query})
        assert api.status_code in (413, 414, 422)  # 422: over KB_MAX_QUERY_CHARS, as the document says
        assert "error" in api.get_json()


def test_over_long_input_gets_a_clear_4xx(hashing_app) -> None:
    client = hashing_app.test_client()
    token = csrf_token(client)
    page = client.get("/search", query_string={"q": "printer " * 400})
    assert page.status_code == 400 and "at most" in page.get_data(as_text=True)
    started = time.perf_counter()
    huge = client.get("/search", query_string={"q": "printer " * 130_000})  # 1 MB
    assert huge.status_code == 400
    assert time.perf_counter() - started < 5, "a huge query must be refused before any costly work"
    body = client.post("/search", data={"q": "x" * (1024 * 1024), "csrf_token": token})
    assert body.status_code == 413
    api = client.post("/api/v1/tickets", json={"query": "printer", "details": "d" * 20000})
    assert api.status_code in (400, 422) and "error" in api.get_json()
    described = client.post("/contact", data={"q": "printer broken", "csrf_token": token})
    search_id = described.headers["Location"].rsplit("s=", 1)[1]
    sent = client.post(
        "/contact/send",
        data={"s": search_id, "email": "ana@example.com", "name": "n" * 500, "csrf_token": token},
    )
    assert sent.status_code == 400 and "ana@example.com" in sent.get_data(as_text=True)


def test_search_fuzz(hashing_app) -> None:
    client = hashing_app.test_client()

    @settings(max_examples=60, deadline=None)
    @given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
    def check(query: str) -> None:
        assert_answered(client.get("/search", query_string={"q": query}))
        api = client.get("/api/v1/search", query_string={"q": query})
        assert_answered(api)
        assert api.is_json

    check()
