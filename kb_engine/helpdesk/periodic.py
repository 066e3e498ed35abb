"""The periodic work of a web server process, on one daemon thread: the outbox sender, the automations and
SLA rules, learned triage's retraining and the personal-data retention purge (the same jobs cron can run as
`kb outbox send`, `kb tickets automate`, `kb tickets triage --train` and `kb privacy purge`).

Each job has its own period; the runner sleeps until the next one is due, or until `wake(name)` (the outbox
job is woken when a request queued a message). A job that fails is logged and tried again at its next turn:
a busy database or a bad edit never ends the thread. Jobs run one after another, never two at once in a
process; several processes (gunicorn workers, servers) each run them, which every job allows (outbox rows
are claimed, automations fire once, triage saves its model atomically, the purge is idempotent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A named piece of periodic work.

    Args:
        name: how the logs and `wake` name it.
        every: seconds between two runs.
        run: the work (its return value is ignored).
        first: seconds from the start until its first run (default: `every`).
    """

    name: str
    every: float
    run: Callable[[], object]
    first: float | None = None
    due: float = 0.0


class PeriodicRunner:
    """Runs `jobs` on a daemon thread, each every `job.every` seconds (see the module's doc)."""

    def __init__(self, jobs: list[Job], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = {job.name: job for job in jobs}
        self.clock = clock
        now = clock()
        for job in jobs:
            job.due = now + (job.every if job.first is None else job.first)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kb-periodic", daemon=True)

    def start(self) -> PeriodicRunner:
        if self.jobs:
            self.thread.start()
        return self

    def wake(self, name: str | None = None) -> None:
        """Run job `name` (every job: None) now rather than at its turn."""
        with self._lock:
            now = self.clock()
            for job in self.jobs.values():
                if name is None or job.name == name:
                    job.due = min(job.due, now)
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout)

    def run_due(self) -> list[str]:
        """Run every job that is due now (each at most once); returns their names."""
        ran = []
        for job in list(self.jobs.values()):
            with self._lock:
                if job.due > self.clock():
                    continue
                job.due = self.clock() + job.every  # before running: a wake during the run counts
            if self._stop.is_set():
                break
            try:
                job.run()
            except Exception:  # noqa: BLE001 - logged and tried again at the job's next turn
                log.exception("periodic job %s failed; trying again in %ss", job.name, job.every)
            ran.append(job.name)
        return ran

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            with self._lock:
                wait = min(job.due for job in self.jobs.values()) - self.clock()
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
