"""Approximate-nearest-neighbour backend: FAISS over L2-normalised vectors (inner product = cosine).

Small indexes are exact (flat). Above `HNSW_THRESHOLD` vectors an HNSW graph answers in well under the
flat scan's time; the benchmark measures its recall against flat. Flat files are memory-mapped read-only
so that server workers share the pages instead of each holding a copy.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Chosen on 100k synthetic chunks shaped like the model's (kb_engine/bench.py), one thread, 300 queries:
#   efSearch / candidates   1000 asked: 384 -> 2.08 ms p50, recall@10 vs flat 0.993
#                           384 / 200 -> 1.73 ms, 0.993;  320 / 256 -> 1.49 ms, 0.992;  256 / 200 -> 1.26 ms,
#                           0.990;  200 / 200 -> 1.06 ms, 0.986.  (efConstruction 160 instead of 80: 0.993 at
#                           200 / 200 in 1.19 ms, but twice the build time, which an author waits for.)
HNSW_EF_SEARCH = 320
# Chunks an HNSW search returns to the searcher (the others score just below the last of them): a few
# hundred cover the best chunks of the articles that can make the first page; asking for more than
# efSearch makes the graph walk longer.
HNSW_CANDIDATES = 256


def build(vectors: np.ndarray, *, kind: str = "auto") -> faiss.Index:
    """Build an index over row vectors (already normalised).

    Args:
        vectors: float32 array (n, dim).
        kind: "flat", "hnsw" or "auto" (flat below HNSW_THRESHOLD vectors).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if kind == "auto":
        kind = "hnsw" if len(vectors) >= HNSW_THRESHOLD else "flat"
    if kind == "flat":
        index: faiss.Index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add(vectors)
    return index


def kind_of(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    """Read an index file; flat ones are memory-mapped read-only (pages shared between processes)."""
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search(index: faiss.Index, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-n (scores, ids) per query row; ids of -1 mean fewer than n vectors exist."""
    n = max(1, min(n, index.ntotal))
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), n)
    return scores, ids
