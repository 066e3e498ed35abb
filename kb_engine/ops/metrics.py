"""Prometheus metrics (prometheus-client), in its multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set
(web/gunicorn.conf.py sets it), so that the gunicorn workers' counts add up on one scrape.

Two kinds of figures:
- what happens inside a worker (requests, searches, cache hits, stage latencies): counters and histograms
  updated as it happens, written to the multiprocess folder;
- what the database and the index already know (tickets opened by source, tier and priority; the queue's
  backlog; feedback; the notification outbox; the index build and its age): read at scrape time by
  `StoreCollector`, so they are right across workers, servers and the CLI jobs (email intake, automations)
  alike.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb_engine.helpdesk.models import Feedback, OutboxMessage, Ticket
from kb_engine.helpdesk.tickets import ACTIVE
from kb_engine.search.searcher import SearchResponse

__all__ = ["CONTENT_TYPE_LATEST", "StoreCollector", "mark_process_dead", "observe_request", "observe_search"]

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STAGES = {
    "language_ms": "language", "embed_ms": "embedding", "vector_ms": "vector", "lexical_ms": "lexical",
    "fusion_ms": "fusion",
}  # fmt: skip

REQUESTS = Counter(
    "kb_http_requests",
    "HTTP requests answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "kb_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
SEARCHES = Counter(
    "kb_searches", "Searches, by outcome: answered (confident), not_sure, out_of_scope.", ["outcome"]
)
SEARCH_CACHE = Counter(
    "kb_search_cache", "Searches answered from the in-process cache (hit) or not (miss).", ["result"]
)
STAGE_SECONDS = Histogram(
    "kb_search_stage_duration_seconds",
    "Time spent per search stage (embedding, vector, lexical, language, fusion).",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
SEARCH_DEGRADED = Counter("kb_searches_degraded", "Searches answered lexically only (degraded mode).")


def outcome(response: SearchResponse) -> str:
    if response.redirect:
        return "out_of_scope"
    return "answered" if response.answered else "not_sure"


def observe_search(response: SearchResponse) -> None:
    """Count one search (the searcher's `on_search` hook)."""
    SEARCHES.labels(outcome(response)).inc()
    timings = response.timings
    if "cache_ms" in timings:
        SEARCH_CACHE.labels("hit").inc()
        return
    SEARCH_CACHE.labels("miss").inc()
    if response.degraded:
        SEARCH_DEGRADED.inc()
    for key, stage in _STAGES.items():
        if key in timings:
            STAGE_SECONDS.labels(stage).observe(timings[key] / 1000)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_SECONDS.labels(route, method).observe(seconds)


class StoreCollector:
    """Figures read at scrape time from the ticket database and the served index.

    Args:
        sessions: opens a database session.
        searcher: the served searcher, or None when none is loaded yet.
        clock: the time source (UTC).
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        searcher: Callable[[], Any],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.searcher = searcher
        self.clock = clock

    def collect(self) -> Iterator[Any]:
        with self.sessions() as session:
            yield from self._tickets(session)
            yield from self._feedback(session)
            yield from self._outbox(session)
        yield from self._index()

    def _tickets(self, session: Session) -> Iterator[Any]:
        opened = CounterMetricFamily(
            "kb_tickets_opened", "Tickets opened, by source, current tier and priority.",
            labels=["source", "tier", "priority"],
        )  # fmt: skip
        priority = func.coalesce(Ticket.priority_override, Ticket.priority)
        for source, tier, level, count in session.execute(
            select(Ticket.source, Ticket.tier, priority, func.count()).group_by(
                Ticket.source, Ticket.tier, priority
            )
        ):
            opened.add_metric([source, tier, str(level)], count)
        yield opened
        backlog = GaugeMetricFamily(
            "kb_queue_backlog", "Active tickets, by tier and status.", labels=["tier", "status"]
        )
        for tier, status, count in session.execute(
            select(Ticket.tier, Ticket.status, func.count())
            .where(Ticket.status.in_(ACTIVE), Ticket.merged_into_id.is_(None))
            .group_by(Ticket.tier, Ticket.status)
        ):
            backlog.add_metric([tier, status], count)
        yield backlog

    def _feedback(self, session: Session) -> Iterator[Any]:
        feedback = CounterMetricFamily(
            "kb_feedback",
            "Customers' feedback on articles: solved (yes), not_helpful (no), view.",
            labels=["kind"],
        )
        counts = {"solved": 0, "not_helpful": 0, "view": 0}  # always there, so rates start at zero
        rows = session.execute(select(Feedback.kind, func.count()).group_by(Feedback.kind)).all()
        counts.update({kind: count for kind, count in rows})
        for kind, count in counts.items():
            feedback.add_metric([kind], count)
        yield feedback

    def _outbox(self, session: Session) -> Iterator[Any]:
        outbox = GaugeMetricFamily(
            "kb_outbox_messages", "Notifications in the outbox, by status (pending, sending, sent, failed).",
            labels=["status"],
        )  # fmt: skip
        counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
        rows = session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
        counts.update({status: count for status, count in rows})
        for status, count in counts.items():
            outbox.add_metric([status], count)
        yield outbox
        retrying = GaugeMetricFamily("kb_outbox_retrying", "Pending notifications that failed at least once.")
        retrying.add_metric(
            [],
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.attempts > 0)
            )
            or 0,
        )
        yield retrying

    def _index(self) -> Iterator[Any]:
        searcher = self.searcher()
        if searcher is None:
            return
        info = InfoMetricFamily("kb_index_build", "The index build served and the model it was built with.")
        info.add_metric([], {"build_id": str(searcher.build_id), "model": str(searcher.model)})
        yield info
        age = GaugeMetricFamily("kb_index_age_seconds", "Age of the served index build.")
        built = _built_at(searcher)
        if built is not None:
            age.add_metric([], max(0.0, (self.clock() - built).total_seconds()))
            yield age
        degraded = GaugeMetricFamily(
            "kb_degraded", "1 when searches are answered lexically only (no model/vectors)."
        )
        degraded.add_metric([], 1.0 if getattr(searcher, "degraded", False) else 0.0)
        yield degraded


def _built_at(searcher: Any) -> dt.datetime | None:
    """The build time, from the build id (`20261205T220246-9f0df3`)."""
    try:
        return dt.datetime.strptime(str(searcher.build_id).split("-")[0], "%Y%m%dT%H%M%S").replace(
            tzinfo=dt.UTC
        )
    except ValueError:
        return None


def exposition(store: StoreCollector | None) -> bytes:
    """The text exposition of every metric: all workers' (multiprocess mode) or this process's, then the
    store's figures (two registries: their metric names never overlap)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        live = CollectorRegistry()
        MultiProcessCollector(live)
    else:
        live = REGISTRY
    text = generate_latest(live)
    if store is not None:
        stored = CollectorRegistry()
        stored.register(store)
        text += generate_latest(stored)
    return text
