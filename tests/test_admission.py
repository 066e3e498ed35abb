"""Bounded admission (issue 19): past what the cores can serve, searches wait in a bounded queue and then
get a fast 503 with Retry-After; nothing else fails. Functional only: no timing assertions."""

from __future__ import annotations

import http.client
import json
import shutil
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from kb_engine.search.admission import Admission, Overloaded
from kb_engine.search.searcher import Searcher


def hold_slot(admission: Admission) -> tuple[threading.Event, threading.Event, threading.Thread]:
    """A thread holding one slot until `release` is set; `held` is set once it holds it."""
    held, release = threading.Event(), threading.Event()

    def run() -> None:
        with admission.slot():
            held.set()
            release.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert held.wait(30)
    return held, release, thread


def test_a_free_slot_admits_at_once_and_is_given_back() -> None:
    admission = Admission(slots=2, queue=0)
    with admission.slot(), admission.slot():
        assert admission.state()["running"] == 2
    assert admission.state() == {"running": 0, "waiting": 0, "refused": 0}


def test_no_queue_refuses_when_the_slots_are_taken() -> None:
    admission = Admission(slots=1, queue=0)
    _, release, thread = hold_slot(admission)
    try:
        with pytest.raises(Overloaded) as refused, admission.slot():
            pass
        assert refused.value.status == 503 and refused.value.retry_after == 1
        assert admission.state()["refused"] == 1
    finally:
        release.set()
        thread.join()
    with admission.slot():  # the slot came back
        pass


def test_a_waiter_past_its_deadline_is_refused() -> None:
    admission = Admission(slots=1, queue=4, wait_seconds=0.0)
    _, release, thread = hold_slot(admission)
    try:
        with pytest.raises(Overloaded), admission.slot():
            pass
        assert admission.state()["waiting"] == 0
    finally:
        release.set()
        thread.join()


def test_a_waiter_gets_the_slot_when_it_is_released() -> None:
    admission = Admission(slots=1, queue=1, wait_seconds=60.0)
    _, release, holder = hold_slot(admission)
    got = threading.Event()

    def waiter() -> None:
        with admission.slot():
            got.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    while admission.state()["waiting"] == 0:  # the waiter is in the queue
        threading.Event().wait(0.01)
    assert not got.is_set()
    with pytest.raises(Overloaded), admission.slot():  # the queue (1) is full
        pass
    release.set()
    holder.join()
    thread.join(30)
    assert got.is_set()
    assert admission.state() == {"running": 0, "waiting": 0, "refused": 1}


def test_the_searcher_refuses_uncached_searches_past_capacity_but_answers_cached_ones(hashing_index) -> None:
    admission = Admission(slots=1, queue=0)
    searcher = Searcher(hashing_index, model="hashing", admission=admission)
    searcher.search("reset my password")  # now in the cache
    _, release, thread = hold_slot(admission)
    try:
        with pytest.raises(Overloaded):
            searcher.search("printer is offline", use_cache=False)
        assert searcher.search("reset my password").hits  # a cached answer never queues
    finally:
        release.set()
        thread.join()
    assert searcher.search("printer is offline").hits
    assert searcher.newer() is None or searcher.newer().admission is admission


def flood(port: int, clients: int, per_client: int, round_no: int) -> list[tuple[int, str | None, bytes]]:
    """`clients` keep-alive connections, each sending `per_client` uncached searches as fast as it can."""
    answers: list[tuple[int, str | None, bytes]] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        for i in range(per_client):
            q = urllib.parse.quote(f"vpn disconnects {round_no} {n} {i}")
            conn.request("GET", f"/api/v1/search?q={q}&k=5")
            response = conn.getresponse()
            body = response.read()
            with lock:
                answers.append((response.status, response.getheader("Retry-After"), body))
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_a_flooded_gunicorn_answers_fast_503s_with_retry_after_and_no_other_error(
    tmp_path, hashing_index
) -> None:
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("gunicorn is not installed in this environment")
    from kb_engine.bench.http import production_server, wait_ready

    env = {
        "KB_WEB_THREADS": "8",
        "KB_SEARCH_SLOTS": "1",
        "KB_SEARCH_QUEUE": "0",  # no waiting: any search arriving while one computes is refused
        "KB_SEARCH_CACHE_SIZE": "0",
    }
    (tmp_path / "instance").mkdir()
    with production_server(hashing_index, tmp_path, "hashing", 1, env) as (port, _master):
        wait_ready(port, 1, tmp_path / "gunicorn.log")
        answers: list[tuple[int, str | None, bytes]] = []
        for round_no in range(10):  # concurrency is not scheduled by the test: flood until a refusal shows
            answers += flood(port, clients=24, per_client=10, round_no=round_no)
            if any(status == 503 for status, _, _ in answers):
                break
        statuses = {status for status, _, _ in answers}
        assert statuses <= {200, 503}, statuses
        refused = [(retry, json.loads(body)) for status, retry, body in answers if status == 503]
        assert refused, "24 clients on one search slot and no queue: some searches must be refused"
        for retry, body in refused:
            assert retry == "1"
            assert body["error"]["code"] == "overloaded"
        assert any(status == 200 for status, _, _ in answers)
        # Afterwards the server answers normally.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/v1/search?q=password&k=5")
        after = conn.getresponse()
        after.read()
        conn.close()
        assert after.status == 200
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log
