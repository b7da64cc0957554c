"""What several benchmarks need: percentiles and ratios, written once."""

from __future__ import annotations

import math
import statistics
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


def median_and_range(values: Sequence[float]) -> dict[str, float | list[float]]:
    """Repetitions of one figure: their median (the headline) and range ``[min, max]``."""
    if not values:
        return {"median": math.nan, "range": [math.nan, math.nan]}
    return {"median": round(statistics.median(values), 2), "range": [min(values), max(values)]}


def established(values: Sequence[float], target: float) -> str:
    """``values`` (repetitions of a ratio) against "at least ``target``": ``met`` when every
    repetition reaches it, ``NOT MET`` when none does, ``not established`` when the range
    straddles it (the machine's noise decides, so it is claimed neither way)."""
    if not values:
        return "NOT MET"
    if min(values) >= target:
        return "met"
    if max(values) < target:
        return "NOT MET"
    return "not established"
