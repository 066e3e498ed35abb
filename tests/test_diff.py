"""`kb diff`: the search impact of an article change, working tree against a git ref."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from indexer.build import build_index
from kb_engine.authoring.impact import export_articles
from kb_engine.cli.main import cli
from kb_engine.errors import KBError
from kb_engine.helpdesk.db import make_engine, make_session_factory, upgrade
from kb_engine.insights.analytics import log_search
from kb_engine.search.index_files import current_build
from kb_engine.search.searcher import SearchResponse
from tests.conftest import copy_sample

ARTICLES = {
    "en/printer-offline.md": (
        "Printer offline",
        "The printer shows offline: restart it and check its cable.",
    ),
    "en/vpn-cannot-connect.md": (
        "VPN cannot connect",
        "Open GlobalProtect and sign in. The encrypted tunnel to the office network needs your password.",
    ),
    "en/wifi-no-internet.md": (
        "Wi-Fi connected but no internet",
        "Forget the wireless network and join it again.",
    ),
}
QUERIES = [
    ("en", "printer-offline", "my scanner is jammed"),  # fixed by the change
    ("en", "vpn-cannot-connect", "encrypted tunnel to the office"),  # broken by the change
    ("en", "wifi-no-internet", "wireless network join again"),  # unchanged
]


def write_article(root: Path, rel: str, title: str, body: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: {title}\ncategory: network\n---\n\n{body}\n", encoding="utf-8")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Author", "-c", "user.email=author@example.com", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git repository whose articles/ is committed, then edited in the working tree: the edit teaches
    the printer article about jammed scanners and moves the tunnel sentence from the VPN article to Wi-Fi."""
    repo = tmp_path / "repo"
    articles = repo / "kb" / "articles"
    for rel, (title, body) in ARTICLES.items():
        write_article(articles, rel, title, body)
    queries = repo / "queries.tsv"
    queries.write_text(
        "lang\texpected\tquery\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in QUERIES), "utf-8"
    )
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "articles")
    printer = ARTICLES["en/printer-offline.md"]
    write_article(
        articles, "en/printer-offline.md", printer[0], printer[1] + " If the scanner is jammed, too."
    )
    write_article(articles, "en/vpn-cannot-connect.md", "VPN cannot connect", "Open GlobalProtect, sign in.")
    wifi = ARTICLES["en/wifi-no-internet.md"]
    write_article(
        articles,
        "en/wifi-no-internet.md",
        wifi[0],
        wifi[1] + " The encrypted tunnel to the office is not Wi-Fi.",
    )
    write_article(articles, "en/new-article.md", "Badge reader", "The badge reader beeps twice.")
    return repo


def diff_env(tmp_path: Path, database: Path | None = None) -> dict[str, str]:
    # Threshold 0: every query with a hit is answered, so the verdicts hang on the first article alone.
    return {
        "KB_MODEL": "hashing",
        "KB_ANSWER_THRESHOLD": "0",
        "KB_INSTANCE_DIR": str(tmp_path / "instance"),
        "KB_INDEX_DIR": str(tmp_path / "no-index"),
        "KB_DATABASE_URL": f"sqlite:///{database or tmp_path / 'absent.sqlite3'}",
    }


def log_searches(database: Path, queries: list[str]) -> None:
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        for query in queries:
            log_search(
                session, SearchResponse(query, answered=False, confidence=0.1), channel="web", visitor=None
            )
        session.commit()
    engine.dispose()


def diff_args(repo: Path) -> list[str]:
    return ["diff", "--articles", str(repo / "kb" / "articles"), "--queries", str(repo / "queries.tsv")]


def test_diff_shows_the_query_a_change_fixes_and_the_one_it_breaks(
    tmp_path: Path, repo: Path, runner
) -> None:
    database = tmp_path / "kb.sqlite3"
    logged = ["encrypted tunnel to the office"] * 3 + ["badge reader beeps", "wireless network"]
    log_searches(database, logged)
    status_before = git(repo, "status", "--porcelain")
    result = runner.invoke(cli, [*diff_args(repo), "HEAD", "--json"], env=diff_env(tmp_path, database))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    assert report["articles"] == {
        "added": ["en/new-article"],
        "removed": [],
        "modified": ["en/printer-offline", "en/vpn-cannot-connect", "en/wifi-no-internet"],
    }
    impact = report["eval"]
    assert [c["query"] for c in impact["gained"]] == ["my scanner is jammed"]
    assert impact["gained"][0]["after"][0] == "printer-offline"
    assert [c["query"] for c in impact["lost"]] == ["encrypted tunnel to the office"]
    assert impact["lost"][0]["before"][0] == "vpn-cannot-connect"
    assert impact["lost"][0]["after"][0] == "wifi-no-internet"
    assert impact["before"]["hit1"] == impact["after"]["hit1"] == pytest.approx(2 / 3, abs=1e-3)

    logged = report["logged"]
    assert logged["searches"] == 3  # distinct queries
    changed = {c["query"]: (c["before"][0], c["after"][0]) for c in logged["changed"]}
    assert changed["encrypted tunnel to the office"] == ("vpn-cannot-connect", "wifi-no-internet")
    assert changed["badge reader beeps"][1] == "new-article"
    # The ref was read from git, never checked out: the working tree is as it was.
    assert git(repo, "status", "--porcelain") == status_before


