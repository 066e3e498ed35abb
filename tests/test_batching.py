"""Query micro-batching (issue 19): searches waiting for a slot share one model call with the slot holder,
and answer exactly what they answer one at a time. Functional only: no timing assertions."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kb_engine.search.admission import Admission, Overloaded
from kb_engine.search.batching import QueryBatcher, plan_runs
from kb_engine.search.embedding import load_embedder
from kb_engine.search.searcher import Searcher
from tests.conftest import MODEL

QUERIES = [
    "I forgot my password",
    "mot de passe oublié",
    "the printer says offline",
    "l'imprimante est hors ligne depuis ce matin et personne ne peut imprimer",
    "vpn keeps disconnecting every few minutes when I work from home on the hotel wifi",
    "wifi",
    "Outlook ne reçoit plus les mails",
    "my laptop is very slow after the update",
    "how do I share a folder with a colleague",
    "écran noir au démarrage",
    "reset MFA on a new phone",
    "Teams camera not working",
]


def until(condition) -> None:
    """Wait for a state another thread reaches (no timing asserted: the test's own timeout bounds it)."""
    event = threading.Event()
    while not condition():
        event.wait(0.005)


# -- planning the model runs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lengths", "budget", "max_rows"),
    [([8, 9, 11, 12, 15, 16, 22, 30], 4096, 256), ([11] * 9, 22, 256), ([500, 3, 7], 128, 2), ([5], 1, 1)],
)
def test_runs_cover_every_text_once_within_the_budget(lengths: list[int], budget: int, max_rows: int) -> None:
    runs = plan_runs(lengths, budget=budget, max_rows=max_rows)
    assert sorted(i for run in runs for i in run.tolist()) == list(range(len(lengths)))
    for run in runs:
        width = max(lengths[i] for i in run)
        assert len(run) == 1 or (len(run) <= max_rows and len(run) * width <= budget)


def test_equal_lengths_share_a_run_and_far_apart_ones_do_not() -> None:
    assert [len(r) for r in plan_runs([11] * 8, budget=4096, max_rows=256)] == [8]
    runs = plan_runs([6, 200], budget=4096, max_rows=256)  # padding 6 tokens to 200 costs more than a call
    assert [r.tolist() for r in runs] == [[1], [0]]
    assert plan_runs([], budget=10, max_rows=2) == []


# -- the batcher on its own ----------------------------------------------------------------------------------
class Recording:
    """An encoder that records its calls and can be held inside one."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.inside = threading.Event()
        self.go_on = threading.Event()
        self.go_on.set()
        self.fail = False

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.inside.set()
        self.go_on.wait(30)
        if self.fail:
            raise RuntimeError("model failed")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def test_the_slot_holder_embeds_the_waiting_queries_oldest_first_up_to_the_batch_size() -> None:
    batcher, encode = QueryBatcher(max_batch=3), Recording()
    with batcher.ticket() as a, batcher.ticket() as b, batcher.ticket() as c, batcher.ticket() as d:
        for number, text in ((a, "a"), (b, "bb"), (c, "ccc"), (d, "dddd")):
            batcher.offer(number, text)
        assert batcher.vector(c, encode).tolist() == [[3.0, 1.0]]
        assert encode.calls == [["ccc", "a", "bb"]]
        assert batcher.vector(a, encode).tolist() == [[1.0, 1.0]]  # ready: no model call
        assert batcher.vector(b, encode).tolist() == [[2.0, 1.0]]
        assert batcher.vector(d, encode).tolist() == [[4.0, 1.0]]
        assert encode.calls == [["ccc", "a", "bb"], ["dddd"]]
    assert batcher.state() == {"runs": 2, "queries": 4, "largest": 3, "pending": 0, "ready": 0}


def test_a_search_that_leaves_during_the_model_call_leaves_nothing_behind() -> None:
    batcher, encode = QueryBatcher(max_batch=4), Recording()
    encode.go_on.clear()
    left = threading.Event()
    with batcher.ticket() as holder:
        batcher.offer(holder, "holder")

        def leaver() -> None:
            with batcher.ticket() as number:
                batcher.offer(number, "refused")
                encode.inside.wait(30)  # its query is in the running call; then admission refuses it
            left.set()

        thread = threading.Thread(target=leaver)
        thread.start()
        until(lambda: batcher.state()["pending"] == 2)
        runner = threading.Thread(target=batcher.vector, args=(holder, encode))
        runner.start()
        left.wait(30)
        encode.go_on.set()
        runner.join(30)
        thread.join(30)
    assert encode.calls == [["holder", "refused"]]
    assert batcher.state()["ready"] == 0 and batcher.state()["pending"] == 0


def test_a_failed_model_call_hands_the_other_queries_back() -> None:
    batcher, encode = QueryBatcher(max_batch=4), Recording()
    with batcher.ticket() as a, batcher.ticket() as b:
        batcher.offer(a, "first")
        batcher.offer(b, "second")
        encode.fail = True
        with pytest.raises(RuntimeError):
            batcher.vector(a, encode)
        encode.fail = False
        assert batcher.vector(b, encode).tolist() == [[6.0, 1.0]]  # computed on its own turn
    assert encode.calls == [["first", "second"], ["second"]]


# -- whole searches: concurrent and batched == one at a time ------------------------------------------------
@pytest.fixture(scope="module")
def onnx_model(model_cache: Path):
    return load_embedder(MODEL, threads=1, runtime="onnx", cache_dir=model_cache)


def test_concurrent_batched_searches_answer_exactly_what_sequential_ones_do(index_dir, onnx_model) -> None:
    sequential = Searcher(index_dir, model=MODEL, embedder=onnx_model)
    expected = {q: sequential.search(q, use_cache=False).to_dict() for q in QUERIES}

    admission = Admission(slots=1, queue=len(QUERIES), wait_seconds=120.0)
    batcher = QueryBatcher(max_batch=8)
    served = Searcher(index_dir, model=MODEL, embedder=onnx_model, admission=admission, batcher=batcher)
    answers: dict[str, dict] = {}
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with admission.slot():
            held.set()
            release.wait(60)

    def search(query: str) -> None:
        answers[query] = served.search(query, use_cache=False).to_dict()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    threads = [threading.Thread(target=search, args=(q,)) for q in QUERIES]
    for t in threads:
        t.start()
    until(lambda: admission.state()["waiting"] == len(QUERIES))  # every query offered, all queued
    release.set()
    for t in [holder, *threads]:
        t.join(120)

    assert answers == expected
    # The first slot holder embedded itself and the 7 oldest waiting; one of the 4 left embedded the rest.
    assert batcher.state() == {"runs": 2, "queries": len(QUERIES), "largest": 8, "pending": 0, "ready": 0}


def test_a_batched_search_refused_by_admission_is_an_overloaded_error_and_leaves_no_trace(
    index_dir, onnx_model
) -> None:
    admission = Admission(slots=1, queue=0)
    batcher = QueryBatcher(max_batch=8)
    served = Searcher(index_dir, model=MODEL, embedder=onnx_model, admission=admission, batcher=batcher)
    with admission.slot(), pytest.raises(Overloaded):
        served.search("printer offline", use_cache=False)
    assert batcher.state() == {"runs": 0, "queries": 0, "largest": 0, "pending": 0, "ready": 0}
    assert served.search("printer offline", use_cache=False).hits
    assert batcher.state()["runs"] == 1
    assert served.newer() is None
