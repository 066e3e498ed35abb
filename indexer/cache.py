"""Embedding cache: an unchanged chunk is never embedded twice (keyed by model and exact text)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def cache_key(model: str, text: str) -> str:
    # By model, not by runtime: torch and ONNX Runtime vectors share entries. The ONNX export is used only
    # once every verification text embeds at cosine >= 0.99999 of torch's (0.9999999 measured), so an
    # index may mix vectors of the two runtimes without any effect on rankings.
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """A small SQLite table of float32 vectors, safe against crashes (WAL, one transaction per batch)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS embedding (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)"
        )

    def get_many(self, keys: Sequence[str], dim: int | None = None) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(f"SELECT key, dim, vec FROM embedding WHERE key IN ({marks})", part)
            for key, row_dim, blob in rows:
                if dim is None or row_dim == dim:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO embedding (key, dim, vec) VALUES (?, ?, ?)",
                [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self.conn.close()
