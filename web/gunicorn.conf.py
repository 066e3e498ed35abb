"""Production server settings: `gunicorn -c web/gunicorn.conf.py 'web:create_app()'`.

Sized so that model threads x workers x searches computed at once never exceed the cores: one worker
process per core, one native thread per worker for the model (ONNX Runtime or torch), BLAS and FAISS, and
one search computed at a time per worker (`KB_SEARCH_SLOTS=1`, kb_engine/search/admission.py). The
request threads (8 by default) serve pages, cached answers and I/O; searches beyond the slot wait in a
bounded queue and, past `KB_SEARCH_WAIT_SECONDS`, get a fast 503 with Retry-After instead of slowing
every request (issue 19: with 4 threads all computing, 32 clients got a third less than 8).

The app is not preloaded: each worker loads the embedding model after the fork (torch does not survive
a fork well), while the index files are memory-mapped read-only, so the workers share those pages instead
of each holding a copy. The master does import the app's modules and load the language detector's models
before forking (no thread is started by either), so the workers share those pages too: 252 -> 162 MB PSS per
worker measured on the shipped KB with two workers (issue 19). Each worker answers one warm-up query before
it takes traffic, so no customer waits for the model to load.

Every value can be overridden on the command line or with `GUNICORN_CMD_ARGS`, and `KB_WEB_WORKERS` /
`KB_WEB_THREADS` set the two counts.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from kb_engine.search.threads import thread_env

# Read by native libraries when they load: set before any worker imports numpy or torch.
thread_env(1)
os.environ.setdefault("KB_MODEL_THREADS", "1")

# Prometheus multiprocess mode (kb_engine/ops/metrics.py): every worker writes its counts to this folder and
# `/metrics` adds them up. Set before any worker imports prometheus_client; emptied at each start (stale
# files of a previous run would count twice); a folder made here is removed on exit.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kb-metrics-")
for _stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
    _stale.unlink()

bind = os.environ.get("KB_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("KB_WEB_WORKERS") or max(1, os.cpu_count() or 1))
worker_class = "gthread"
threads = int(os.environ.get("KB_WEB_THREADS") or 8)
preload_app = False  # the model loads after fork, in each worker
keepalive = 5
timeout = 60
graceful_timeout = 20
max_requests = 0  # the searcher and the model are the expensive part of a worker: keep them
accesslog = None
# gunicorn's runtime control socket has one default path per user: several servers on one machine (or a
# test starting two) would share it. Nothing here uses it.
control_socket_disable = True
errorlog = "-"
loglevel = "info"

log = logging.getLogger("kb_engine.gunicorn")


def _preload_shared() -> None:
    """Import the app's modules and build the language detector in the master, before the fork."""
    import web  # noqa: F401
    import web.resources  # noqa: F401
    from kb_engine.search.language import warm_up

    warm_up()


def on_starting(server):  # noqa: ARG001 - gunicorn's hook signature
    """Bring the database schema up to date once, in the master, before any worker starts (workers that
    start together would otherwise all migrate a new SQLite file at once)."""
    from kb_engine.config import load_settings
    from kb_engine.helpdesk.db import make_engine, upgrade
    from kb_engine.ops import logs

    settings = load_settings()
    _preload_shared()
    logs.configure(settings["LOG_FORMAT"])  # JSON lines on stderr; the workers inherit it
    engine = make_engine(settings["DATABASE_URL"])
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """One native thread per worker for BLAS and FAISS, whatever the libraries would pick by themselves
    (the model, on ONNX Runtime or torch, gets KB_MODEL_THREADS=1 when the worker loads it)."""
    from kb_engine.search.threads import limit_all

    limit_all(1)


def post_worker_init(worker):
    """Load the index and the model and answer one query before taking traffic (first query is warm)."""
    app = worker.wsgi
    started = time.perf_counter()
    try:
        with app.app_context():
            from web.resources import get_searcher

            searcher = get_searcher()
            observer, searcher.on_search = searcher.on_search, None  # the warm-up is no customer's search
            try:
                searcher.search("password reset warm-up", use_cache=False)
            finally:
                searcher.on_search = observer
        worker.log.info(
            "worker %s warm in %.1fs (build %s, model on %s)",
            worker.pid,
            time.perf_counter() - started,
            searcher.build_id,
            searcher.health()["model_runtime"],
        )
    except Exception as exc:  # noqa: BLE001 - a worker without an index still serves pages and /healthz
        worker.log.warning("worker %s not warmed: %s", worker.pid, exc)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """A dead worker's gauges leave the live figures (its counters stay: they were counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # noqa: ARG001 - gunicorn's hook signature
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
