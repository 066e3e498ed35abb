"""Reliability fixtures: the hashing index of tests/conftest.py, copied per test when damaged."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import migrated_sqlite
from web import close_app


@pytest.fixture()
def own_index(tmp_path: Path, hashing_index: Path) -> Path:
    """A private copy of the hashing index, free to damage."""
    copy = tmp_path / "index"
    shutil.copytree(hashing_index, copy, symlinks=True)
    return copy


def make_app(tmp_path: Path, articles_dir: Path, index: Path, **extra: object):
    from web import create_app

    return create_app(
        {
            "ARTICLES_DIR": str(articles_dir),
            "INDEX_DIR": str(index),
            "DATABASE_URL": migrated_sqlite(tmp_path / "tickets.sqlite3"),
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "MODEL": "hashing",
            "SESSION_COOKIE_SECURE": False,
            "TESTING": True,
            **extra,
        }
    )


@pytest.fixture()
def hashing_app(tmp_path: Path, articles_dir: Path, own_index: Path) -> Iterator[object]:
    application = make_app(tmp_path, articles_dir, own_index)
    yield application
    close_app(application)
