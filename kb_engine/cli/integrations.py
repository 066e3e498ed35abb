"""`kb import`: bring articles in from another tool (and, later in this family, exports out)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kb_engine.cli.context import Context, articles_option, fail, pass_ctx


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "kind",
    required=True,
    type=click.Choice(["zendesk", "freshdesk", "confluence", "html", "docx"]),
    help="What the source is.",
)
@articles_option
@click.option("--dry-run", is_flag=True, help="Write nothing: import into a temporary copy and report.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option(
    "--lang", default=None, help="Language of every article (Confluence, HTML, Word; default detected)."
)
@click.option("--category", default=None, help="Category when the source has none (Confluence, HTML, Word).")
@click.option(
    "--audience", type=click.Choice(["public", "internal"]), default="public", show_default=True,
    help="Audience of Confluence, HTML and Word articles (Zendesk and Freshdesk say it themselves).",
)  # fmt: skip
@pass_ctx
def import_cmd(
    ctx: Context,
    source: Path,
    kind: str,
    articles_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    lang: str | None,
    category: str | None,
    audience: str,
) -> None:
    """Import articles from Zendesk, Freshdesk, Confluence, or a folder of HTML or Word files.

    Writes articles/<lang>/<slug>.md with front matter (`source:` keeps the original id and URL, so a
    re-import updates the same file), copies images to articles/images/, then runs kb lint on what it
    wrote. Exit 1 when lint finds errors in the result.

    \b
    Example: kb import export/zendesk --from zendesk --dry-run
    Example: kb import IT-space.zip --from confluence --lang en --json
    """
    from kb_engine.integrations.importing import import_articles

    settings = ctx.settings(ARTICLES_DIR=articles_dir)
    report = import_articles(
        source,
        kind,
        Path(settings["ARTICLES_DIR"]),
        languages=tuple(settings["LANGUAGES"]),
        dry_run=dry_run,
        lang=lang,
        category=category,
        audience=audience,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for label, paths in (("new", report.written), ("updated", report.updated)):
            for path in paths:
                click.echo(f"{label}: {path}")
        for renamed in report.renamed:
            click.echo(f"renamed: {renamed}")
        for skipped in report.skipped:
            click.echo(f"skipped: {skipped.source}: {skipped.reason}")
        for path, items in report.dropped.items():
            for item in items:
                click.echo(f"dropped: {path}: {item}")
        if report.categories_added:
            click.echo(f"categories added to categories.yml: {', '.join(report.categories_added)}")
        for level in ("errors", "warnings"):
            for problem in report.lint.get(level, []):
                line = f":{problem['line']}" if problem.get("line") else ""
                click.echo(
                    f"{problem['path']}{line}: {level[:-1]}: {problem['reason']}", err=level == "errors"
                )
        click.echo(report.summary())
    if not report.ok:
        fail("kb lint found errors in the imported articles (listed above)")


COMMANDS = [import_cmd]
