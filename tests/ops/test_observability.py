"""Request ids, JSON request logs without personal data, and /metrics (in-process and across gunicorn
workers)."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import re
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kb_engine.ops import logs
from tests.conftest import ROOT, copy_sample


def log_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: dict, name: str, **labels: str) -> float:
    return sum(
        v for (n, ls), v in found.items() if n == name and all((k, w) in ls for k, w in labels.items())
    )


@pytest.fixture()
def boom_app(app):
    @app.route("/boom")
    def boom():
        raise RuntimeError("forced failure")

    return app


@pytest.fixture()
def json_log():
    """The process's logging as the servers set it up (JSON lines), into a buffer; put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    logs.configure("json", stream=buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_forced_error_carries_its_request_id_in_the_header_the_page_and_one_log_line(boom_app, json_log):
    client = boom_app.test_client()
    response = client.get("/boom", headers={"Accept": "text/html"})
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert request_id in response.get_data(as_text=True)
    lines = [line for line in log_lines(json_log.getvalue()) if line.get("request_id") == request_id]
    assert len(lines) == 1, lines
    assert lines[0]["status"] == 500 and lines[0]["route"] == "/boom" and lines[0]["method"] == "GET"


def test_the_proxy_request_id_is_kept_and_a_forged_one_replaced(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "nginx-0123456789abcdef"}).headers["X-Request-ID"]
        == "nginx-0123456789abcdef"
    )
    forged_header = {"X-Request-ID": "<script>alert(1)</script> forged"}
    forged = client.get("/healthz", headers=forged_header).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)


def test_request_log_lines_hold_no_query_text_or_email_by_default(client, json_log):
    client.get("/api/v1/search?q=secretquerytext+printer")
    client.post(
        "/api/v1/tickets", json={"query": "my vpn secretquerytext", "email": "ada.private@example.com"}
    )
    err = json_log.getvalue()
    assert log_lines(err), err
    assert "secretquerytext" not in err and "ada.private@example.com" not in err


def test_metrics_are_refused_to_other_addresses_and_open_with_the_token(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    opened = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-token"})
    assert opened.status_code == 200
    assert client.get("/metrics").status_code == 200  # loopback (the test client's address)


def test_metrics_count_searches_tickets_and_feedback_in_process(client):
    before = samples(client.get("/metrics").get_data(as_text=True))
    client.get("/api/v1/search?q=printer+offline+metrics+one")
    client.get("/api/v1/search?q=printer+offline+metrics+one")  # cached
    created = client.post("/api/v1/tickets", json={"query": "metrics vpn down", "email": "m@example.com"})
    assert created.status_code == 201
    after = samples(client.get("/metrics").get_data(as_text=True))
    assert total(after, "kb_searches_total") - total(before, "kb_searches_total") >= 2
    hits = total(after, "kb_search_cache_total", result="hit") - total(
        before, "kb_search_cache_total", result="hit"
    )
    assert hits == 1
    assert total(after, "kb_tickets_opened_total", source="api") == 1  # a fresh database per test
    assert total(after, "kb_queue_backlog") >= 1
    assert ("kb_index_build_info", ()) not in after  # an info metric has labels
    assert any(n == "kb_index_build_info" for n, _ in after)
    assert total(after, "kb_http_requests_total", route="/api/v1/search", method="GET") >= 2


def test_metrics_add_up_across_two_gunicorn_workers_and_logs_hold_no_personal_data(tmp_path):
    from indexer.build import build_index
    from kb_engine.search.embedding import HashingEmbedder
    from tests.test_scale_out import Server

    articles = copy_sample(tmp_path / "articles")
    index = tmp_path / "index"
    build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    env = {
        **os.environ,
        "KB_ARTICLES_DIR": str(articles),
        "KB_INDEX_DIR": str(index),
        "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'tickets.sqlite3'}",
        "KB_MODEL": "hashing",
        "KB_SESSION_COOKIE_SECURE": "false",
        "KB_WEB_WORKERS": "2",
        "KB_WEB_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    server = Server("metrics", tmp_path, env)
    try:
        server.wait_ready()
        searches = [f"printer offline on floor {n} metricsquery" for n in range(40)]
        errors: list[str] = []

        def run(chunk: list[str]) -> None:
            for query in chunk:
                status, _ = server.request("GET", "/api/v1/search?q=" + query.replace(" ", "+"))
                if status != 200:
                    errors.append(f"{status} {query}")

        threads = [threading.Thread(target=run, args=(searches[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for n in range(3):
            status, _ = server.request(
                "POST",
                "/api/v1/tickets",
                {"query": f"vpn metricsquery {n}", "email": f"private{n}@example.com"},
            )
            assert status == 201
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/metrics")
        reply = conn.getresponse()
        text = reply.read().decode()
        conn.close()
        assert reply.status == 200, text
        found = samples(text)
        assert total(found, "kb_searches_total") == 40 + 3  # an API ticket searches once (the articles shown)
        assert total(found, "kb_http_requests_total", route="/api/v1/search", status="200") == 40
        assert total(found, "kb_tickets_opened_total", source="api") == 3
        writers = {p.stem.rsplit("_", 1)[-1] for p in multiproc.glob("counter_*.db")}
        assert len(writers) >= 2, writers  # both workers counted, and the scrape added them up
    finally:
        server.stop()
    log = server.pair.gunicorn_log.read_text()
    assert any(line.get("route") == "/api/v1/search" for line in log_lines(log)), log[-2000:]
    assert "metricsquery" not in log and "@example.com" not in log


def test_the_shipped_alerts_and_dashboard_use_only_metrics_the_app_exports(client):
    client.get("/api/v1/search?q=printer+offline")
    client.post("/api/v1/tickets", json={"query": "vpn down", "email": "x@example.com"})
    exported = {name for name, _labels in samples(client.get("/metrics").get_data(as_text=True))}
    monitoring = ROOT / "deploy" / "monitoring"
    text = (monitoring / "alerts.yml").read_text() + (monitoring / "grafana-dashboard.json").read_text()
    used = set(re.findall(r"\bkb_[a-z_]+", text))
    assert used and used <= exported, used - exported
