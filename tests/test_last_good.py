"""Authors cannot break the help centre (issue 30): a bad edit keeps the last good version published, a
brand-new broken file and a draft are never published, and what silently misled is now an error with the
file's line and a hint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indexer.build import build_index
from kb_engine.cli.main import cli
from kb_engine.content.articles import scan_articles
from kb_engine.insights.gaps import write_draft
from kb_engine.search.searcher import Searcher
from tests.conftest import ROOT, copy_sample, csrf_token, login_staff
from tests.test_watch import api_top_hit, eventually, serve_watch
from tests.test_web import db_rows

SLUGS = ("password-reset", "printer-offline", "vpn-cannot-connect")


def build(articles: Path, index: Path, embedder) -> object:
    return build_index(articles, index, model="hashing", embedder_factory=lambda: embedder, progress=False)


def break_yaml(path: Path) -> None:
    """An author's typo: the title's closing quote deleted."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    title = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[title] = 'title: "' + lines[title].removeprefix("title:").strip().strip('"')
    path.write_text("\n".join(lines), encoding="utf-8")


def test_a_broken_edit_keeps_the_last_good_version_published(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    index = tmp_path / "index"
    build(articles, index, fake_embedder)
    before = Searcher(index, model="hashing", embedder=fake_embedder)
    old = before.article("en/password-reset")
    top = before.search("forgot my password", k=1, use_cache=False).hits[0].id

    target = articles / "en" / "password-reset.md"
    break_yaml(target)
    target.write_text(target.read_text(encoding="utf-8") + "\nGiraffe zebra okapi.\n", encoding="utf-8")
    report = build(articles, index, fake_embedder)

    assert report.kept == ["en/password-reset"]
    [problem] = report.problems
    assert (problem.path, problem.line) == ("en/password-reset.md", 2)
    assert "unclosed quote" in problem.reason and "last good version stays published" in problem.reason
    after = Searcher(index, model="hashing", embedder=fake_embedder)
    assert after.article("en/password-reset") == old  # the version from before the typo
    assert after.search("forgot my password", k=1, use_cache=False).hits[0].id == top
    assert after.health()["article_problems"] == 1 and after.health()["articles_kept"] == 1

    # A second build from the same broken file still keeps it (the last good version chains).
    (articles / "en" / "printer-offline.md").write_text(
        (articles / "en" / "printer-offline.md").read_text(encoding="utf-8") + "\nMore toner.\n", "utf-8"
    )
    report = build(articles, index, fake_embedder)
    assert report.kept == ["en/password-reset"]
    assert Searcher(index, model="hashing", embedder=fake_embedder).article("en/password-reset") == old

    # Fixed: the new text is published, nothing is kept any more.
    target.write_text(target.read_text(encoding="utf-8").replace('title: "', "title: ", 1), "utf-8")
    report = build(articles, index, fake_embedder)
    assert report.kept == [] and report.problems == []
    fixed = Searcher(index, model="hashing", embedder=fake_embedder)
    assert "Giraffe zebra okapi" in fixed.article("en/password-reset").body


def test_a_new_broken_file_and_a_draft_are_not_published(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    index = tmp_path / "index"
    (articles / "en" / "new-broken.md").write_text("---\ntitle: 'Wombat\n---\nWombat burrow.\n", "utf-8")
    (articles / "en" / "wombat-draft.md").write_text(
        "---\ntitle: Wombat draft\nstatus: draft\n---\nTODO: the wombat burrow answer.\n", "utf-8"
    )
    (articles / "en" / "wombat-todo.md").write_text(
        "---\ntitle: Wombat unfinished\ncategory: TODO\n---\nWombat burrow.\n\n## Steps\n\n1. TODO\n", "utf-8"
    )
    report = build(articles, index, fake_embedder)
    searcher = Searcher(index, model="hashing", embedder=fake_embedder)
    ids = {a.id for a in searcher.articles}
    assert not ids & {"en/new-broken", "en/wombat-draft", "en/wombat-todo"}
    assert report.drafts == 1 and report.kept == []
    reasons = {p.path: (p.line, p.reason) for p in report.problems}
    assert reasons["en/new-broken.md"][0] == 2 and "not published" in reasons["en/new-broken.md"][1]
    line, reason = reasons["en/wombat-todo.md"]
    assert line == 3 and "TODO left from the template (line 3, 9)" in reason and "status: draft" in reason
    hits = searcher.search("wombat burrow", k=5, use_cache=False, include_internal=True).hits
    assert not any(h.id.startswith("en/wombat") for h in hits)


def test_a_draft_from_a_content_gap_is_not_searchable(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    write_draft(articles, title="Book a quokka room", lang="en", questions=["book a quokka meeting room"])
    report = build(articles, tmp_path / "index", fake_embedder)
    assert report.drafts == 1 and report.problems == []
    searcher = Searcher(tmp_path / "index", model="hashing", embedder=fake_embedder)
    hits = searcher.search("book a quokka meeting room", k=10, use_cache=False, include_internal=True).hits
    assert "en/book-a-quokka-room" not in {h.id for h in hits}
    assert "en/book-a-quokka-room" not in {a.id for a in searcher.articles}


def test_marking_a_live_article_draft_unpublishes_it(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    index = tmp_path / "index"
    build(articles, index, fake_embedder)
    target = articles / "en" / "printer-offline.md"
    target.write_text(target.read_text(encoding="utf-8").replace("---\n", "---\nstatus: draft\n", 1), "utf-8")
    build(articles, index, fake_embedder)
    assert "en/printer-offline" not in {a.id for a in Searcher(index, model="hashing").articles}


@pytest.mark.parametrize(
    ("rel", "text", "line", "expected"),
    [
        ("en/a.md", '---\ntitle: "Reset\nlang: en\ntags: [a]\nupdated: 2024-01-01\n---\nbody\n', 2,
         "unclosed quote: the quote opened on this line is never closed"),
        ("en/a.md", "---\ntitle: x\n\tlang: en\n---\nbody\n", 3, "replace the tab with spaces"),
        ("en/a.md", "---\ntitle: x\nlang:en\n---\nbody\n", 3, "after the colon on line 3: `lang: en`"),
        ("en/a.md", "---\ntitle:x\n---\nbody\n", 2, "put a space after the colon"),
        ("en/a.md", "---\ntitle: Error: disk full\n---\nbody\n", 2, 'must be quoted, e.g. title: "Error'),
        ("en/a.md", "---\ntitle: x\ntags: [a, b\nupdated: 2024-01-01\n---\nbody\n", 3, "the [ opened"),
        ("en/a.md", "---\ntitle: x\nlang: fr\n---\nbody\n", 3,
         "`lang: fr` disagrees with the file's folder en/: move the file to fr/ or set `lang: en`"),
        ("en/a.md", "---\ntitle: x\nstatus: review\n---\nbody\n", 3, "`status` must be draft or published"),
    ],
)  # fmt: skip
def test_front_matter_errors_point_at_the_file_line_with_a_hint(
    tmp_path: Path, rel: str, text: str, line: int, expected: str
) -> None:
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text(text, encoding="utf-8")
    [problem] = scan_articles(tmp_path).problems
    assert problem.line == line, problem
    assert expected in problem.reason


def test_slugs_differing_only_by_case_are_an_error_and_the_lowercase_one_wins(tmp_path: Path) -> None:
    for name in ("Password-Reset", "password-reset"):
        (tmp_path / "fr").mkdir(exist_ok=True)
        (tmp_path / "fr" / f"{name}.md").write_text(f"---\ntitle: {name}\n---\nbody\n", encoding="utf-8")
    scan = scan_articles(tmp_path)
    assert [a.path for a in scan.articles] == ["fr/password-reset.md"]
    [problem] = scan.problems
    assert problem.path == "fr/Password-Reset.md"
    assert "differs only by case from 'fr/password-reset'" in problem.reason


def test_a_todo_in_prose_is_not_a_template_placeholder(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "lists.md").write_text(
        "---\ntitle: Share a TODO list\n---\nOpen the TODO list app and tap Share.\n", encoding="utf-8"
    )
    assert [a.id for a in scan_articles(tmp_path).articles] == ["en/lists"]


def test_kb_index_json_and_text_report_the_kept_article(tmp_path: Path, runner) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    args = ["index", "--articles", str(articles), "--index-dir", str(tmp_path / "index"), "--quiet"]
    env = {"KB_MODEL": "hashing"}
    assert runner.invoke(cli, args, env=env).exit_code == 0
    break_yaml(articles / "fr" / "printer-offline.md")
    result = runner.invoke(cli, [*args, "--json"], env=env)
    report = json.loads(result.stdout)
    assert report["kept"] == ["fr/printer-offline"]
    assert report["problems"][0]["line"] == 2 and report["problems"][0]["path"] == "fr/printer-offline.md"
    result = runner.invoke(cli, args, env=env)
    assert f"{articles}/fr/printer-offline.md:2: error: invalid YAML front matter: unclosed quote" in (
        result.output
    )
    assert "still served as the last good build had them: fr/printer-offline" in result.output


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_yaml_typo_under_serve_watch_keeps_the_page_and_its_searches(tmp_path: Path, kb_process) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    proc, port = serve_watch(tmp_path, kb_process, articles)
    base = f"http://127.0.0.1:{port}"
    queries = ("I forgot my password", "mot de passe oublié", "printer offline", "vpn")
    before = {q: api_top_hit(port, q) for q in queries}
    assert before["I forgot my password"] == "en/password-reset"

    break_yaml(articles / "en" / "password-reset.md")
    eventually(lambda: "kept from the last good build" in proc.log_path.read_text(), "the broken rebuild")
    assert "en/password-reset.md:2: error: invalid YAML front matter: unclosed quote" in (
        proc.log_path.read_text()
    )
    assert status(f"{base}/articles/en/password-reset") == 200
    assert {q: api_top_hit(port, q) for q in queries} == before

    def health() -> dict:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            return json.load(response)

    # The server looks for a new build at most once a second, so the log line can come first.
    eventually(lambda: health()["articles_kept"] == 1, "the kept article in /healthz")
    assert health()["article_problems"] == 1

    # A draft saved beside it is never served to customers.
    (articles / "en" / "kiosk.md").write_text(
        "---\ntitle: Kiosk narwhal\nstatus: draft\n---\nThe narwhal kiosk prints badges.\n", "utf-8"
    )
    eventually(lambda: "1 changed: en/kiosk.md" in proc.log_path.read_text(), "the draft's rebuild")
    assert api_top_hit(port, "narwhal kiosk badges") != "en/kiosk"
    assert status(f"{base}/articles/en/kiosk") == 404


def test_staff_visits_are_not_customer_views(app, client) -> None:
    login_staff(app, client, "ana", "author")
    token = csrf_token(client, "/articles/en/printer-offline")
    answer = client.post(
        "/events/view", json={"article": "en/printer-offline"}, headers={"X-CSRFToken": token}
    ).get_json()
    assert answer == {"ok": True, "s": None, "counted": False}
    assert db_rows(app, "SELECT count(*) FROM feedback") == [(0,)]


def test_article_tables_have_ruled_cells() -> None:
    css = (ROOT / "web" / "static" / "app.css").read_text(encoding="utf-8")
    assert ".article th, .article td { border: 1px solid" in css
