"""Approximate-nearest-neighbour backend: FAISS over L2-normalised vectors (inner product = cosine).

Small indexes are exact (flat). Above `HNSW_THRESHOLD` vectors an HNSW graph answers in well under the
flat scan's time; the benchmark measures its recall against flat. Index files (flat or HNSW) are
memory-mapped read-only so that server workers share the pages instead of each holding a copy.

Search results are chunk positions (rows of the build's chunks.json); -1 means no chunk. A flat index
holds the chunks in that order. An HNSW graph is wrapped in an id map, so that a re-index after a few
edits can keep the previous graph (`update`): the new chunks' vectors are added, the vectors of chunks that
are gone are mapped to -1 (tombstones, skipped by the searcher) and every kept vector is mapped to its
chunk's new position. Building a 100k-chunk graph takes most of a minute; an update takes a second or two.
When tombstones pass `MAX_TOMBSTONES` of the graph, the indexer builds it anew.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import faiss
import numpy as np

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Chosen on 100k synthetic chunks shaped like the model's (kb_engine/bench/), one thread, 300 queries:
#   efSearch / candidates   1000 asked: 384 -> 2.08 ms p50, recall@10 vs flat 0.993
#                           384 / 200 -> 1.73 ms, 0.993;  320 / 256 -> 1.49 ms, 0.992;  256 / 200 -> 1.26 ms,
#                           0.990;  200 / 200 -> 1.06 ms, 0.986.  (efConstruction 160 instead of 80: 0.993 at
#                           200 / 200 in 1.19 ms, but twice the build time, which an author waits for.)
HNSW_EF_SEARCH = 320
# Chunks an HNSW search returns to the searcher (the others score just below the last of them): a few
# hundred cover the best chunks of the articles that can make the first page; asking for more than
# efSearch makes the graph walk longer.
HNSW_CANDIDATES = 256
# Share of an updated HNSW graph's vectors that may be tombstones before the indexer rebuilds it.
MAX_TOMBSTONES = 0.1


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
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        mapped = faiss.IndexIDMap(graph)
        if len(vectors):
            mapped.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        return mapped
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add(vectors)
    return index


def graph_of(index: faiss.Index) -> faiss.IndexHNSW | None:
    """The HNSW graph of an index (bare, or wrapped in an id map), or None for a flat index."""
    if isinstance(index, faiss.IndexIDMap):
        index = faiss.downcast_index(index.index)
    return index if isinstance(index, faiss.IndexHNSW) else None


def kind_of(index: faiss.Index) -> str:
    return "hnsw" if graph_of(index) is not None else "flat"


def id_map(index: faiss.Index) -> np.ndarray:
    """Chunk position of each stored vector, in storage order (-1: a tombstone)."""
    if isinstance(index, faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    return np.arange(index.ntotal, dtype=np.int64)


def tombstones(index: faiss.Index) -> int:
    return int(np.count_nonzero(id_map(index) < 0))


def update(
    index: faiss.Index, positions: np.ndarray, new_vectors: np.ndarray, new_positions: np.ndarray
) -> faiss.Index:
    """Re-map an HNSW index (from `build`) to a new chunk list, in place, and return it.

    Args:
        index: an id-mapped HNSW index as `build` or `update` made it (read with `load`).
        positions: for each stored vector, in storage order, its chunk's new position, or -1 when the
            chunk is gone.
        new_vectors: vectors of the chunks the index does not hold yet, (m, dim).
        new_positions: their chunk positions, (m,).
    """
    if not isinstance(index, faiss.IndexIDMap) or graph_of(index) is None:
        raise ValueError("only an id-mapped HNSW index can be updated")
    positions = np.asarray(positions, dtype=np.int64)
    if positions.shape != (index.ntotal,):
        raise ValueError(f"{positions.size} positions for {index.ntotal} stored vectors")
    faiss.copy_array_to_vector(positions, index.id_map)
    if len(new_vectors):
        index.add_with_ids(
            np.ascontiguousarray(new_vectors, dtype=np.float32), np.asarray(new_positions, dtype=np.int64)
        )
    return index


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path, *, writable: bool = False) -> faiss.Index:
    """Read an index file, memory-mapped read-only (pages shared between processes) unless `writable`
    (a private copy that `update` can change)."""
    index = None
    if not writable:
        with contextlib.suppress(RuntimeError):  # an index type faiss cannot map: read it whole
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    if index is None:
        index = faiss.read_index(str(path))
    graph = graph_of(index)
    if graph is not None:
        graph.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search(index: faiss.Index, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-n (scores, ids) per query row; ids of -1 mean fewer than n vectors exist."""
    n = max(1, min(n, index.ntotal))
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), n)
    return scores, ids


def flat_matrix(index: faiss.Index) -> np.ndarray | None:
    """A zero-copy view of a flat index's vectors (exact scores for every chunk in one product)."""
    if not isinstance(index, faiss.IndexFlat) or index.ntotal == 0:
        return None
    xb = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d)
    matrix = np.asarray(xb).reshape(index.ntotal, index.d)
    matrix.flags.writeable = False  # the pages are a shared read-only mapping of vectors.faiss
    return matrix
