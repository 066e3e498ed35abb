"""The index directory on disk, shared by the indexer (writer) and the searcher (readers).

    <index_dir>/
      current -> builds/<build id>      symlink, switched atomically (os.replace) after a build is complete
      builds/<build id>/
        manifest.json                   format version, model, dimension, article hashes, calibration
        articles.json, chunks.json      article records and chunk table, in row order
        vectors.faiss                   FAISS index of the chunk vectors
        lexical/                        BM25 per language (bm25s files) + lexical.json
        glossary.json                   the glossary the build was made with
      cache.sqlite3                     embedding cache, keyed by (model, chunk text)
      .lock                             held by the one indexer allowed at a time

A build is written under `builds/.tmp-*`, fsynced, renamed, and only then made current: a crash or a kill
at any moment leaves the previous build serving.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kb_engine.content.files import atomic_write_text
from kb_engine.errors import IndexMismatch, IndexMissing

FORMAT_VERSION = 2  # 2: per-field BM25 (lexical/<lang>/<field>), ranking and confidence fitted at index time
CURRENT = "current"
BUILDS = "builds"
MANIFEST = "manifest.json"


def current_build(index_dir: Path) -> Path:
    """The directory of the build being served; IndexMissing if none was ever published."""
    link = Path(index_dir) / CURRENT
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        raise IndexMissing(
            f"no index in {index_dir}: build one with `kb index --index-dir {index_dir}`"
        ) from None
    except OSError as exc:
        raise IndexMissing(f"cannot read the index pointer {link}: {exc}") from exc
    path = Path(index_dir) / target
    if not (path / MANIFEST).is_file():
        raise IndexMissing(f"index build {path} has no manifest: re-index with `kb index`")
    return path


def current_build_id(index_dir: Path) -> str | None:
    try:
        return Path(os.readlink(Path(index_dir) / CURRENT)).name
    except OSError:
        return None


def read_manifest(build_dir: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def check_manifest(manifest: dict[str, Any], *, model: str | None) -> None:
    """Refuse an index of another format version or built with another model, saying to re-index."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexMismatch(
            f"the index has format version {version}, this kb-engine reads version {FORMAT_VERSION}: "
            "re-index with `kb index`"
        )
    if model is not None and manifest.get("model") != model:
        raise IndexMismatch(
            f"the index was built with model {manifest.get('model')!r} "
            f"but the configured model is {model!r}: re-index with `kb index` (or set KB_MODEL back)"
        )


def write_json(path: Path, data: Any) -> None:
    """Write JSON durably: to a temporary file, fsync, then rename over the target."""
    # dumps, not dump: json.dump streams through the pure-Python encoder, several times slower on the
    # chunk table of a large KB.
    atomic_write_text(path, json.dumps(data, ensure_ascii=False))
