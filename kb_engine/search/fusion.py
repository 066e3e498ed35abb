"""Score fusion: pure functions that turn per-signal scores into one ranking score.

Naive reciprocal-rank fusion throws away how sure each signal is and measurably loses to dense retrieval
alone on FAQ data. Here dense cosine similarity stays on its own (absolute, comparable across queries)
scale, and BM25 is standardised per query (z-score over all articles): what counts is how far an
article's lexical match stands out from the rest, which transfers across knowledge bases where raw BM25
magnitudes do not. Measured on our dev set and the public COVID-FAQ set, z-scores beat max-normalised
BM25 and reciprocal-rank fusion; the weights are chosen on evaluation data (`kb calibrate`).
"""

from __future__ import annotations

import numpy as np


def max_normalise(scores: np.ndarray) -> np.ndarray:
    """Scores divided by their maximum (all zeros stay zeros)."""
    top = float(scores.max()) if scores.size else 0.0
    if top <= 0.0:
        return np.zeros_like(scores, dtype=np.float32)
    return (scores / top).astype(np.float32)


def saturate(scores: np.ndarray | float, k: float) -> np.ndarray | float:
    """x / (x + k): maps a non-negative unbounded score to [0, 1), half-way at k."""
    return scores / (scores + k)


def zscore(scores: np.ndarray, cap: float) -> np.ndarray:
    """Standardise scores over the candidates (0 everywhere when they are all equal), capped at ±cap."""
    std = float(scores.std()) if scores.size else 0.0
    if std <= 1e-9:
        return np.zeros_like(scores, dtype=np.float32)
    return np.clip((scores - scores.mean()) / std, -cap, cap).astype(np.float32)


def fuse(dense: np.ndarray, lexical_z: np.ndarray, *, w_lex: float) -> np.ndarray:
    """Linear fusion: dense cosine + weighted standardised lexical evidence."""
    return dense + w_lex * lexical_z


def logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))
