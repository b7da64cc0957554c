"""What several benchmarks need: percentiles and ratios, written once."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded to 2 places; NaN when the baseline is 0."""
    return round(numerator / denominator, 2) if denominator else math.nan


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"
