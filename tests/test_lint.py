"""`kb lint`: links, images, translations, dates, routing, placeholders and the semantic checks."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest

from kb_engine.authoring.lint import LintResult, lint_articles
from kb_engine.cli.main import cli
from kb_engine.content.articles import MARKDOWN_EXTENSIONS, scan_articles
from kb_engine.content.links import references
from tests.conftest import SHIPPED, copy_sample

TODAY = dt.date(2026, 11, 24)


def article(
    root: Path,
    rel: str,
    body: str = "Intro line.\n\n## Steps\n1. Do it.\n",
    *,
    title: str = "An article",
    category: str = "printing",
    audience: str = "public",
    updated: str | None = "2026-11-01",
    questions: tuple[str, ...] = ("it broke", "it does not work", "help it is broken"),
) -> Path:
    lines = ["---", f'title: "{title}"', f"category: {category}", f"audience: {audience}", "questions:"]
    lines += [f'  - "{q}"' for q in questions]
    lines += [f"updated: {updated}"] if updated else []
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*lines, "---", "", body]), encoding="utf-8")
    return path


def both(root: Path, slug: str, body: str = "Intro line.\n", **fields: str) -> None:
    for lang in ("en", "fr"):
        article(root, f"{lang}/{slug}.md", body, **fields)  # type: ignore[arg-type]


def reasons(items: list) -> list[str]:
    return [str(p) for p in items]


def lint_page(root: Path, body: str) -> LintResult:
    """Lint `root` once en/page.md (its body from line 12) and its translation are added."""
    article(root, "en/page.md", body)
    article(root, "fr/page.md")
    return lint_articles(root, today=TODAY)


def test_markdown_that_only_looks_like_a_broken_link_is_not_one(tmp_path: Path) -> None:
    both(tmp_path, "target")
    (tmp_path / "en" / "img").mkdir()
    (tmp_path / "en" / "img" / "chart (2).png").write_bytes(b"\x89PNG")
    body = "\n".join(
        [
            "An autolink <https://status.example.com/incidents?id=(42)> and <support@example.com>.",  # 12
            "A URL with parentheses: [Foo](https://en.wikipedia.org/wiki/Foo_(bar)), [t](target.md).",
            "An image with parentheses: ![chart](<img/chart (2).png>)",
            "",
            "Indented code is an example, not a link:",
            "",
            "    [x](y)",
            "    ![shot](missing.png)",
            "",
            "A [real broken one](nowhere.md), a \\[escaped](not-a-link.md) and a [ref][r].",  # 21
            "",
            "[r]: also-nowhere.md",
        ]
    )
    result = lint_page(tmp_path, body)
    assert reasons(result.problems) == [
        "en/page.md:21: broken link to nowhere.md: no article en/nowhere",
        "en/page.md:21: broken link to also-nowhere.md: no article en/also-nowhere",
    ]


class _RenderedRefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: set[tuple[bool, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        self.found |= {(tag == "img", v) for k, v in attrs if k == wanted and v is not None}


def test_lint_reads_the_links_and_images_the_pages_show_in_every_shipped_article() -> None:
    """Lint (markdown-it-py) and the renderer (Python-Markdown) are two parsers: they must agree."""
    articles = scan_articles(SHIPPED).articles
    assert len(articles) > 50
    compared = 0
    for art in articles:
        page = _RenderedRefs()
        page.feed(markdown.markdown(art.body, extensions=list(MARKDOWN_EXTENSIONS)))
        linted = {(r.is_image, r.target) for r in references(art.body) if r.shown}
        assert linted == page.found, art.path
        compared += len(linted)
    assert compared > 0


def test_links_and_images_are_checked_with_their_line(tmp_path: Path) -> None:
    both(tmp_path, "target")
    both(tmp_path, "runbook", audience="internal")
    (tmp_path / "en" / "img").mkdir()
    (tmp_path / "en" / "img" / "ok.png").write_bytes(b"\x89PNG")
    body = "\n".join(
        [
            "Intro: see [the target](target.md#steps) and [the site](https://example.com).",  # line 12
            "Broken: [gone](missing-article.md) and [French](../fr/target.md).",
            "Internal: [runbook](runbook.md), also [by url](/articles/en/runbook).",
            'Images: ![fine](img/ok.png) ![lost](img/nope.png) <img src="img/gone.gif">',
            "Remote: ![logo](https://cdn.example.com/logo.png)",
            "`[in code](not-checked.md)`",
            "```",
            "[in a block](not-checked-either.md)",
            "```",
            "[ref]: other-missing.md",
        ]
    )
    result = lint_page(tmp_path, body)
    assert reasons(result.problems) == [
        "en/page.md:13: broken link to missing-article.md: no article en/missing-article",
        "en/page.md:13: link ../fr/target.md is not turned into an article page: link to an article "
        "of the same language as `slug.md`, to another language as `/articles/<lang>/<slug>`",
        "en/page.md:14: links to internal article en/runbook, which customers cannot open",
        "en/page.md:14: links to internal article en/runbook, which customers cannot open",
        "en/page.md:15: image img/nope.png does not exist",
        "en/page.md:15: image img/gone.gif does not exist",
        "en/page.md:21: broken link to other-missing.md: no article en/other-missing",
    ]
    remote = [w for w in reasons(result.warnings) if "remote image" in w]
    assert len(remote) == 1 and "en/page.md:16:" in remote[0] and "Content-Security-Policy" in remote[0]


def test_missing_translation_is_a_warning_except_for_internal_articles(tmp_path: Path) -> None:
    article(tmp_path, "en/only-english.md")
    article(tmp_path, "fr/seulement-interne.md", audience="internal")
    both(tmp_path, "complete")
    result = lint_articles(tmp_path, today=TODAY)
    assert not result.problems
    assert reasons(result.warnings) == ["en/only-english.md: missing translation: no fr/only-english.md"]


def test_translations_that_disagree_on_category_are_reported(tmp_path: Path) -> None:
    article(tmp_path, "en/vpn.md", category="network")
    article(tmp_path, "fr/vpn.md", category="security")
    result = lint_articles(tmp_path, today=TODAY)
    assert reasons(result.warnings) == [
        "fr/vpn.md: translations disagree on category: 'security' here, 'network' in en/vpn.md"
    ]


def test_stale_missing_and_future_dates_are_warnings(tmp_path: Path) -> None:
    both(tmp_path, "old", updated="2025-10-01")
    both(tmp_path, "undated", updated=None)
    both(tmp_path, "future", updated="2027-06-01")
    both(tmp_path, "fresh", updated="2026-01-01")
    warnings = reasons(lint_articles(tmp_path, today=TODAY, stale_days=365).warnings)
    assert "en/old.md: stale: `updated` 2025-10-01 is 419 days old (over 365): check it is still right and " \
        "update the date" in warnings  # fmt: skip
    assert "en/undated.md: no `updated` date: cannot tell whether it is stale" in warnings
    assert "en/future.md: `updated` 2027-06-01 is in the future" in warnings
    assert not [w for w in warnings if "fresh" in w]
    assert len(warnings) == 6
    assert not lint_articles(tmp_path, today=TODAY, stale_days=500).warnings[0].reason.startswith("stale")


def test_too_few_questions_and_unrouted_categories_are_warnings(tmp_path: Path) -> None:
    both(tmp_path, "one-question", questions=("printer dead",))
    both(tmp_path, "unrouted", category="gardening")
    (tmp_path / "routing.yml").write_text(
        "default: {tier: L1, team: service-desk}\ncategories:\n  printing: {tier: L1, team: desk}\n",
        encoding="utf-8",
    )
    warnings = reasons(lint_articles(tmp_path, today=TODAY).warnings)
    assert "en/one-question.md: only 1 `questions`: write 3 to 6 different phrasings" in warnings
    assert (
        "en/unrouted.md:3: category 'gardening' is not in routing.yml: its tickets take the default route"
        in warnings
    )


def test_a_broken_routing_file_is_an_error(tmp_path: Path) -> None:
    both(tmp_path, "page")
    (tmp_path / "routing.yml").write_text("categories:\n  printing: {tier: L9}\n", encoding="utf-8")
    result = lint_articles(tmp_path, today=TODAY)
    assert [p.path for p in result.problems] == ["routing.yml"]
    assert "L9" in result.problems[0].reason


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("out-of-scope.yml", "hr:\n  title: Payroll\n  examples: [not, a, mapping]\n", "examples"),
        ("out-of-scope.yml", "hr: [\n", "invalid YAML"),
        ("learned-questions.yml", "en/no-such-page:\n  - my thing broke\n", "not an article"),
        ("canned-replies.yml", "greeting:\n  en: {title: Hello}\n", "needs a `text`"),
        ("canned-replies.yml", "greeting: [\n", "not valid YAML"),
    ],
)
def test_broken_support_files_are_errors(tmp_path: Path, name: str, text: str, expected: str) -> None:
    both(tmp_path, "page")
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = lint_articles(tmp_path, today=TODAY)
    assert [p.path for p in result.problems] == [name], result.problems
    assert expected in result.problems[0].reason


def test_shipped_support_files_lint_clean_and_a_missing_canned_language_warns(tmp_path: Path) -> None:
    result = lint_articles(SHIPPED, today=TODAY)
    assert not result.problems
    both(tmp_path, "page")
    (tmp_path / "canned-replies.yml").write_text(
        "greeting:\n  en:\n    title: Hello\n    text: Hello, how can we help?\n", encoding="utf-8"
    )
    result = lint_articles(tmp_path, today=TODAY)
    assert not result.problems
    assert any(w.path == "canned-replies.yml" and "no fr version" in w.reason for w in result.warnings)


def test_cli_exit_code_is_for_errors_and_strict_makes_warnings_fail(tmp_path: Path, runner) -> None:
    article(tmp_path, "en/only-english.md")
    base = ["lint", "--no-semantic", "--articles", str(tmp_path)]
    warned = runner.invoke(cli, base)
    assert warned.exit_code == 0, warned.output
    assert "1 files checked, 0 errors, 1 warnings (semantic checks off)" in warned.output
    assert runner.invoke(cli, [*base, "--strict"]).exit_code == 1
    article(tmp_path, "en/linked.md", "See [nowhere](nowhere.md).\n")
    failed = runner.invoke(cli, [*base, "--json"])
    assert failed.exit_code == 1
    data = json.loads(failed.output)
    assert data["ok"] is False and data["semantic"] is False
    assert data["errors"] == [
        {"path": "en/linked.md", "line": 12, "reason": "broken link to nowhere.md: no article en/nowhere"}
    ]
    assert {"path": "en/linked.md", "line": None, "reason": "missing translation: no fr/linked.md"} in (
        data["warnings"]
    )


def test_cli_stale_days_option(tmp_path: Path, runner) -> None:
    both(tmp_path, "page", updated="2000-01-01")
    base = ["lint", "--no-semantic", "--articles", str(tmp_path)]
    loose = runner.invoke(cli, [*base, "--stale-days", "100000"])
    assert "0 warnings" in loose.output
    strict = runner.invoke(cli, [*base, "--stale-days", "30"])
    assert "stale" in strict.output and strict.exit_code == 0


def test_cli_semantic_checks_run_through_the_embedding_cache(tmp_path: Path, runner) -> None:
    both(tmp_path, "page")
    env = {"KB_MODEL": "hashing"}
    off = runner.invoke(cli, ["lint", "--json", "--articles", str(tmp_path)], env=env)
    assert json.loads(off.output)["semantic"] is False  # the hashing embedder says nothing about meaning
    index = tmp_path / "index"
    on = runner.invoke(
        cli, ["lint", "--json", "--semantic", "--articles", str(tmp_path), "--index-dir", str(index)], env=env
    )
    assert on.exit_code == 0, on.output
    assert json.loads(on.output)["semantic"] is True
    assert (index / "cache.sqlite3").is_file()


@pytest.mark.model
def test_semantic_checks_name_a_near_duplicate_pair_and_a_misplaced_question(
    tmp_path: Path, cached_embed
) -> None:
    root = copy_sample(tmp_path / "articles")
    clean = lint_articles(root, today=TODAY, embed=cached_embed)
    assert clean.semantic
    assert not [w for w in reasons(clean.warnings) if "near-duplicate" in w or "answered better" in w]

    original = (root / "en" / "printer-offline.md").read_text(encoding="utf-8")
    intro = original.split("---\n", 2)[2].strip().split("\n", 1)[0]
    copy = original.replace(intro, "When the printer will not print, follow these checks.")
    (root / "en" / "printer-not-printing.md").write_text(copy, encoding="utf-8")
    reset = root / "en" / "password-reset.md"
    reset.write_text(
        reset.read_text(encoding="utf-8").replace(
            "questions:\n", 'questions:\n  - "my printer shows offline and nothing prints"\n', 1
        ),
        encoding="utf-8",
    )
    warnings = reasons(lint_articles(root, today=TODAY, embed=cached_embed).warnings)
    duplicates = [w for w in warnings if "near-duplicate" in w]
    assert len(duplicates) == 1
    assert duplicates[0].startswith("en/printer-not-printing.md: near-duplicate of en/printer-offline")
    assert re.search(r"similarity (0\.9[2-9]|1\.00)", duplicates[0])
    misplaced = [w for w in warnings if "answered better" in w]
    assert len(misplaced) == 1
    assert misplaced[0].startswith(
        "en/password-reset.md: question 'my printer shows offline and nothing prints' is answered better by "
        "en/printer-"
    )


def test_shipped_articles_have_no_broken_links_nor_missing_translations() -> None:
    result = lint_articles(SHIPPED, today=TODAY)
    assert not result.problems, reasons(result.problems)
    assert not result.warnings, reasons(result.warnings)


def jargon_warnings(result: LintResult) -> list[str]:
    return [str(w) for w in result.warnings if "desk jargon" in w.reason]


def test_desk_jargon_in_a_public_article_warns_with_its_line_internal_articles_are_exempt(
    tmp_path: Path,
) -> None:
    body = (
        "Intro line.\n\n## Before escalating\n\nL2 checks the L2TP settings; see `L3 runbook`.\n\n"
        "```\nN2 ticket triage\n```\n\nThe technician helps you.\n"
    )
    article(tmp_path, "en/page.md", body, title="Wi-Fi: hours and tiers")
    article(tmp_path, "fr/page.md", "Intro.\n\nLe niveau 2 installe le logiciel tiers ; on va escalader.\n")
    article(tmp_path, "en/desk.md", body, audience="internal")
    found = jargon_warnings(lint_articles(tmp_path, today=TODAY))
    assert [w.split(": desk jargon")[0] for w in found] == [
        "en/page.md:2",
        "en/page.md:14",
        "en/page.md:16",
        "fr/page.md:14",
    ]
    title, heading, line, french = found
    assert 'in the title of a public article: "tiers"' in title
    assert '"escalating"' in heading
    assert '"L2";' in line  # L2TP is a protocol, code is code: neither is flagged
    assert '"niveau 2", "escalader"' in french  # French "tiers" is a third party, not a tier
    assert "say who helps them" in line


def test_the_jargon_list_is_a_setting_and_empty_turns_the_check_off(tmp_path: Path, runner) -> None:
    both(tmp_path, "page", "Intro line.\n\nOpen it in Jira, then escalate.\n")
    base = ["lint", "--no-semantic", "--articles", str(tmp_path), "--json"]
    default = json.loads(runner.invoke(cli, base).output)["warnings"]
    assert [w["reason"].split(";")[0] for w in default] == ['desk jargon of a public article: "escalate"'] * 2
    custom = json.loads(runner.invoke(cli, base, env={"KB_LINT_JARGON": "jira, en:escalat*"}).output)
    assert [(w["path"], w["reason"].split(";")[0]) for w in custom["warnings"]] == [
        ("en/page.md", 'desk jargon of a public article: "Jira", "escalate"'),
        ("fr/page.md", 'desk jargon of a public article: "Jira"'),
    ]
    assert json.loads(runner.invoke(cli, base, env={"KB_LINT_JARGON": ""}).output)["warnings"] == []
