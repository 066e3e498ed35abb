"""Security fixtures: the app of tests/conftest.py with the shipped routing, a ticket and a logged search."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apps import app_ticket, served_app
from tests.conftest import SHIPPED
from tests.console.conftest import app_config  # noqa: F401 - the shipped routing, private articles
from tests.databases import migrated_sqlite


def db_path(app) -> str:
    return str(app.config["DATABASE_URL"]).removeprefix("sqlite:///")


def db_snapshot(app) -> list[str]:
    """Every row of every table, as SQL: two equal snapshots mean nothing was written."""
    with sqlite3.connect(db_path(app)) as conn:
        return list(conn.iterdump())


def make_ticket(app, **fields) -> tuple[str, str]:
    """A ticket created through the service, as the web app would; returns (reference, token)."""
    return app_ticket(app, **fields)


HOSTILE_TITLE = '<script>alert("title")</script><img src=x onerror=alert(2)>'
HOSTILE_BODY = """Printer offline? <script>alert(1)</script> Try this first.

<img src=x onerror="alert(3)"> <svg/onload=alert(4)> <iframe src="javascript:alert(5)"></iframe>

[click me](javascript:alert(6)) <a href="jav&#x09;ascript:alert(7)">also</a>

<style>body{background:url(javascript:alert(8))}</style>
"""


def write_hostile_article(articles: Path) -> None:
    import yaml

    front = {
        "title": HOSTILE_TITLE,
        "lang": "en",
        "category": "printing",
        "tags": ["<b onmouseover=alert(9)>printer</b>", "xss"],
        "audience": "public",
        "questions": ["printer offline <script>alert(10)</script>"],
        "updated": "2026-11-24",
    }
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n\n" + HOSTILE_BODY
    (articles / "en" / "hostile-printer.md").write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, articles_dir: Path) -> tuple[Path, Path]:
    """(articles, index): the sample articles plus one hostile article, indexed with the hashing model."""
    from indexer.build import build_index
    from kb_engine.search.embedding import HashingEmbedder

    articles = tmp_path_factory.mktemp("hostile-articles")
    shutil.copytree(articles_dir, articles, dirs_exist_ok=True)
    for name in ("routing.yml", "canned-replies.yml"):
        shutil.copy(SHIPPED / name, articles / name)
    write_hostile_article(articles)
    index = tmp_path_factory.mktemp("hostile-index")
    report = build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    assert not report.problems, report.problems
    return articles, index


@pytest.fixture()
def hostile_app(tmp_path: Path, hostile_index: tuple[Path, Path]):
    """An app (hashing model: fast) serving the hostile article."""
    articles, index = hostile_index
    with served_app(tmp_path, articles, index) as application:
        yield application


@pytest.fixture()
def make_app(tmp_path: Path, hostile_index: tuple[Path, Path]) -> Iterator[Callable[..., Any]]:
    """Apps over the hostile index (hashing model) with extra settings; each on its own SQLite file."""
    from web import close_app, create_app

    made = []
    articles, index = hostile_index

    def make(**config: Any) -> Any:
        app = create_app(
            {
                "ARTICLES_DIR": str(articles),
                "INDEX_DIR": str(index),
                "DATABASE_URL": migrated_sqlite(tmp_path / f"db{len(made)}.sqlite3"),
                "INSTANCE_DIR": str(tmp_path / "instance"),
                "MODEL": "hashing",
                "SESSION_COOKIE_SECURE": False,
                "AUTOMATIONS_EVERY_SECONDS": 0,  # no scheduler thread in tests
                "TESTING": True,
                **config,
            }
        )

        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)