def test_diff_text_report_and_fail_on_loss_for_ci(tmp_path: Path, repo: Path, runner) -> None:
    args = diff_args(repo)
    result = runner.invoke(cli, args, env=diff_env(tmp_path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "articles at HEAD -> working tree" in out
    assert "  added: en/new-article" in out
    # In a writer's words: how many test questions get the right article first, before and after.
    first = next(line for line in out.splitlines() if "get the right article first" in line)
    assert "2 of 3 (67%) -> 2 of 3 (67%)" in first and first.endswith("(no change)"), first
    assert "hit@1" not in out and "MRR" not in out
    assert "1 gained their answer:\n  + [en] 'my scanner is jammed' expected printer-offline:" in out
    assert "1 lost it (`kb diff --accept` if the new answer is the right one):\n"  \
        "  - [en] 'encrypted tunnel to the office' expected vpn-cannot-connect: " \
        "vpn-cannot-connect -> wifi-no-internet" in out  # fmt: skip
    assert "logged searches: none" in out
    gate = runner.invoke(cli, [*args, "--fail-on-loss", "--no-logged"], env=diff_env(tmp_path))
    assert gate.exit_code == 1


def test_diff_with_no_change_reports_nothing_moved(tmp_path: Path, repo: Path, runner) -> None:
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the change")
    report = json.loads(runner.invoke(cli, [*diff_args(repo), "--json"], env=diff_env(tmp_path)).stdout)
    assert report["articles"] == {"added": [], "removed": [], "modified": []}
    assert report["eval"]["gained"] == report["eval"]["lost"] == []
    assert report["eval"]["before"] == report["eval"]["after"]


def test_export_refuses_an_unknown_ref_or_a_folder_not_in_git(tmp_path: Path, repo: Path) -> None:
    with pytest.raises(KBError, match="unknown git ref"):
        export_articles(repo / "kb" / "articles", "no-such-branch", tmp_path)
    (repo / "untracked").mkdir()
    with pytest.raises(KBError, match="does not exist at HEAD"):
        export_articles(repo / "untracked", "HEAD", tmp_path)
    exported = export_articles(repo / "kb" / "articles", "HEAD", tmp_path / "out")
    assert sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*.md")) == sorted(ARTICLES)


def test_diff_answers_with_the_served_index_calibration(
    tmp_path: Path, repo: Path, runner, fake_embedder
) -> None:
    served = tmp_path / "served-index"
    build_index(
        repo / "kb" / "articles",
        served,
        model="hashing",
        embedder_factory=lambda: fake_embedder,
        progress=False,
    )
    manifest_path = current_build(served) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["calibration"] = {"params": {"threshold": -1.0}}  # every query with a hit is answered
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    env = {**diff_env(tmp_path), "KB_ANSWER_THRESHOLD": None}
    default = json.loads(runner.invoke(cli, [*diff_args(repo), "--json"], env=env).stdout)
    assert default["eval"]["before"]["answered"] < 1.0
    env["KB_INDEX_DIR"] = str(served)
    report = json.loads(runner.invoke(cli, [*diff_args(repo), "--json"], env=env).stdout)
    assert report["eval"]["before"]["answered"] == report["eval"]["after"]["answered"] == 1.0


def test_diff_names_an_uncovered_new_article_and_accept_records_the_new_answer(
    tmp_path: Path, repo: Path, runner
) -> None:
    args = [*diff_args(repo), "--no-logged"]
    report = json.loads(runner.invoke(cli, [*args, "--json"], env=diff_env(tmp_path)).stdout)
    assert report["uncovered"] == ["en/new-article"]
    text = runner.invoke(cli, args, env=diff_env(tmp_path)).stdout
    assert "no eval query covers the new article en/new-article: add two or three" in text
    before = (repo / "queries.tsv").read_text(encoding="utf-8")
    accepted = runner.invoke(cli, [*args, "--accept", "--fail-on-loss"], env=diff_env(tmp_path))
    assert accepted.exit_code == 0, accepted.output  # the accepted loss is no loss any more
    assert "accepted: [en] 'encrypted tunnel to the office' now expects wifi-no-internet" in accepted.stdout
    after = (repo / "queries.tsv").read_text(encoding="utf-8")
    assert after == before.replace(
        "en\tvpn-cannot-connect\tencrypted tunnel to the office",
        "en\twifi-no-internet\tencrypted tunnel to the office",
    )
    again = json.loads(runner.invoke(cli, [*args, "--json"], env=diff_env(tmp_path)).stdout)
    assert again["eval"]["lost"] == []


def test_eval_article_says_which_questions_it_answers_and_which_go_elsewhere(tmp_path: Path, runner) -> None:
    articles = copy_sample(tmp_path / "articles", ("password-reset", "printer-offline"))
    env = {"KB_MODEL": "hashing", "KB_ANSWER_THRESHOLD": "0", "KB_INDEX_DIR": str(tmp_path / "index")}
    assert runner.invoke(cli, ["index", "--articles", str(articles), "--quiet"], env=env).exit_code == 0
    queries = tmp_path / "q.tsv"
    queries.write_text(
        "lang\texpected\tquery\nen\tpassword-reset\tforgot my password reset\n"
        "en\tpassword-reset\tprinter offline paper\nen\tprinter-offline\tforgot my password reset please\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["eval", str(queries), "--article", "password-reset"], env=env)
    assert result.exit_code == 0, result.output
    assert "password-reset: 2 eval queries expect it" in result.output
    assert "it is the first answer to 1 of them:\n    + 'forgot my password reset'" in result.output
    assert "1 of them get another article first:\n    - 'printer offline paper' -> printer-offline" in (
        result.output
    )
    taken = "meant for another article:\n    ~ 'forgot my password reset please' (expected printer-offline)"
    assert taken in result.output
