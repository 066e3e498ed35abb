"""`kb bench`: the performance benchmark (a thin shell over kb_engine.bench)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb_engine.cli.context import Context

_ALL_SIZES = ("shipped", "1k", "10k", "100k")
# Our own decorator: mypy cannot type names imported across the cli import cycle.
pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _sizes(value: str) -> list[str]:
    sizes = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in _ALL_SIZES]
    if unknown or not sizes:
        raise click.BadParameter(f"choose among {', '.join(_ALL_SIZES)} (got {value!r})")
    return sizes


@click.command("bench")
@click.option(
    "--sizes",
    default=None,
    help="Comma-separated knowledge bases: shipped, 1k, 10k, 100k (chunks). Default: all; --quick: 1k.",
)
@click.option(
    "--http/--no-http", "http", default=None, help="Load-test gunicorn (needs 'shipped'; default on)."
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON here."
)
@click.option(
    "--quick", is_flag=True, help="Few queries, short HTTP runs, 1k only unless --sizes: a smoke run."
)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep the built KBs here.")
@pass_ctx
def bench_cmd(
    ctx: Context,
    sizes: str | None,
    http: bool | None,
    json_file: Path | None,
    quick: bool,
    workdir: Path | None,
) -> None:
    """Measure indexing, search latency, HTTP throughput and memory; print a table.

    Example: kb bench --sizes shipped,10k --json bench.json
    Example: kb bench --quick
    """
    from kb_engine.bench.run import BenchOptions, format_report, run_bench
    from kb_engine.search.embedding import model_cache_dir

    settings = ctx.settings()
    chosen = _sizes(sizes) if sizes else (["1k"] if quick else list(_ALL_SIZES))
    options = BenchOptions(
        sizes=chosen,
        http=(not quick) if http is None else http,
        quick=quick,
        model=settings["MODEL"],
        threads=max(1, settings["MODEL_THREADS"] or 1),
        runtime=settings["MODEL_RUNTIME"],
        model_cache=model_cache_dir(settings),
        articles_dir=Path(settings["ARTICLES_DIR"]),
        workdir=workdir,
    )
    report = run_bench(options, say=lambda message: click.echo(message, err=True))
    if json_file is not None:
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    click.echo(format_report(report))


COMMANDS = [bench_cmd]
