"""The one percentile definition behind every figure the project prints: `kb bench`, scripts/loadtest.py and
the support dashboard's times to first response and resolution.

Standard library only: scripts/loadtest.py, which must run without the project's dependencies, imports it
through kb_engine.bench.measure (tests/test_perf.py keeps both so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank `p`th percentile: the smallest value with at least p % of them at or below it
    (always one of the values, never interpolated); NaN for no values.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]
