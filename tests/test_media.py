"""Images of the articles folder: shown on article pages, served only when an article shows them."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.build import build_index
from kb_engine.search.embedding import HashingEmbedder
from tests.apps import served_app, wsgi_server
from tests.conftest import copy_sample, login_staff


def png(width: int, height: int) -> bytes:
    """A real PNG (grey pixels), so that a browser can decode it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


INTERNAL = """---
title: Toner stock room
category: printing
audience: internal
---

The spare toner is in the stock room. ![Stock room](img/stock-room.png)
"""


@pytest.fixture()
def media_app(tmp_path: Path) -> Iterator[Any]:
    articles = copy_sample(tmp_path / "articles")
    (articles / "en" / "img").mkdir()
    (articles / "en" / "img" / "tray.png").write_bytes(png(40, 20))
    (articles / "en" / "img" / "stock-room.png").write_bytes(png(8, 8))
    (articles / "en" / "img" / "unlisted.png").write_bytes(png(8, 8))
    (articles / "en" / "img" / "diagram.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "utf-8"
    )
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"not for customers")
    os.symlink(outside, articles / "en" / "img" / "escape.png")
    page = articles / "en" / "printer-offline.md"
    page.write_text(
        page.read_text("utf-8")
        + "\n## Where the tray is\n\n![The tray](img/tray.png)\n![Diagram](img/diagram.svg)\n"
        + "![Escape](img/escape.png)\n![Above](../../secret.png)\n",
        "utf-8",
    )
    (articles / "en" / "toner-stock.md").write_text(INTERNAL, "utf-8")
    index = tmp_path / "index"
    build_index(articles, index, model="hashing", embedder_factory=HashingEmbedder, progress=False)
    with served_app(tmp_path, articles, index) as app:
        yield app


def test_article_images_are_served_from_the_articles_folder(media_app) -> None:
    client = media_app.test_client()
    html = client.get("/articles/en/printer-offline").get_data(as_text=True)
    assert 'src="/kb-media/en/img/tray.png"' in html
    image = client.get("/kb-media/en/img/tray.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data == (Path(media_app.config["ARTICLES_DIR"]) / "en/img/tray.png").read_bytes()
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    image.close()
    api = client.get("/api/v1/articles/en/printer-offline").get_json()
    assert 'src="/kb-media/en/img/tray.png"' in api["html"]


def test_only_images_a_public_article_shows_inside_the_root(media_app) -> None:
    client = media_app.test_client()
    for path in [
        "/kb-media/en/img/unlisted.png",  # in the folder, shown by no article
        "/kb-media/en/img/stock-room.png",  # shown by an internal article only
        "/kb-media/en/img/escape.png",  # shown, but a symlink out of the root
        "/kb-media/secret.png",
        "/kb-media/../secret.png",
        "/kb-media/en/printer-offline.md",  # not an image
        "/kb-media/en/img/nothing.png",
    ]:
        assert client.get(path).status_code == 404, path
    svg = client.get("/kb-media/en/img/diagram.svg")
    assert svg.status_code == 200
    assert "sandbox" in svg.headers["Content-Security-Policy"]
    assert "script-src" not in svg.headers["Content-Security-Policy"]  # default-src 'none': no script
    svg.close()


def test_staff_see_internal_articles_images_and_authors_any_image(media_app) -> None:
    client = media_app.test_client()
    assert client.get("/console/kb-media/en/img/stock-room.png").status_code in (302, 303)  # login first
    login_staff(media_app, client, "ana", role="agent-L1")
    page = client.get("/console/articles/en/toner-stock").get_data(as_text=True)
    assert 'src="/console/kb-media/en/img/stock-room.png"' in page
    shown = client.get("/console/kb-media/en/img/stock-room.png")
    assert shown.status_code == 200
    shown.close()
    assert client.get("/console/kb-media/en/img/unlisted.png").status_code == 404
    assert client.get("/authors/media/en/img/unlisted.png").status_code == 403  # agents are not authors
    author = media_app.test_client()
    login_staff(media_app, author, "bo", role="author")
    unlisted = author.get("/authors/media/en/img/unlisted.png")
    assert unlisted.status_code == 200  # a file not indexed yet
    unlisted.close()
    assert author.get("/authors/media/en/img/escape.png").status_code == 404
    preview = author.get("/authors/preview/en/printer-offline").get_data(as_text=True)
    assert 'src="/authors/media/en/img/tray.png"' in preview


def test_a_browser_shows_the_article_image_under_the_csp(media_app, page) -> None:
    violations: list[str] = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    with wsgi_server(media_app) as url:
        page.goto(f"{url}/articles/en/printer-offline")
        tray = page.locator('img[alt="The tray"]')
        tray.wait_for()
        page.wait_for_function("document.querySelector('img[alt=\"The tray\"]').complete")
        assert tray.evaluate("img => img.naturalWidth") == 40
        assert not violations
