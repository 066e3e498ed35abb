"""Article parsing, rendering and `kb lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb_engine.cli.main import cli
from kb_engine.content.articles import Article, parse_article, plain_text, render_markdown, scan_articles
from kb_engine.content.chunking import chunk_article
from kb_engine.errors import ArticleError

GOOD = """---
title: "Reset a forgotten password"
category: accounts
tags: [password, login]
questions:
  - "I forgot my password"
  - "cant remember my pwd"
updated: 2026-11-24
---

Intro line.

## Steps
1. Open the portal.
2. Choose a new password.
"""


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_front_matter_fields_and_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "en/password-reset.md", GOOD)
    article = parse_article(path, tmp_path)
    assert article.id == "en/password-reset"
    assert article.lang == "en"  # from the folder
    assert article.slug == "password-reset"
    assert article.title == "Reset a forgotten password"
    assert article.audience == "public"
    assert article.category == "accounts"
    assert article.tags == ("password", "login")
    assert article.questions == ("I forgot my password", "cant remember my pwd")
    assert article.updated == "2026-11-24"
    assert article.url == "/articles/en/password-reset"


def test_front_matter_lang_and_internal_audience(tmp_path: Path) -> None:
    text = GOOD.replace("category: accounts", "category: accounts\nlang: fr\naudience: internal")
    article = parse_article(write(tmp_path, "misc/x.md", text), tmp_path)
    assert article.id == "fr/x"
    assert not article.is_public


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    raw = ("\ufeff" + GOOD).replace("\n", "\r\n").encode("utf-8")
    article = parse_article(write(tmp_path, "en/crlf.md", raw), tmp_path)
    assert article.title == "Reset a forgotten password"
    assert "\r" not in article.body


BAD_CASES = {
    "no front matter": ("en/a.md", "Just text, no front matter.\n", "no front matter"),
    "invalid yaml": ("en/b.md", "---\ntitle: [unclosed\n---\nBody\n", "invalid YAML"),
    "yaml object tag": (
        "en/c.md",
        "---\ntitle: !!python/object/apply:os.system ['echo hi']\n---\nBody\n",
        "invalid YAML",
    ),
    "missing title": ("en/d.md", "---\ncategory: x\n---\nBody\n", "missing title"),
    "empty body": ("en/e.md", "---\ntitle: T\n---\n\n   \n", "empty body"),
    "not utf-8": ("en/f.md", b"---\ntitle: caf\xe9\n---\nBody\n", "not valid UTF-8"),
    "binary": ("en/g.md", b"---\x00\x01\x02", "binary"),
    "bad audience": ("en/h.md", "---\ntitle: T\naudience: everyone\n---\nBody\n", "audience"),
    "bad slug": ("en/Bad Name.md", "---\ntitle: T\n---\nBody\n", "slug"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_each_bad_file_has_a_clear_reason(tmp_path: Path, case: str) -> None:
    rel, content, reason = BAD_CASES[case]
    path = write(tmp_path, rel, content)
    with pytest.raises(ArticleError) as info:
        parse_article(path, tmp_path)
    assert reason in info.value.reason
    assert rel in str(info.value)


def test_symlink_outside_root_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", "secret.md", GOOD)
    root = tmp_path / "articles"
    (root / "en").mkdir(parents=True)
    (root / "en" / "leak.md").symlink_to(outside)
    result = scan_articles(root)
    assert not result.articles
    assert any("outside the articles root" in p.reason for p in result.problems)


def test_scan_reports_duplicate_id_and_keeps_good_files(tmp_path: Path) -> None:
    write(tmp_path, "en/password-reset.md", GOOD)
    write(tmp_path, "password-reset.md", GOOD.replace("category: accounts", "category: accounts\nlang: en"))
    write(tmp_path, "en/broken.md", "---\ntitle: [\n---\nx\n")
    write(tmp_path, "en/other.md", GOOD.replace("Reset a forgotten password", "Other"))
    result = scan_articles(tmp_path)
    assert [a.id for a in result.articles] == ["en/other", "en/password-reset"]
    reasons = {p.path: p.reason for p in result.problems}
    assert "duplicate id 'en/password-reset'" in reasons["password-reset.md"]
    assert "invalid YAML" in reasons["en/broken.md"]


def test_lint_lists_every_bad_file_and_exits_nonzero(tmp_path: Path, runner) -> None:
    write(tmp_path, "en/good.md", GOOD)
    for rel, content, _ in BAD_CASES.values():
        write(tmp_path, rel, content)
    result = runner.invoke(cli, ["lint", "--no-semantic", "--articles", str(tmp_path)])
    assert result.exit_code == 1
    for rel, _, reason in BAD_CASES.values():
        assert any(rel in line and reason in line for line in result.output.splitlines()), (
            rel,
            result.output,
        )
    report = runner.invoke(cli, ["lint", "--no-semantic", "--json", "--articles", str(tmp_path)])
    data = json.loads(report.output)
    assert data["ok"] is False and len(data["errors"]) == len(BAD_CASES)


def test_lint_passes_on_shipped_articles(runner) -> None:
    root = Path(__file__).resolve().parents[1] / "articles"
    result = runner.invoke(cli, ["lint", "--no-semantic", "--articles", str(root)])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src='https://evil.example'></iframe>",
        '<div style="background:url(javascript:alert(1))" onclick="alert(1)">x</div>',
    ],
)
def test_rendered_markdown_is_sanitised(payload: str) -> None:
    html = render_markdown(f"Text\n\n{payload}\n")
    lowered = html.lower()
    assert "<script" not in lowered
    assert "onerror" not in lowered and "onclick" not in lowered
    assert "javascript:" not in lowered
    assert "<iframe" not in lowered and "style=" not in lowered


def test_article_links_are_rewritten_to_pages() -> None:
    html = render_markdown(
        "See [Reset](password-reset.md) and [ext](https://example.com).", link_base="/articles/en"
    )
    assert 'href="/articles/en/password-reset"' in html
    assert 'href="https://example.com"' in html


def test_chunks_cover_title_questions_and_sections(tmp_path: Path) -> None:
    article = parse_article(write(tmp_path, "en/password-reset.md", GOOD), tmp_path)
    chunks = chunk_article(article)
    kinds = [c.kind for c in chunks]
    assert kinds[0] == "title" and kinds.count("question") == 2 and "section" in kinds
    steps = next(c for c in chunks if c.heading == "Steps")
    assert steps.text.startswith("Reset a forgotten password. Steps.")
    assert "Open the portal" in steps.passage


def test_plain_text_keeps_link_labels() -> None:
    assert plain_text("**Bold** [label](x.md) `code`") == "Bold label code"


def test_language_defaults_when_the_folder_is_not_a_language(tmp_path: Path) -> None:
    """An outside knowledge base laid out by topic still indexes: the first KB language is assumed."""
    article = parse_article(write(tmp_path, "faq/Q-001.md", GOOD), tmp_path)
    assert article.id == "en/Q-001" and article.lang == "en"
    assert parse_article(write(tmp_path, "top.md", GOOD), tmp_path).lang == "en"


def test_snippets_keep_menu_paths_and_what_is_embedded_does_not_change() -> None:
    body = (
        "Intro.\n\n## Steps\n\n1. iPhone: **Settings > Mail > Accounts**, select the account.\n"
        "2. Tap your profile > **settings (gear)** > the account.\n\n> A quote, not a menu.\n"
    )
    article = Article(
        id="en/x", slug="x", lang="en", title="X", body=body, path="en/x.md", sha256="", questions=()
    )
    (section,) = [c for c in chunk_article(article) if c.heading == "Steps"]
    assert section.passage == (
        "1. iPhone: Settings > Mail > Accounts, select the account. "
        "2. Tap your profile > settings (gear) > the account. A quote, not a menu."
    )
    # The embedded text is what it always was (the embedding cache stays valid): separators dropped.
    assert "Settings Mail Accounts , select" in section.text and ">" not in section.text


def test_snippets_leave_tables_out_and_what_is_embedded_does_not_change() -> None:
    body = (
        "Two networks. Pick the right one.\n\n| Network | For |\n|---|---|\n"
        "| **Corp** | Company laptops |\n| **Guest** | Visitors, see [guests](guests.md) |\n"
        "\nAfter the table.\n"
    )
    article = Article(
        id="en/x", slug="x", lang="en", title="X", body=body, path="en/x.md", sha256="", questions=()
    )
    title, intro = chunk_article(article)
    assert title.passage == intro.passage == "Two networks. Pick the right one. After the table."
    assert intro.text == (
        "X. Two networks. Pick the right one. Network For Corp Company laptops Guest Visitors, see guests "
        "After the table."
    )
