"""The `kb` command line: a thin click shell over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kb_engine.config import load_settings
from kb_engine.errors import KBError


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


class KBGroup(click.Group):
    """Turns domain errors into one clear line on stderr instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KBError as exc:
            fail(exc.message, 2)


@click.group(cls=KBGroup)
@click.option("--model", help="Embedding model (sentence-transformers name or path); overrides KB_MODEL.")
@click.version_option(package_name="kb-engine")
@pass_ctx
def cli(ctx: Context, model: str | None) -> None:
    """kb-engine: knowledge-base search and L1 self-service for support desks."""
    if model:
        ctx.overrides["MODEL"] = model


def main() -> None:
    cli(prog_name="kb")


# -- articles & index -------------------------------------------------------------------------------------
articles_option = click.option(
    "--articles", "articles_dir", type=click.Path(path_type=Path), help="Articles folder (KB_ARTICLES_DIR)."
)
index_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder (KB_INDEX_DIR)."
)


@cli.command("index")
@articles_option
@index_option
@click.option("--force", is_flag=True, help="Rebuild even if nothing changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_ctx
def index_cmd(
    ctx: Context, articles_dir: Path | None, index_dir: Path | None, force: bool, as_json: bool, quiet: bool
) -> None:
    """Build the search index from the articles folder and publish it atomically.

    Example: kb index --articles articles/ --index-dir instance/index
    """
    from indexer.build import build_index
    from kb_engine.embedding import embedder_from_settings

    settings = ctx.settings(ARTICLES_DIR=articles_dir, INDEX_DIR=index_dir)
    report = build_index(
        Path(settings["ARTICLES_DIR"]),
        Path(settings["INDEX_DIR"]),
        model=settings["MODEL"],
        embedder_factory=lambda: embedder_from_settings(settings),
        languages=tuple(settings["LANGUAGES"]),
        batch_size=settings["EMBED_BATCH_SIZE"],
        progress=not quiet and not as_json,
        force=force,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for problem in report.problems:
        click.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    state = "up to date" if report.up_to_date else f"built {report.build_id}"
    graph = report.graph_update
    kept = f"HNSW graph kept ({graph['added']} added, {graph['tombstones']} tombstones), " if graph else ""
    click.echo(
        f"{state}: {report.articles} articles, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.cached} from cache), {kept}"
        f"{len(report.problems)} skipped, {report.seconds:.1f}s"
    )


def open_searcher(settings: dict[str, Any]):
    from kb_engine.embedding import model_cache_dir
    from kb_engine.searcher import Searcher

    return Searcher(
        Path(settings["INDEX_DIR"]),
        model=settings["MODEL"],
        threads=settings["MODEL_THREADS"],
        runtime=settings["MODEL_RUNTIME"],
        model_cache=model_cache_dir(settings),
        max_query_chars=settings["MAX_QUERY_CHARS"],
        threshold=settings["ANSWER_THRESHOLD"],
    )


def _contract(response: Any) -> dict[str, Any]:
    """The stable JSON line of `kb search --json` (extra fields may be added, never removed)."""
    data: dict[str, Any] = response.to_dict()
    return data


@cli.command("search")
@index_option
@click.option("--k", "k", type=int, default=None, help="Number of articles (default KB_RESULTS).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="One query per input line, one JSON object per line."
)
@click.option("--internal", is_flag=True, help="Include internal (agent-only) articles.")
@click.option("--lang", default=None, help="Query language if known (default: detected).")
@click.argument("query", nargs=-1)
@pass_ctx
def search_cmd(
    ctx: Context,
    index_dir: Path | None,
    k: int | None,
    as_json: bool,
    from_stdin: bool,
    internal: bool,
    lang: str | None,
    query: tuple[str, ...],
) -> None:
    """Search the index for a problem description.

    Example: kb search --json "I forgot my password"
    """
    settings = ctx.settings(INDEX_DIR=index_dir)
    searcher = open_searcher(settings)
    k = k or settings["RESULTS"]
    if from_stdin:
        # Bytes in, decoded per line: one malformed line must not stop the batch.
        for raw in sys.stdin.buffer:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            try:
                data = _contract(
                    searcher.search(text, k=k, include_internal=internal, lang=lang, use_cache=False)
                )
            except KBError as exc:
                data = {"query": text, "answered": False, "confidence": 0.0, "hits": [], "error": exc.message}
            click.echo(json.dumps(data, ensure_ascii=False))
            sys.stdout.flush()
        return
    text = " ".join(query)
    if not text.strip():
        fail("give a query, or --stdin to read one per line")
    response = searcher.search(text, k=k, include_internal=internal, lang=lang)
    if as_json:
        click.echo(json.dumps(_contract(response), ensure_ascii=False))
        return
    verdict = "answered" if response.answered else "not answered (miss)"
    click.echo(f"{verdict}, confidence {response.confidence:.2f}, language {response.lang}")
    for rank, hit in enumerate(response.hits, 1):
        mark = " [other language]" if hit.other_language else ""
        mark += " [internal]" if hit.audience == "internal" else ""
        click.echo(f"{rank}. {hit.title} ({hit.id}) score {hit.score:.3f}{mark}")
        click.echo(f"   {hit.snippet}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@click.option("--watch", is_flag=True, help="Re-index the articles folder whenever it changes (authoring).")
@pass_ctx
def serve_cmd(ctx: Context, host: str, port: int, debug: bool, watch: bool) -> None:
    """Serve the web app (development server; use gunicorn in production).

    Example: kb serve --port 5000
    Example: kb serve --watch
    """
    from web import create_app

    if watch:
        from kb_engine.cli_authoring import start_watcher

        start_watcher(ctx.settings())
    app = create_app(ctx.overrides or None)
    app.run(host=host, port=port, debug=debug, use_reloader=False, threaded=True)


def build_articles(settings: dict[str, Any], articles_dir: Path, index_dir: Path, *, progress: bool) -> Any:
    """One incremental build of articles_dir into index_dir with the configured model (a BuildReport)."""
    from indexer.build import build_index
    from kb_engine.embedding import embedder_from_settings

    return build_index(
        articles_dir,
        index_dir,
        model=settings["MODEL"],
        embedder_factory=lambda: embedder_from_settings(settings),
        languages=tuple(settings["LANGUAGES"]),
        batch_size=settings["EMBED_BATCH_SIZE"],
        progress=progress,
    )


def index_for_articles(settings: dict[str, Any], articles_dir: Path, *, progress: bool) -> Path:
    """A cached index of another articles folder (for `kb eval --articles`), rebuilt only when it changed."""
    import hashlib

    key = hashlib.sha256(str(articles_dir.resolve()).encode()).hexdigest()[:12]
    index_dir = Path(settings["INSTANCE_DIR"]) / "eval-indexes" / key
    report = build_articles(settings, articles_dir, index_dir, progress=progress)
    for problem in report.problems:
        click.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    return index_dir


@cli.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@index_option
@articles_option
@click.option("--json", "as_json", is_flag=True, help="JSON report for scripts.")
@click.option("--no-baselines", is_flag=True, help="Skip the BM25-only and dense-only baselines.")
@click.option(
    "--failures", "show_failures", type=int, default=20, show_default=True, help="Failures to list."
)
@pass_ctx
def eval_cmd(
    ctx: Context,
    queries: Path | None,
    index_dir: Path | None,
    articles_dir: Path | None,
    as_json: bool,
    no_baselines: bool,
    show_failures: int,
) -> None:
    """Measure search quality on a query set (lang, expected, query TSV), with baselines.

    Example: kb eval eval/queries.tsv
    Example: kb eval ../shared/bench/covidfaq/queries.tsv --articles ../shared/bench/covidfaq/articles
    """
    from kb_engine.embedding import model_cache_dir
    from kb_engine.evaluation import evaluate, format_table, load_queries

    settings = ctx.settings(INDEX_DIR=index_dir)
    if articles_dir is not None:
        settings["MODEL_CACHE_DIR"] = str(model_cache_dir(settings))  # one ONNX export for every index
        settings["INDEX_DIR"] = index_for_articles(settings, articles_dir, progress=not as_json)
    queries = queries or Path("eval/queries.tsv")
    searcher = open_searcher(settings)
    name = queries.parent.name if queries.stem == "queries" else queries.stem
    report = evaluate(
        searcher,
        load_queries(queries),
        name=name,
        baselines=not no_baselines,
        progress=not as_json and sys.stderr.isatty(),
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(format_table([report]))
    if report.failures and show_failures:
        click.echo(f"\n{len(report.failures)} failures (first {min(show_failures, len(report.failures))}):")
        for f in report.failures[:show_failures]:
            expected = f.get("expected", "")
            click.echo(f"  [{f['kind']}] ({f['lang']}) {f['query']!r} expected={expected} got={f['got']}")


# -- authors' commands (kb new, kb lint, kb watch, kb diff) ------------------------------------------------
def _add_authoring_commands() -> None:
    from kb_engine.cli_authoring import COMMANDS  # imported last: it uses the group and options above

    for command in COMMANDS:
        cli.add_command(command)


_add_authoring_commands()


from kb_engine.cli_tickets import tickets  # noqa: E402 - last: it imports the group and options above

cli.add_command(tickets)


def feedback_queries(settings: dict[str, Any]) -> list[Any]:
    """Labelled queries from use: each search a customer marked "solved" on an article."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from kb_engine.db import make_engine, make_session_factory
    from kb_engine.evaluation import EvalQuery
    from kb_engine.models import Feedback, SearchLog

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


@cli.command("calibrate")
@click.argument("queries", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@click.option(
    "--target-rejection", default=0.95, show_default=True, help="Share of out-of-scope queries to reject."
)
@click.option("--feedback/--no-feedback", default=True, help="Also learn from logged 'solved' searches.")
@click.option("--dry-run", is_flag=True, help="Print the result without writing the manifest.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@pass_ctx
def calibrate_cmd(
    ctx: Context,
    queries: tuple[Path, ...],
    index_dir: Path | None,
    target_rejection: float,
    feedback: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Fit the answered/miss confidence and thresholds on labelled queries; write them to the manifest.

    Example: kb calibrate eval/queries.tsv --target-rejection 0.95
    """
    from kb_engine import calibration
    from kb_engine.evaluation import load_queries

    settings = ctx.settings(INDEX_DIR=index_dir)
    searcher = open_searcher(settings)
    files = queries or (Path("eval/queries.tsv"),)
    labelled = [q for path in files for q in load_queries(path)]
    logged = feedback_queries(settings) if feedback else []
    result = calibration.calibrate(searcher, labelled + logged, target_rejection=target_rejection)
    source = ", ".join(str(p) for p in files) + (f" + {len(logged)} logged solved searches" if logged else "")
    if not dry_run and result.fitted:
        calibration.save(searcher, result, source)
    if as_json:
        click.echo(
            json.dumps({"fitted": result.fitted, "note": result.note, **result.to_manifest(source)}, indent=2)
        )
        return
    click.echo(f"calibrated on {result.n_in} in-scope and {result.n_out} out-of-scope queries ({source})")
    if result.note:
        click.echo(result.note)
    click.echo(f"threshold {result.params.threshold:.3f}" + (" (dry run, not saved)" if dry_run else ""))
    for category, value in sorted(result.params.category_thresholds.items()):
        click.echo(f"  category {category}: threshold {value:.3f}")
    click.echo(f"{'threshold':>9} {'answered':>9} {'rejected':>9} {'precision':>9}")
    for point in result.curve:
        click.echo(
            f"{point.threshold:>9.2f} {point.answered:>9.3f} {point.rejected:>9.3f} {point.precision:>9.3f}"
        )


from kb_engine.cli_console import COMMANDS as CONSOLE_COMMANDS  # noqa: E402 - last, like cli_tickets

for _command in CONSOLE_COMMANDS:
    cli.add_command(_command)


from kb_engine.cli_mail import mail_in  # noqa: E402 - last: it imports the group's Context

cli.add_command(mail_in)


from kb_engine.cli_bench import COMMANDS as _BENCH_COMMANDS  # noqa: E402 - last: it imports the group's Context

for _command in _BENCH_COMMANDS:
    cli.add_command(_command)
