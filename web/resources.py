"""Per-process and per-request resources of the web app.

The searcher (index + model) is heavy and read-only: one per process, created on first use, so that under
gunicorn it is loaded after fork. It checks at most every `RELOAD_EVERY` seconds whether the indexer
published a new build and switches to it without a restart. The database session is per request, on `g`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, current_app, g, request, send_file
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from kb_engine.content.articles import IMAGE_SUFFIXES
from kb_engine.errors import KBError
from kb_engine.helpdesk import limits
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.helpdesk.models import Ticket
from kb_engine.helpdesk.notifications import QUEUED
from kb_engine.helpdesk.periodic import PeriodicRunner
from kb_engine.helpdesk.recurring import RecurringRules, flag_recurring
from kb_engine.helpdesk.similarity import Embed
from kb_engine.helpdesk.tickets import TicketService
from kb_engine.ops.jobs import server_jobs
from kb_engine.search.admission import Admission
from kb_engine.search.batching import QueryBatcher
from kb_engine.search.embedding import model_cache_dir
from kb_engine.search.searcher import Searcher, SearchResponse
from kb_engine.search.sections import platforms_for

RELOAD_EVERY = 1.0
log = logging.getLogger(__name__)


class SearcherHolder:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self._searcher: Searcher | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self.on_search: Callable[[SearchResponse], None] | None = None  # set by web/observability.py

    @property
    def served(self) -> Searcher | None:
        """The searcher serving now, without loading one (None before the first search)."""
        return self._searcher

    def get(self) -> Searcher:
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    searcher = Searcher(
                        Path(self.settings["INDEX_DIR"]),
                        model=self.settings["MODEL"],
                        threads=self.settings["MODEL_THREADS"],
                        runtime=self.settings["MODEL_RUNTIME"],
                        model_cache=model_cache_dir(self.settings),
                        max_query_chars=self.settings["MAX_QUERY_CHARS"],
                        threshold=self.settings["ANSWER_THRESHOLD"],
                        cache_size=self.settings["SEARCH_CACHE_SIZE"],
                        platforms=platforms_for(self.settings["ARTICLES_DIR"], self.settings["FACET_FIELD"]),
                        admission=Admission(
                            slots=max(1, self.settings["SEARCH_SLOTS"]),
                            queue=self.settings["SEARCH_QUEUE"],
                            wait_seconds=self.settings["SEARCH_WAIT_SECONDS"],
                        ),
                        batcher=QueryBatcher(max_batch=self.settings["SEARCH_BATCH"]),
                    )
                    searcher.on_search = self.on_search
                    self._searcher = searcher
                    self._checked = time.monotonic()
        now = time.monotonic()
        if now - self._checked >= RELOAD_EVERY and self._lock.acquire(blocking=False):
            try:
                self._checked = now
                newer = self._searcher.newer()
                if newer is not None:
                    self._searcher = newer  # one reference swap: running searches keep their build
            except KBError as exc:
                log.error("new index build not served, still on %s: %s", self._searcher.build_id, exc.message)
            finally:
                self._lock.release()
        return self._searcher


def close_app(app: Flask, timeout: float = 30) -> None:
    """Release what `init_app` holds: stop the background runner first (a tick after the pool is disposed
    would open a new connection nobody closes), then close the ticket store's pooled connections."""
    runner: PeriodicRunner | None = app.extensions.get("kb_periodic")
    if runner is not None:
        runner.stop(timeout=timeout)
    app.extensions["kb_engine"].dispose()


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    upgrade(engine)
    app.extensions["kb_engine"] = engine
    app.extensions["kb_sessions"] = make_session_factory(engine)
    app.extensions["kb_searcher"] = SearcherHolder(dict(app.config))
    # One background thread per process: outbox, automations, triage retraining, retention purge.
    from kb_engine.integrations import webhooks
    from kb_engine.integrations.webhooks.delivery import webhook_jobs

    webhooks.install(app.config["PUBLIC_URL"])  # ticket changes queue their webhook deliveries
    jobs = server_jobs(app.extensions["kb_sessions"], dict(app.config))
    jobs += webhook_jobs(app.extensions["kb_sessions"], app.config)  # the URL rule read at each delivery
    runner = PeriodicRunner(jobs).start()
    app.extensions["kb_periodic"] = runner
    if "webhooks" in runner.jobs:

        @sa_event.listens_for(app.extensions["kb_sessions"], "after_commit")
        def wake_webhooks(session: Session) -> None:
            if session.info.pop(webhooks.events.QUEUED, False):
                runner.wake("webhooks")

    if "outbox" in runner.jobs:

        @sa_event.listens_for(app.extensions["kb_sessions"], "after_commit")
        def wake_sender(session: Session) -> None:
            if session.info.pop(QUEUED, False):
                runner.wake("outbox")  # the customer's confirmation goes now, not at the next poll

    @app.teardown_appcontext
    def close_db(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def get_searcher() -> Searcher:
    holder: SearcherHolder = current_app.extensions["kb_searcher"]
    return holder.get()


# An SVG opened on its own is a document: no script, no plug-in, nothing of this origin.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def send_media(name: str, *, shown: frozenset[str] | None) -> Response:
    """An image of the articles folder (404 for anything else): one of `shown` (paths articles show; None:
    any image, for authors previewing files not indexed yet), resolving inside the articles root (no
    `..`, no symlink out)."""
    if (shown is not None and name not in shown) or not name.lower().endswith(IMAGE_SUFFIXES):
        abort(404)
    root = Path(current_app.config["ARTICLES_DIR"]).resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        abort(404)
    response = send_file(target, max_age=300, conditional=True)
    if target.suffix.lower() == ".svg":
        response.headers["Content-Security-Policy"] = SVG_CSP
    return response


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["kb_sessions"]()
    session: Session = g.db
    return session


def get_tickets() -> TicketService:
    """The ticket service on this request's session, routed by the articles folder's routing.yml."""
    return TicketService.from_settings(get_db(), current_app.config)


def client_address() -> str:
    """The visitor's address: the connection's, or the trusted proxy's word for it (web/proxy.py)."""
    return request.remote_addr or "unknown"


def limit(action: str, email: str | None = None) -> None:
    """Count an anonymous visitor's `action` (kb_engine.helpdesk.limits.ACTIONS) in this request's
    transaction; over a limit it raises TooManyRequests (429) and the caller rolls back."""
    settings = limits.AnonymousLimits.from_settings(current_app.config)
    limits.record(get_db(), settings, action, client_address(), email)


def open_ticket(*, response: SearchResponse | None = None, **fields: Any) -> Ticket:
    """Open a ticket (fields of `TicketService.create`) for the visitor of this request and attach it to
    the incident it may be part of.

    With a search `response`, the ticket records the language, the articles shown and their category.
    """
    fields.setdefault("client_address", client_address())
    if response is not None:
        fields.setdefault("lang", response.lang)
        fields.setdefault("shown", [h.to_dict() for h in response.hits])
        # Only an answer the engine is sure of says what the ticket is about: a miss goes to the routing
        # file's default (triage) queue, never to the category of an article it was unsure of.
        sure = response.answered and response.hits
        fields.setdefault("category", response.hits[0].category if sure else None)
    service = get_tickets()
    ticket = service.create(**fields)
    embed = get_embed()
    if embed is not None:
        service.link_or_propose_problem(ticket, embed)
        flag_recurring(service, ticket, embed, RecurringRules.from_settings(current_app.config))
    return ticket


def get_embed() -> Embed | None:
    """The searcher's query embedding for ticket similarity (None in degraded mode: no model)."""
    embedder = get_searcher().embedder
    return embedder.encode_queries if embedder is not None else None
