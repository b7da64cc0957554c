"""Recording fleet metrics in Redis (workers): histograms and counters, a pipeline at a time.

A ``Batch`` collects observations and writes them in one round trip. Recording
never fails a test case: a Redis error here is logged and the figures are lost,
which is what a metrics system may do.
"""

from __future__ import annotations

import bisect
import re

import redis

from testfleet import keys, logs
from testfleet.metrics import SEP, HistogramSpec

log = logs.get_logger(__name__)

_LABEL = re.compile(r"^[a-z0-9_]{1,40}$")
OTHER = "other"
"""What a label value outside ``[a-z0-9_]{1,40}`` is recorded as (bounded cardinality)."""


def label_value(value: str) -> str:
    """``value`` as a label, or ``other`` when it is not a short plain word."""
    return value if _LABEL.match(value) else OTHER


def bucket_index(spec: HistogramSpec, seconds: float) -> int:
    """The first bucket whose bound is >= ``seconds`` (``len(buckets)``: +Inf)."""
    return bisect.bisect_left(spec.buckets_s, seconds)


class Batch:
    """Observations to write together."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._sums: dict[tuple[str, str], float] = {}

    def observe(self, spec: HistogramSpec, label: str, seconds: float) -> None:
        """One observation of ``spec`` with label value ``label``."""
        seconds = max(0.0, seconds)
        field_prefix = label_value(label) + SEP
        key = keys.metrics_histogram(spec.key)
        index = field_prefix + str(bucket_index(spec, seconds))
        self._counts[(key, index)] = self._counts.get((key, index), 0) + 1
        self._sums[(key, field_prefix + "sum")] = (
            self._sums.get((key, field_prefix + "sum"), 0.0) + seconds
        )

    def count(self, name: str, amount: float = 1, label: str | None = None) -> None:
        """Add ``amount`` to a fleet counter (``label``: its one label's value)."""
        if not amount:
            return
        field = name if label is None else name + SEP + label_value(label)
        if isinstance(amount, int):
            key = (keys.METRICS_COUNTERS, field)
            self._counts[key] = self._counts.get(key, 0) + amount
        else:
            key = (keys.METRICS_COUNTERS, field)
            self._sums[key] = self._sums.get(key, 0.0) + amount

    def __bool__(self) -> bool:
        return bool(self._counts or self._sums)

    def write(self, client: redis.Redis) -> None:
        """Write every observation in one round trip; a Redis error is logged, not raised."""
        if not self:
            return
        pipe = client.pipeline(transaction=False)
        for (key, field), n in self._counts.items():
            pipe.hincrby(key, field, n)
        for (key, field), total in self._sums.items():
            pipe.hincrbyfloat(key, field, total)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("fleet metrics not recorded (%d figures): %s", len(self._counts), exc)
        self._counts.clear()
        self._sums.clear()
