"""What every `kb` command shares: the settings context, common options, and the searcher and index builders.

Command families (`tickets.py`, `authoring.py`, ...) import this module, never `main.py`, so the CLI has no
import loop.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kb_engine.config import load_settings
from kb_engine.content.articles import problem_line


class Context:
    """Settings for one command invocation (CLI options override KB_* env and the instance file)."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}

    def settings(self, **overrides: Any) -> dict[str, Any]:
        return load_settings({**self.overrides, **{k: v for k, v in overrides.items() if v is not None}})


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def fail(message: str, code: int = 1) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


articles_option = click.option(
    "--articles", "articles_dir", type=click.Path(path_type=Path), help="Articles folder (KB_ARTICLES_DIR)."
)
index_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (KB_INDEX_DIR)."
)


def json_option(help: str = "JSON output for scripts.") -> Any:
    """The `--json` flag (`as_json`) of every command with a form for scripts; `help` says what it prints."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def open_searcher(settings: dict[str, Any]):
    from kb_engine.search.embedding import model_cache_dir
    from kb_engine.search.searcher import Searcher
    from kb_engine.search.sections import platforms_for

    return Searcher(
        Path(settings["INDEX_DIR"]),
        model=settings["MODEL"],
        threads=settings["MODEL_THREADS"],
        runtime=settings["MODEL_RUNTIME"],
        model_cache=model_cache_dir(settings),
        max_query_chars=settings["MAX_QUERY_CHARS"],
        threshold=settings["ANSWER_THRESHOLD"],
        platforms=platforms_for(settings["ARTICLES_DIR"], settings["FACET_FIELD"]),
    )


def build_articles(
    settings: dict[str, Any], articles_dir: Path, index_dir: Path, *, progress: bool, reuse_fit: bool = False
) -> Any:
    """One incremental build of articles_dir into index_dir with the configured model (a BuildReport);
    reuse_fit: keep the last fit while few articles changed (`kb watch`)."""
    from indexer.build import build_index
    from kb_engine.search.embedding import embedder_from_settings

    return build_index(
        articles_dir,
        index_dir,
        model=settings["MODEL"],
        embedder_factory=lambda: embedder_from_settings(settings),
        languages=tuple(settings["LANGUAGES"]),
        batch_size=settings["EMBED_BATCH_SIZE"],
        target_misled=settings["TARGET_MISLED"],
        progress=progress,
        reuse_fit=reuse_fit,
    )


def index_for_articles(settings: dict[str, Any], articles_dir: Path, *, progress: bool) -> Path:
    """A cached index of another articles folder (for `kb eval --articles`), rebuilt only when it changed."""
    import hashlib

    key = hashlib.sha256(str(articles_dir.resolve()).encode()).hexdigest()[:12]
    index_dir = Path(settings["INSTANCE_DIR"]) / "eval-indexes" / key
    report = build_articles(settings, articles_dir, index_dir, progress=progress)
    for problem in report.problems:
        click.echo(problem_line(problem, articles_dir), err=True)
    return index_dir


def feedback_queries(settings: dict[str, Any]) -> list[Any]:
    """Labelled queries from use: each search a customer marked "solved" on an article."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kb_engine.helpdesk.db import make_engine, make_session_factory
    from kb_engine.helpdesk.models import Feedback, SearchLog
    from kb_engine.search.evaluation import EvalQuery

    try:
        engine = make_engine(settings["DATABASE_URL"])
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(SearchLog.lang, Feedback.article_id, SearchLog.query)
                .join(Feedback, Feedback.search_id == SearchLog.id)
                .where(Feedback.kind == "solved")
            ).all()
        engine.dispose()
    except SQLAlchemyError:
        return []
    return [EvalQuery(lang or "", article.split("/")[-1], query) for lang, article, query in rows]


def feedback_labels(settings: dict[str, Any]) -> list[Any]:
    """Feedback as labels for `kb calibrate --from-feedback`: customers' "solved" (right) and "did not
    help" (wrong) on the articles a search showed, and agents' "resolved with article" on tickets."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kb_engine.helpdesk.db import make_engine, make_session_factory
    from kb_engine.helpdesk.models import Feedback, SearchLog, Ticket
    from kb_engine.search.feedback import Label

    labels: list[Label] = []
    try:
        engine = make_engine(settings["DATABASE_URL"])
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(SearchLog.lang, Feedback.article_id, SearchLog.query, Feedback.kind)
                .join(Feedback, Feedback.search_id == SearchLog.id)
                .where(Feedback.kind.in_(("solved", "not_helpful")))
            ).all()
            labels += [
                Label(lang or "", article.split("/")[-1], query, kind == "solved", kind)
                for lang, article, query, kind in rows
                if query
            ]
            tickets = session.execute(
                select(Ticket.lang, Ticket.resolution_article, Ticket.query).where(
                    Ticket.resolution_article.is_not(None)
                )
            ).all()
            labels += [
                Label(lang or "", article.split("/")[-1], query, True, "resolved")
                for lang, article, query in tickets
                if query and article
            ]
        engine.dispose()
    except SQLAlchemyError:
        return []
    return labels
