"""Score fusion: pure functions that turn per-signal scores into one ranking score.

Naive reciprocal-rank fusion throws away how sure each signal is and measurably loses to dense retrieval
alone on FAQ data. Here dense cosine similarity stays on its own (absolute, comparable across queries)
scale, and BM25 is brought onto [0, 1] two ways: relative to the query's best lexical match (ranking) and
saturated in absolute terms (confidence). The weights are chosen on evaluation data (`kb calibrate`).
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


def fuse(dense: np.ndarray, lexical_relative: np.ndarray, lexical_absolute: np.ndarray, *, w_rel: float,
         w_abs: float) -> np.ndarray:  # fmt: skip
    """Linear fusion: dense cosine + weighted relative and absolute lexical evidence."""
    return dense + w_rel * lexical_relative + w_abs * lexical_absolute


def logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))
