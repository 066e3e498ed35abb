"""The `kb` command line: a thin click shell over the library."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import click

from kb_engine.cli import authoring, bench, console, desk, integrations, mail, ops, outbox, tickets
from kb_engine.cli.context import (
    Context,
    articles_option,
    fail,
    feedback_labels,
    feedback_queries,
    index_for_articles,
    index_option,
    json_option,
    open_searcher,
    pass_ctx,
)
from kb_engine.content.articles import problem_line
from kb_engine.errors import KBError


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
    from kb_engine.config import load_settings
    from kb_engine.ops import logs

    # The jobs (kb index, kb outbox send, kb tickets automate, kb mail-in...) log like the server: one JSON
    # line per record on stderr (KB_LOG_FORMAT), warnings and up; what a command prints stays on stdout.
    try:
        settings = load_settings()
        logs.configure(settings["LOG_FORMAT"], level="WARNING")
    except (KBError, ValueError) as exc:
        fail(f"bad settings: {exc}", 2)
    from kb_engine.integrations import webhooks

    webhooks.install(settings["PUBLIC_URL"])  # ticket changes made here queue their webhook deliveries too
    cli(prog_name="kb")


@cli.command("index")
@articles_option
@index_option
@click.option("--force", is_flag=True, help="Rebuild even if nothing changed.")
@json_option("Print the build report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_ctx
def index_cmd(
    ctx: Context, articles_dir: Path | None, index_dir: Path | None, force: bool, as_json: bool, quiet: bool
) -> None:
    """Build the search index from the articles folder and publish it atomically.

    Example: kb index --articles articles/ --index-dir instance/index
    """
    from indexer.build import build_index
    from kb_engine.search.embedding import embedder_from_settings

    settings = ctx.settings(ARTICLES_DIR=articles_dir, INDEX_DIR=index_dir)
    report = build_index(
        Path(settings["ARTICLES_DIR"]),
        Path(settings["INDEX_DIR"]),
        model=settings["MODEL"],
        embedder_factory=lambda: embedder_from_settings(settings),
        languages=tuple(settings["LANGUAGES"]),
        batch_size=settings["EMBED_BATCH_SIZE"],
        target_misled=settings["TARGET_MISLED"],
        progress=not quiet and not as_json,
        force=force,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    for problem in report.problems:
        click.echo(problem_line(problem, settings["ARTICLES_DIR"]), err=True)
    state = "up to date" if report.up_to_date else f"built {report.build_id}"
    graph = report.graph_update
    kept = f"HNSW graph kept ({graph['added']} added, {graph['tombstones']} tombstones), " if graph else ""
    click.echo(
        f"{state}: {report.articles} articles, {report.chunks} chunks "
        f"({report.embedded} embedded, {report.cached} from cache), {kept}"
        f"{len(report.problems)} skipped, {report.seconds:.1f}s"
    )
    if report.kept:
        click.echo(
            f"{len(report.kept)} broken article(s) still served as the last good build had them: "
            f"{', '.join(report.kept)} (fix the file{'s' if len(report.kept) > 1 else ''} above)",
            err=True,
        )
    if report.drafts:
        click.echo(f"{report.drafts} draft(s) not published (`status: draft`)", err=True)


def _contract(response: Any) -> dict[str, Any]:
    """The stable JSON line of `kb search --json` (extra fields may be added, never removed)."""
    data: dict[str, Any] = response.to_dict()
    return data


@cli.command("search")
@index_option
@click.option("--k", "k", type=int, default=None, help="Number of articles (default KB_RESULTS).")
@json_option("JSON output.")
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


@cli.command("eval")
@click.argument("queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@index_option
@articles_option
@json_option("JSON report for scripts.")
@click.option("--no-baselines", is_flag=True, help="Skip the BM25-only and dense-only baselines.")
@click.option(
    "--failures", "show_failures", type=int, default=20, show_default=True, help="Failures to list."
)
@click.option(
    "--sections",
    "sections_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Section query set (lang, expected, section, query TSV); default eval/sections.tsv when it exists.",
)
@click.option(
    "--ambiguity",
    "ambiguity_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ambiguity set (lang, expected, section, facet, query TSV); default eval/ambiguity.tsv if present.",
)
@click.option("--article", "article_slugs", multiple=True, help="Report on one article's queries, in words.")
@click.option("--category", default=None, help="Report on every article of a category, in words.")
@pass_ctx
def eval_cmd(
    ctx: Context,
    queries: Path | None,
    index_dir: Path | None,
    articles_dir: Path | None,
    as_json: bool,
    no_baselines: bool,
    show_failures: int,
    sections_file: Path | None,
    ambiguity_file: Path | None,
    article_slugs: tuple[str, ...],
    category: str | None,
) -> None:
    """Measure search quality on a query set (lang, expected, query TSV), with baselines; and, on a
    section query set, whether the first hit opens on the section that answers (section hit@1, hit@3).

    Example: kb eval eval/queries.tsv
    Example: kb eval --article password-reset
    Example: kb eval ../shared/bench/covidfaq/queries.tsv --articles ../shared/bench/covidfaq/articles
    """
    from kb_engine.search.embedding import model_cache_dir
    from kb_engine.search.evaluation import evaluate, format_table, format_tradeoff, load_queries

    settings = ctx.settings(INDEX_DIR=index_dir)
    if articles_dir is not None:
        settings["MODEL_CACHE_DIR"] = str(model_cache_dir(settings))  # one ONNX export for every index
        settings["INDEX_DIR"] = index_for_articles(settings, articles_dir, progress=not as_json)
    queries = queries or Path("eval/queries.tsv")
    searcher = open_searcher(settings)
    if article_slugs or category:
        from kb_engine.authoring.article_report import article_reports
        from kb_engine.search.evaluation import SignalCache, engine_outcomes

        slugs = list(dict.fromkeys(s.split("/")[-1] for s in article_slugs))
        if category:
            slugs += sorted({a.slug for a in searcher.articles if a.category == category} - set(slugs))
        if not slugs:
            fail(f"no article in category {category!r}")
        items = load_queries(queries)
        outcomes = engine_outcomes(SignalCache(searcher, items, progress=not as_json and sys.stderr.isatty()))
        per_article = article_reports(outcomes, slugs)
        if as_json:
            click.echo(json.dumps([r.to_dict() for r in per_article], ensure_ascii=False, indent=2))
        else:
            for one in per_article:
                click.echo("\n".join(one.lines()))
        return
    name = queries.parent.name if queries.stem == "queries" else queries.stem
    report = evaluate(
        searcher,
        load_queries(queries),
        name=name,
        baselines=not no_baselines,
        progress=not as_json and sys.stderr.isatty(),
    )
    sections = section_figures(searcher, queries, sections_file, ambiguity_file)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), **sections}, ensure_ascii=False, indent=2))
        return
    click.echo(format_table([report]))
    if report.tradeoff:
        click.echo("\n" + format_tradeoff(report))
    if sections:
        from kb_engine.search.section_eval import format_section_figures

        click.echo("\n" + format_section_figures(sections))
    if report.failures and show_failures:
        click.echo(f"\n{len(report.failures)} failures (first {min(show_failures, len(report.failures))}):")
        for f in report.failures[:show_failures]:
            expected = f.get("expected", "")
            click.echo(f"  [{f['kind']}] ({f['lang']}) {f['query']!r} expected={expected} got={f['got']}")


def section_figures(
    searcher: Any, queries: Path, sections_file: Path | None, ambiguity_file: Path | None
) -> dict[str, Any]:
    """Issue 26's figures for `kb eval`: section hit@1/@3, and how often the clarifying question is asked
    (ambiguity set, and the query set itself) and one click puts the right section first."""
    from kb_engine.search.evaluation import load_queries
    from kb_engine.search.section_eval import (
        evaluate_ambiguity,
        evaluate_sections,
        load_ambiguity_queries,
        load_section_queries,
        question_rate,
    )

    default = queries == Path("eval/queries.tsv")
    if sections_file is None and default and Path("eval/sections.tsv").is_file():
        sections_file = Path("eval/sections.tsv")
    if ambiguity_file is None and default and Path("eval/ambiguity.tsv").is_file():
        ambiguity_file = Path("eval/ambiguity.tsv")
    out: dict[str, Any] = {}
    for path in (sections_file, ambiguity_file):
        if path is not None and not path.is_file():
            fail(f"no such query file: {path}")
    if sections_file is not None:
        out["sections"] = evaluate_sections(searcher, load_section_queries(sections_file)).to_dict()
    if ambiguity_file is not None:
        out["ambiguity"] = evaluate_ambiguity(searcher, load_ambiguity_queries(ambiguity_file))
        in_scope = [q for q in load_queries(queries) if q.expected]
        out["ambiguity"]["asked_on_query_set"] = round(
            question_rate(searcher, [q.query for q in in_scope], [q.lang for q in in_scope]), 4
        )
    held_out = [Path(f"eval/clarify-holdout-{kind}.tsv") for kind in ("ambiguous", "clear")]
    if default and all(path.is_file() for path in held_out):
        # Written before the question was tuned (README "Is the ambiguity set realistic?").
        out["clarify_holdout"] = evaluate_ambiguity(searcher, load_ambiguity_queries(held_out[0]))
        clear = [q for q in load_queries(held_out[1]) if q.expected]
        out["clarify_holdout"]["asked_on_query_set"] = round(
            question_rate(searcher, [q.query for q in clear], [q.lang for q in clear]), 4
        )
    return out


@cli.command("calibrate")
@click.argument("queries", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@index_option
@click.option(
    "--target-rejection", default=0.95, show_default=True, help="Share of out-of-scope queries to reject."
)
@click.option("--feedback/--no-feedback", default=True, help="Also learn from logged 'solved' searches.")
@click.option(
    "--from-feedback",
    is_flag=True,
    help="Refit the confidence on customers' solved / did-not-help and agents' resolutions only; adopted "
    "when it does at least as well on held-out feedback (every run logged in the manifest).",
)
@click.option("--dry-run", is_flag=True, help="Print the result without writing the manifest.")
@json_option("JSON output.")
@pass_ctx
def calibrate_cmd(
    ctx: Context,
    queries: tuple[Path, ...],
    index_dir: Path | None,
    target_rejection: float,
    feedback: bool,
    from_feedback: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Fit the answered/miss confidence and thresholds on labelled queries; write them to the manifest.

    Example: kb calibrate eval/queries.tsv --target-rejection 0.95
    Example: kb calibrate --from-feedback   (on a schedule, e.g. nightly)
    """
    from kb_engine.search import calibration
    from kb_engine.search.evaluation import load_queries

    settings = ctx.settings(INDEX_DIR=index_dir)
    searcher = open_searcher(settings)
    if from_feedback:
        _calibrate_from_feedback(settings, searcher, dry_run=dry_run, as_json=as_json)
        return
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


