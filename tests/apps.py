"""An app instance over a given articles folder and index, on a fresh SQLite database (for fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def served_app(
    tmp_path: Path, articles: Path, index: Path, *, model: str = "hashing", testing: bool = True
) -> Iterator[Any]:
    """The web app (cookies over plain http; Flask's TESTING unless a real server serves it) serving
    `index` built from `articles`."""
    from web import create_app

    app = create_app(
        {
            "ARTICLES_DIR": str(articles),
            "INDEX_DIR": str(index),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'tickets.sqlite3'}",
            "INSTANCE_DIR": str(tmp_path / "instance"),
            "MODEL": model,
            "SESSION_COOKIE_SECURE": False,
            "TESTING": testing,
        }
    )
    try:
        yield app
    finally:
        app.extensions["kb_engine"].dispose()
