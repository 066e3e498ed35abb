"""Scaling out: two stateless app servers (the production set-up: nginx in front of gunicorn, each) on
loopback, sharing one PostgreSQL ticket store and one read-only index directory that a single indexer
publishes.

A ticket opened through one server is visible and editable through the other, and a new index build
reaches both without a restart.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.build import build_index
from kb_engine.search.embedding import HashingEmbedder
from tests.conftest import copy_sample
from tests.production import need_nginx
from tests.tickets.conftest import fresh_postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, as a URL both app servers use."""
    with fresh_postgres_schema("scale") as url:
        yield url


def _build(articles: Path, index_dir: Path, *, force: bool = False) -> str:
    report = build_index(
        articles,
        index_dir,
        model="hashing",
        embedder_factory=HashingEmbedder,
        progress=False,
        force=force,
    )
    assert report.build_id
    return report.build_id


class Server:
    """One production app server (web/production.py: nginx + gunicorn) on a loopback port."""

    def __init__(self, name: str, tmp: Path, env: dict[str, str]) -> None:
        from web.production import ProductionPair

        instance = tmp / f"instance-{name}"  # nothing shared on disk but the index directory
        self.pair = ProductionPair({**env, "KB_INSTANCE_DIR": str(instance)}, prefix=tmp / f"nginx-{name}")
        self.pair.start()
        self.port = self.pair.port

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 120.0) -> None:
        self.pair.wait_ready(timeout)

    def stop(self) -> None:
        self.pair.stop()


@pytest.fixture(scope="module")
def two_servers(
    tmp_path_factory: pytest.TempPathFactory, pg_schema_url: str
) -> Iterator[tuple[Server, Server, Path, Path]]:
    """Both servers, started once for this module's tests (each start loads an app and an index)."""
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("gunicorn is not installed in this environment")
    need_nginx()
    tmp_path = tmp_path_factory.mktemp("scale-out")
    articles = copy_sample(tmp_path / "articles")
    index_dir = tmp_path / "index"
    _build(articles, index_dir)
    env = {
        **os.environ,
        "KB_INDEX_DIR": str(index_dir),
        "KB_DATABASE_URL": pg_schema_url,
        "KB_MODEL": "hashing",
        "KB_SECRET_KEY": "shared-by-every-app-server",
        "KB_SESSION_COOKIE_SECURE": "false",
        "KB_WEB_WORKERS": "1",
        "KB_WEB_THREADS": "2",
    }
    servers: list[Server] = []
    try:
        # Started together on an empty schema: they migrate it one at a time (advisory lock).
        servers = [Server(name, tmp_path, env) for name in ("a", "b")]
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1], articles, index_dir
    finally:
        for server in servers:
            server.stop()


def test_ticket_opened_on_one_server_is_visible_and_editable_on_the_other(two_servers) -> None:
    a, b, _articles, _index = two_servers
    status, created = a.request(
        "POST",
        "/api/v1/tickets",
        {"query": "the printer on the 2nd floor is offline", "email": "ada@example.com", "name": "Ada"},
    )
    assert status == 201, created
    reference, token = created["reference"], created["token"]

    status, seen = b.request("GET", f"/api/v1/tickets/{reference}?t={token}")
    assert status == 200, seen
    assert seen["reference"] == reference

    status, replied = b.request(
        "POST",
        f"/api/v1/tickets/{reference}/replies",
        {"t": token, "message": "It is the HP one by the lift"},
    )
    assert status == 201, replied

    status, again = a.request("GET", f"/api/v1/tickets/{reference}?t={token}")
    assert status == 200
    assert any("HP one by the lift" in json.dumps(event) for event in again["history"]), again["history"]

    # References come from the database's sequence: the two servers never hand out the same one.
    status, second = b.request("POST", "/api/v1/tickets", {"query": "wifi is down", "phone": "555-0100"})
    assert status == 201
    assert second["reference"] != reference


def test_a_published_index_build_reaches_every_server(two_servers) -> None:
    a, b, articles, index_dir = two_servers
    before = {a.request("GET", "/healthz")[1]["build_id"], b.request("GET", "/healthz")[1]["build_id"]}
    assert len(before) == 1

    # The one indexer publishes a new build into the directory both servers read.
    page = articles / "en" / "password-reset.md"
    page.write_text(page.read_text("utf-8") + "\nAlso works from the company phone app.\n", "utf-8")
    new_build = _build(articles, index_dir)
    assert new_build not in before

    deadline = time.monotonic() + 30
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        seen = {name: s.request("GET", "/healthz")[1]["build_id"] for name, s in (("a", a), ("b", b))}
        if set(seen.values()) == {new_build}:
            break
        time.sleep(0.3)
    assert seen == {"a": new_build, "b": new_build}
    status, result = b.request("GET", "/api/v1/search?q=password%20phone%20app")
    assert status == 200 and result["hits"]