def _calibrate_from_feedback(
    settings: dict[str, Any], searcher: Any, *, dry_run: bool, as_json: bool
) -> None:
    from kb_engine.search import feedback

    labels = feedback_labels(settings)
    result = feedback.refit(searcher, labels, target_misled=settings["TARGET_MISLED"])
    source = f"feedback: {len(labels)} labels"
    if not dry_run:
        feedback.save(searcher, result, source)
    if as_json:
        click.echo(json.dumps({**result.to_log(), "source": source, "dry_run": dry_run}, indent=2))
        return
    click.echo(f"{len(labels)} feedback labels: {result.n_train} to fit, {result.n_held_out} held out")
    verdict = "adopted" if result.adopted else "kept the current model"
    click.echo(f"held out: before {result.before}, after {result.after}: {verdict}")
    if result.note:
        click.echo(result.note)


# Command families, each in its own module over `context.py` (never importing this one): one explicit list.
for _family in (authoring, tickets, desk, console, mail, outbox, bench, ops, integrations):
    for _command in _family.COMMANDS:
        cli.add_command(_command)

# Commands that other installed packages plug in (the `kb_engine.cli` entry-point group): `kb serve` comes
# from the web app (web/cli.py), since the library never imports Flask.
for _entry in importlib.metadata.entry_points(group="kb_engine.cli"):
    cli.add_command(_entry.load(), _entry.name)
