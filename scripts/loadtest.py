"""Load generator for kb-engine (stdlib only, loopback only, bounded time). Run by scripts/loadtest.sh.

Three phases against a running server:
  1. peak:      closed loop, `--peak-clients` clients as fast as they can for `--peak-seconds`: the peak rate.
  2. sustained: open loop at half the peak rate for `--sustained-seconds`; latency is measured from the moment
                each request was due (no coordinated omission). Target: 0 errors, p99 under 150 ms.
  3. clients:   closed loop, 64 clients for `--clients-seconds`. Target: 0 errors.
Queries are the eval set's, sent to the JSON API and the HTML results page. Prints a JSON report and
exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The project's one percentile definition (nearest rank), from a module that needs only the standard
# library: this script runs without the project's dependencies installed.
sys.path.insert(0, str(ROOT))
from kb_engine.bench.measure import percentile  # noqa: E402


def load_paths(limit: int = 400) -> list[str]:
    with (ROOT / "eval" / "queries.tsv").open(encoding="utf-8") as fh:
        queries = [row["query"] for row in csv.DictReader(fh, delimiter="\t") if row["query"]]
    rng = random.Random(7)
    rng.shuffle(queries)
    paths = []
    for i, q in enumerate(queries[:limit]):
        base = "/api/v1/search" if i % 4 else "/search"  # three JSON searches for one HTML page
        paths.append(f"{base}?{urllib.parse.urlencode({'q': q})}")
    return paths


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> int:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("GET", path)
                response = self.conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed while idle: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ok(self, path: str) -> bool:
        """Whether a GET of path answered 200 (a refused or broken connection is an error too)."""
        try:
            return self.get(path) == 200
        except OSError:
            return False


def run_threads(target, count: int) -> None:
    """`target(n)` in `count` threads at once, n = 0 .. count-1; returns when all are done."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> dict[str, object]:
    ms = [x * 1000 for x in latencies]
    return {
        "phase": name,
        "requests": len(ms) + errors,
        "errors": errors,
        "seconds": round(seconds, 1),
        "rate": round(len(ms) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else None,
    }


def closed_loop(host: str, port: int, paths: list[str], clients: int, seconds: float, name: str):
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        client = Client(host, port)
        i = n
        local, bad = [], 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            if client.ok(paths[i % len(paths)]):
                local.append(time.perf_counter() - started)
            else:
                bad += 1
            i += clients
        with lock:
            latencies.extend(local)
            errors[0] += bad

    begin = time.perf_counter()
    run_threads(worker, clients)
    return summary(name, latencies, errors[0], time.perf_counter() - begin)


def warm_up(host: str, port: int, paths: list[str], clients: int) -> None:
    """Every client sends every path once. Each client keeps one connection, which stays with one server
    worker, so with enough clients every worker answers every query once: each worker's search cache then
    holds what the measured phases will ask, whichever worker they reach (otherwise the first seconds of a
    later phase pay for the cache misses of the worker that had not seen a query yet)."""

    def worker(n: int) -> None:
        client = Client(host, port)
        start = n * len(paths) // clients
        for i in range(len(paths)):
            client.ok(paths[(start + i) % len(paths)])  # the warm-up only fills caches; phases count errors

    run_threads(worker, clients)


def open_loop(host: str, port: int, paths: list[str], rate: float, seconds: float, threads: int = 32):
    """Requests due at a fixed rate, handed to a pool; latency counts from the moment each was due."""
    latencies: list[float] = []
    lags: list[float] = []  # how late the generator sent each request: its own health, not the server's
    errors = [0]
    lock = threading.Lock()
    interval = 1.0 / rate
    total = int(rate * seconds)
    begin = time.perf_counter()
    next_index = [0]

    def worker(_n: int) -> None:
        client = Client(host, port)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= total:
                return
            due = begin + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            ok = client.ok(paths[i % len(paths)])
            with lock:
                lags.append(sent - due)
                if ok:
                    latencies.append(time.perf_counter() - due)
                else:
                    errors[0] += 1

    run_threads(worker, threads)
    report = summary("sustained", latencies, errors[0], time.perf_counter() - begin)
    report["send_lag_p99_ms"] = round(percentile([x * 1000 for x in lags], 99), 1)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--peak-clients", type=int, default=16)
    parser.add_argument("--peak-seconds", type=float, default=20)
    parser.add_argument("--sustained-seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--clients-seconds", type=float, default=60)
    parser.add_argument("--sustained-threads", type=int, default=64)
    parser.add_argument("--p99-ms", type=float, default=150)
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="the server runs without its search cache (KB_SEARCH_CACHE_SIZE=0): a short warm-up is enough",
    )
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    if url.hostname not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("the load test only targets a server on this machine (loopback)")
    host, port = url.hostname or "127.0.0.1", url.port or 80
    paths = load_paths()
    if args.uncached:
        closed_loop(host, port, paths, 4, 3, "warm-up")
    else:
        warm_up(host, port, paths, args.peak_clients)
    peak = closed_loop(host, port, paths, args.peak_clients, args.peak_seconds, "peak")
    sustained = open_loop(
        host, port, paths, max(1.0, float(peak["rate"]) / 2), args.sustained_seconds, args.sustained_threads
    )
    many = closed_loop(host, port, paths, args.clients, args.clients_seconds, f"{args.clients}-clients")
    ok = (
        sustained["errors"] == 0
        and float(sustained["p99_ms"]) < args.p99_ms
        and many["errors"] == 0
        and peak["errors"] == 0
    )
    report = {"ok": ok, "search_cache": not args.uncached, "phases": [peak, sustained, many]}
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
