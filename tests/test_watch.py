"""`kb watch` and `kb serve --watch`: a saved article is searchable within seconds, without a restart."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexer.build import build_index
from indexer.watch import Rebuild, is_source, watch_in_background
from kb_engine.search.searcher import Searcher
from tests.conftest import copy_sample

DEADLINE = 20.0  # seconds a change may take to become searchable, at most
SLUGS = ("password-reset", "printer-offline", "vpn-cannot-connect")


def eventually(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll check() until it returns something truthy; fail with `what` after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {timeout:.0f}s: {what}")


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def top_hit(searcher: Searcher, query: str) -> str | None:
    searcher.reload_if_changed()
    hits = searcher.search(query, k=1, use_cache=False).hits
    return hits[0].id if hits else None


@pytest.mark.parametrize(
    ("rel", "watched"),
    [
        ("en/vpn.md", True),
        ("glossary.yml", True),
        ("fr/sub/deep.md", True),
        ("en/.vpn.md.swp", False),
        ("en/vpn.md~", False),
        (".git/HEAD", False),
        ("out-of-scope.yml", True),
        ("en/notes.yml", False),
        ("images/logo.png", False),
    ],
)
def test_only_articles_and_top_level_yaml_trigger_a_rebuild(tmp_path: Path, rel: str, watched: bool) -> None:
    assert is_source(tmp_path / rel, tmp_path) is watched


def test_a_storm_of_saves_gives_one_rebuild_with_the_last_content(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    index = tmp_path / "index"
    rebuilds: list[Rebuild] = []

    def build():
        return build_index(
            articles, index, model="hashing", embedder_factory=lambda: fake_embedder, progress=False
        )

    thread, stop = watch_in_background(articles, build, on_rebuild=rebuilds.append, quiet=0.5)
    try:
        eventually(lambda: rebuilds, "the initial build")
        assert rebuilds[0].report is not None and rebuilds[0].report.articles == 2 * len(SLUGS)
        target = articles / "en" / "printer-offline.md"
        for i in range(20):
            append(target, f"\nStep {i}: toner wombat{i}.\n")
            time.sleep(0.05)
        eventually(lambda: len(rebuilds) > 1, "a rebuild after the storm")
        time.sleep(1.5)  # long enough for any straggling rebuild to show
        storm = rebuilds[1:]
        assert 1 <= len(storm) <= 2, [r.summary() for r in storm]
        assert storm[0].changed == ["en/printer-offline.md"]
        searcher = Searcher(index, model="hashing", embedder=fake_embedder)
        assert top_hit(searcher, "toner wombat19") == "en/printer-offline"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_broken_save_is_reported_and_the_watch_goes_on(tmp_path: Path, fake_embedder) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    rebuilds: list[Rebuild] = []

    def build():
        return build_index(
            articles, tmp_path / "i", model="hashing", embedder_factory=lambda: fake_embedder, progress=False
        )

    thread, stop = watch_in_background(articles, build, on_rebuild=rebuilds.append, quiet=0.3)
    try:
        eventually(lambda: rebuilds, "the initial build")
        (articles / "en" / "half-written.md").write_text("---\ntitle: [oops\n---\nbody\n", encoding="utf-8")
        eventually(lambda: len(rebuilds) > 1, "a rebuild after the broken save")
        assert "en/half-written.md:2: error: invalid YAML" in rebuilds[-1].summary()
        assert "not published" in rebuilds[-1].summary()
        (articles / "en" / "half-written.md").write_text("---\ntitle: Fixed\n---\nkoala body\n", "utf-8")
        eventually(lambda: len(rebuilds) > 2, "a rebuild after the fix")
        assert rebuilds[-1].report is not None and rebuilds[-1].report.articles == 2 * len(SLUGS) + 1
    finally:
        stop.set()
        thread.join(10)


def test_kb_watch_makes_an_edited_and_a_new_article_searchable(tmp_path: Path, kb_process) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    index = tmp_path / "index"
    proc = kb_process(
        "watch", "--articles", str(articles), "--index-dir", str(index), "--quiet-period", "0.3",
        env={"KB_MODEL": "hashing"},
    )  # fmt: skip
    eventually(lambda: (index / "current").exists() or proc.poll() is not None, "the initial build")
    assert proc.poll() is None, proc.log_path.read_text()
    searcher = Searcher(index, model="hashing")
    assert top_hit(searcher, "platypus escalator") != "en/vpn-cannot-connect"

    append(articles / "en" / "vpn-cannot-connect.md", "\n## Platypus\nRestart the platypus escalator.\n")
    eventually(lambda: top_hit(searcher, "platypus escalator") == "en/vpn-cannot-connect", "the edit")
    (articles / "en" / "kiosk-printer.md").write_text(
        "---\ntitle: Kiosk printer\n---\nThe narwhal kiosk prints badges.\n", encoding="utf-8"
    )
    eventually(lambda: top_hit(searcher, "narwhal kiosk badges") == "en/kiosk-printer", "the new article")
    log = proc.log_path.read_text()
    assert "rebuilt" in log and "(1 changed: en/kiosk-printer.md)" in log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_top_hit(port: int, query: str) -> str | None:
    url = f"http://127.0.0.1:{port}/api/v1/search?" + urllib.parse.urlencode({"q": query, "k": 1})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            hits = json.load(response)["hits"]
    except (urllib.error.URLError, ConnectionError):
        return None
    return hits[0]["id"] if hits else ""


def serve_watch(tmp_path: Path, kb_process, articles: Path) -> tuple[Any, int]:
    """`kb serve --watch` (hashing model) over `articles` on a free port, once it answers searches;
    returns the process and its port."""
    port = free_port()
    proc = kb_process(
        "serve", "--watch", "--port", str(port),
        env={
            "KB_MODEL": "hashing", "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(tmp_path / "index"),
            "KB_INSTANCE_DIR": str(tmp_path / "instance"),
            "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
        },
    )  # fmt: skip
    eventually(lambda: api_top_hit(port, "printer offline") or proc.poll() is not None, "the server", 90)
    assert proc.poll() is None, proc.log_path.read_text()
    return proc, port


def test_kb_serve_watch_serves_an_edit_without_a_restart(tmp_path: Path, kb_process) -> None:
    articles = copy_sample(tmp_path / "articles", SLUGS)
    _proc, port = serve_watch(tmp_path, kb_process, articles)
    assert api_top_hit(port, "printer offline") == "en/printer-offline"

    append(articles / "en" / "password-reset.md", "\n## Axolotl\nThe axolotl gateway resets it.\n")
    eventually(lambda: api_top_hit(port, "axolotl gateway") == "en/password-reset", "the edit, served")
