"""Bounded admission of searches: past what the cores can serve, wait in a short queue, then a fast 503.

A search is CPU work (one model run, one vector product, one BM25 pass). A server process that lets every
request thread compute at once does not answer more: its threads and the other workers' fight for the same
cores and every answer slows down (measured on 2 cores: 209 searches/s at 8 clients, 130 at 32, p99 577 ms).
So each process computes at most `slots` searches at a time (with one model thread each, and one process
per core, the cores are never oversubscribed); up to `queue` more wait for a slot, each at most
`wait_seconds`; a search beyond the queue, or past its wait, is refused at once with `Overloaded` (503 with
Retry-After) instead of slowing every other request down. Answers from the search cache never queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kb_engine.errors import KBError


class Overloaded(KBError):
    """More searches than the server can answer in time: try again shortly."""

    status = 503
    code = "overloaded"
    retry_after = 1

    def __init__(self, message: str = "The search service is busy; please try again in a moment.") -> None:
        super().__init__(message, key="overloaded")


class Admission:
    """At most `slots` holders at once, at most `queue` waiting, each for at most `wait_seconds`."""

    def __init__(self, slots: int = 1, queue: int = 32, wait_seconds: float = 1.0) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self.queue = max(0, queue)
        self.wait_seconds = max(0.0, wait_seconds)
        self._cond = threading.Condition()
        self._running = 0
        self._waiting = 0
        self.refused = 0  # searches answered 503 by this process, for /healthz and the bench

    def _refuse(self, why: str) -> Overloaded:
        self.refused += 1
        return Overloaded(f"The search service is busy ({why}); please try again in a moment.")

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the body; raises Overloaded when none frees up in time."""
        with self._cond:
            if self._running >= self.slots or self._waiting:
                if self._waiting >= self.queue:
                    raise self._refuse("queue full")
                self._waiting += 1
                deadline = time.monotonic() + self.wait_seconds
                try:
                    while self._running >= self.slots:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise self._refuse("waited too long")
                        self._cond.wait(remaining)
                finally:
                    self._waiting -= 1
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify()

    def state(self) -> dict[str, int]:
        with self._cond:
            return {"running": self._running, "waiting": self._waiting, "refused": self.refused}
