"""The production pair (web/production.py: nginx in front of gunicorn) over a small hashing-model index, for
the tests that need the real set-up."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from indexer.build import build_index
from kb_engine.search.embedding import HashingEmbedder
from tests.conftest import SHIPPED, copy_sample

_clients = itertools.count(2)


def new_client_address() -> str:
    """A loopback address no request came from yet (127.0.0.2, .3...: Linux routes all of 127/8 to `lo`).

    nginx's rate and connection limits count per client address: a test that needs a full burst allowance
    connects from a new address instead of sleeping until the allowance of 127.0.0.1 is back."""
    number = next(_clients)
    return f"127.0.{number // 250}.{number % 250 + 2}"


def need_nginx() -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (scripts/services.sh installs it)")


def small_index(tmp: Path) -> tuple[Path, Path]:
    """(articles, index): the sample articles with the shipped routing, indexed with the hashing model."""
    articles = copy_sample(tmp / "articles")
    shutil.copy(SHIPPED / "routing.yml", articles / "routing.yml")
    index = tmp / "index"
    build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    return articles, index


@contextmanager
def served_pair(tmp: Path, *, env: dict[str, str] | None = None, **limits: Any) -> Iterator[Any]:
    """nginx + gunicorn (1 worker, 2 threads) on loopback over a fresh SQLite database."""
    from web.production import ProductionPair, ProxyLimits

    need_nginx()
    articles, index = small_index(tmp)
    app_env = {
        **os.environ,
        "KB_ARTICLES_DIR": str(articles),
        "KB_INDEX_DIR": str(index),
        "KB_MODEL": "hashing",
        "KB_INSTANCE_DIR": str(tmp / "instance"),
        "KB_DATABASE_URL": f"sqlite:///{tmp / 'tickets.sqlite3'}",
        "KB_SECRET_KEY": "production-pair-test",
        "KB_SESSION_COOKIE_SECURE": "false",
        "KB_WEB_WORKERS": "1",
        "KB_WEB_THREADS": "2",
        **(env or {}),
    }
    with ProductionPair(
        app_env, limits=ProxyLimits.from_env(app_env, **limits), prefix=tmp / "nginx"
    ) as pair:
        pair.wait_ready(workers=1)
        yield pair
