"""HTTP load against the production server (gunicorn with web/gunicorn.conf.py) and its memory."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kb_engine.bench.measure import HTTP_LEVELS, ROOT, free_port, percentiles


# -- HTTP against the production server ------------------------------------------------------------------
def gunicorn_command(port: int) -> list[str]:
    """The production server command (README), bound to a loopback port."""
    config = str(ROOT / "web" / "gunicorn.conf.py")
    return [sys.executable, "-m", "gunicorn", "-c", config, "--bind", f"127.0.0.1:{port}", "web:create_app()"]


@contextlib.contextmanager
def production_server(
    index_dir: Path,
    workdir: Path,
    model: str,
    workers: int,
    model_env: dict[str, str] | None = None,
    instance: str = "instance",
    log_name: str = "gunicorn.log",
) -> Iterator[tuple[int, int]]:
    """gunicorn with web/gunicorn.conf.py on a free loopback port; yields (port, master pid)."""
    port = free_port()
    env = {
        **os.environ,
        **(model_env or {}),
        "KB_INDEX_DIR": str(index_dir),
        "KB_MODEL": model,
        "KB_INSTANCE_DIR": str(workdir / instance),
        "KB_DATABASE_URL": f"sqlite:///{workdir / instance / 'kb.sqlite3'}",
        "KB_SECRET_KEY": "bench",
        "KB_WEB_WORKERS": str(workers),
    }
    log = open(workdir / log_name, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        gunicorn_command(port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def wait_ready(port: int, workers: int, log: Path, timeout: float = 180.0) -> float:
    """Seconds until the server answers and every worker has logged its warm-up query."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        warm = log.read_text(errors="replace").count(" warm in ") if log.exists() else 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()  # an unread response keeps the socket open after close()
            if response.status == 200 and warm >= workers:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} was not ready within {timeout:.0f}s (see {log})")


def load(
    port: int, queries: Sequence[str], clients: int, *, seconds: float, max_requests: int, k: int
) -> dict[str, Any]:
    """`clients` threads, each with a keep-alive connection, sending searches until the time or the
    request budget is spent. Loopback only. A 503 with Retry-After is the server's deliberate refusal
    under overload (`refused`, not an error); anything else but a 200 is an error."""
    latencies: list[float] = []
    errors = [0]
    refused = [0]
    sent = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = offset
        while time.perf_counter() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            q = queries[i % len(queries)]
            i += clients
            path = f"/api/v1/search?q={urllib.parse.quote(q)}&k={k}"
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
                refusal = response.status == 503 and response.getheader("Retry-After") is not None
            except (OSError, http.client.HTTPException):
                ok = refusal = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                elif refusal:
                    refused[0] += 1
                else:
                    errors[0] += 1
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    stats = percentiles(latencies)
    return {
        "clients": clients,
        "requests": len(latencies) + errors[0] + refused[0],
        "errors": errors[0],
        "refused": refused[0],
        "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": stats["p50"],
        "p99_ms": stats["p99"],
        "seconds": round(wall, 1),
    }


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of `load` as one: counts added, answers per second over their time, the median round's p50
    and the worst round's p99; `rounds_rps` lists each round's."""
    answered = sum(r["requests"] - r["errors"] - r["refused"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    p50s = sorted(r["p50_ms"] for r in rounds)
    return {
        "clients": rounds[0]["clients"],
        "requests": sum(r["requests"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "refused": sum(r["refused"] for r in rounds),
        "rps": round(answered / seconds, 1) if seconds else 0.0,
        "p50_ms": p50s[len(p50s) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "rounds_rps": [r["rps"] for r in rounds],
    }


def process_memory(master: int) -> list[dict[str, float]]:
    """RSS and PSS (shared pages divided among the processes that map them) of each worker, in MB."""
    out = []
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        info: dict[str, float] = {"pid": int(pid)}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss", "Shared_Clean", "Private_Dirty"):
                    info[name.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
        out.append(info)
    return out


def measure_http(
    index_dir: Path,
    workdir: Path,
    model: str,
    queries: Sequence[str],
    *,
    quick: bool,
    model_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    workers = max(1, os.cpu_count() or 1)
    seconds, budget = (3.0, 150) if quick else (15.0, 1500)
    distinct = list(dict.fromkeys(queries))
    model_env: dict[str, str] = {}
    if model_args:
        model_env["KB_MODEL_RUNTIME"] = model_args["runtime"]
        if model_args.get("model_cache"):
            model_env["KB_MODEL_CACHE_DIR"] = model_args["model_cache"]
    budget = min(budget, len(distinct))
    (workdir / "instance-unbatched").mkdir(exist_ok=True)
    with contextlib.ExitStack() as servers:
        port, master = servers.enter_context(production_server(index_dir, workdir, model, workers, model_env))
        ready_s = wait_ready(port, workers, workdir / "gunicorn.log")
        levels = []
        for n, clients in enumerate(HTTP_LEVELS):
            # Each query once, and each level asks for a different k: every request misses the caches.
            levels.append(load(port, distinct, clients, seconds=seconds, max_requests=budget, k=5 + n))
        repeated = load(port, queries[:20], 8, seconds=min(seconds, 5.0), max_requests=budget, k=5)
        repeated["note"] = "20 distinct queries, answered from the cache"
        memory = process_memory(master)
        # What micro-batching gains: a second server with it off (KB_SEARCH_BATCH=1), the same 32 uncached
        # clients on each in alternate rounds, so that a load drifting during the run weighs on both alike.
        off_env = {**model_env, "KB_SEARCH_BATCH": "1"}
        off_port, _ = servers.enter_context(
            production_server(
                index_dir, workdir, model, workers, off_env, instance="instance-unbatched", log_name="off.log"
            )
        )
        wait_ready(off_port, workers, workdir / "off.log")
        rounds: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for r in range(3):
            for name, p in (("on", port), ("off", off_port)):
                rounds[name].append(load(p, distinct, 32, seconds=seconds / 3, max_requests=budget, k=20 + r))
    batching = {name: combined(results) for name, results in rounds.items()}
    return {
        "workers": workers,
        "ready_s": round(ready_s, 1),
        "levels": levels,
        "batching_32": batching,
        "repeated": repeated,
        "memory": memory,
    }
