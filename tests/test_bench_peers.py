"""`kb bench` (issue 19): deliberate 503s are counted apart from errors, peers are measured on the same build
and shown as ratios. Functional only: no timing assertions."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kb_engine.bench.http import load
from kb_engine.bench.peers import measure_peers
from kb_engine.bench.run import format_peers
from kb_engine.search.embedding import HashingEmbedder
from kb_engine.search.searcher import Searcher


class Answers(BaseHTTPRequestHandler):
    """Every third request refused with Retry-After, every fifth a server error, the rest answered."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn answers the bench
    count = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with Answers.lock:
            Answers.count += 1
            n = Answers.count
        status = 500 if n % 5 == 0 else 503 if n % 3 == 0 else 200
        body = b'{"hits": []}'
        self.send_response(status)
        if status == 503:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_load_counts_deliberate_refusals_apart_from_errors() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        result = load(server.server_address[1], ["a", "b"], 3, seconds=60.0, max_requests=30, k=5)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    assert result["requests"] == 30
    assert result["errors"] == 6  # 5, 10, ..., 30
    assert result["refused"] == 8  # multiples of 3 that are not multiples of 5
    assert result["requests"] - result["errors"] - result["refused"] == 16


def test_peers_run_on_the_engines_build_interleaved_and_are_shown_as_ratios(hashing_index: Path) -> None:
    searcher = Searcher(hashing_index, model="hashing", embedder=HashingEmbedder())
    queries = ["reset my password", "imprimante hors ligne", "vpn", "wifi"]
    peers = measure_peers(searcher, HashingEmbedder(), "hashing", queries)
    assert {"engine", "floor", "faiss_loop", "bm25s", "txtai"} <= set(peers)
    for name in ("engine", "floor", "faiss_loop", "bm25s"):
        assert peers[name]["query_ms"]["n"] == len(queries)
    assert peers["faiss_loop"]["runtime"] == "hashing"
    row = {
        "size": "shipped",
        "peers": {
            "engine": {"query_ms": {"p50": 6.0, "p99": 9.0}},
            "floor": {"query_ms": {"p50": 2.0, "p99": 4.0}, "runtime": "onnx"},
            "faiss_loop": {"query_ms": {"p50": 12.0, "p99": 20.0}, "runtime": "torch"},
            "bm25s": {"query_ms": {"p50": 0.5, "p99": 1.0}},
            "txtai": {"skipped": "txtai is not installed"},
        },
    }
    table = "\n".join(format_peers(row))
    assert "| floor: one model run (onnx) + one FAISS search | 2.00 | 4.00 | 3.00 |" in table
    assert "| plain FAISS + model loop (torch) | 12.00 | 20.00 | 0.50 |" in table
    assert "| plain bm25s loop (lexical only) | 0.50 | 1.00 | 12.00 |" in table
    assert "txtai: txtai is not installed." in table


def test_alternate_rounds_combine_into_one_row() -> None:
    from kb_engine.bench.http import combined

    keys = ("clients", "requests", "errors", "refused", "rps", "p50_ms", "p99_ms", "seconds")
    rounds = [
        dict(zip(keys, values, strict=True))
        for values in (
            (32, 100, 0, 10, 45.0, 5.0, 9.0, 2.0),
            (32, 60, 1, 0, 29.5, 7.0, 20.0, 2.0),
            (32, 80, 0, 0, 40.0, 6.0, 8.0, 2.0),
        )
    ]
    row = combined(rounds)
    assert (row["requests"], row["errors"], row["refused"]) == (240, 1, 10)
    assert row["rps"] == round(229 / 6.0, 1) and row["p50_ms"] == 6.0 and row["p99_ms"] == 20.0
    assert row["rounds_rps"] == [45.0, 29.5, 40.0]
