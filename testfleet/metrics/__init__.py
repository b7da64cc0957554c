"""Fleet metrics for Prometheus: recorded by the workers in Redis, exported by the API.

Why Redis and one exporter rather than ``/metrics`` on every worker: workers are
Celery prefork pools that autoscaling starts and stops all day. Per-process
metrics would need prometheus_client's multiprocess directory on every host,
a scrape target per worker pod, and would lose a pod's counts when it is scaled
away. The fleet's state already lives in Redis (queue lists, heartbeats, runs),
so the few numbers only a worker sees (durations, pool events, AI usage) go
there too, a pipeline per attempt, and the API's ``/metrics`` reads it all at
scrape time (``FleetCollector``; the runs' statuses and the Grid at most once per
``export.CACHE_S``): one target, the same figures from any API replica, nothing lost
when a worker goes.

``record`` writes, ``export`` reads; the families and buckets are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HistogramSpec:
    """A fleet histogram: its Prometheus name, help, label and bucket bounds (seconds)."""

    key: str
    """Its Redis hash (``keys.metrics_histogram(key)``)."""
    name: str
    help: str
    label: str
    buckets_s: tuple[float, ...]


CASE_DURATION = HistogramSpec(
    "case_duration",
    "testfleet_case_duration_seconds",
    "Test case duration from start to final status, in seconds, by final status",
    "status",
    (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0),
)
STEP_DURATION = HistogramSpec(
    "step_duration",
    "testfleet_step_duration_seconds",
    "Duration of one step that ran, in seconds, by action (step type)",
    "action",
    (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SESSION_START = HistogramSpec(
    "session_start",
    "testfleet_session_start_seconds",
    "Time to get a browser session for an attempt, in seconds: 'pooled' (a reset pooled "
    "session lent) or 'new' (a session opened on the Grid)",
    "kind",
    (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
HISTOGRAMS = (CASE_DURATION, STEP_DURATION, SESSION_START)

# Counter fields in keys.METRICS_COUNTERS ("name" or "name<TAB>label value").
POOL_RESETS = "pool_resets"
"""Label ``result``: ``ok`` (reset and lent again) or ``failed`` (failed its reset)."""
POOL_REPLACEMENTS = "pool_replacements"
"""Label ``reason``: ``failed_check`` or ``recycled`` (max uses / max age)."""
SESSIONS_OPENED = "sessions_opened"
AI_ANALYSES = "ai_analyses"
"""Label ``result``: ``called``, ``cached``, ``failed``, ``skipped``."""
AI_TOKENS = "ai_tokens"
"""Label ``kind``: ``input`` or ``output``."""
AI_COST_USD = "ai_cost_usd"

SEP = "\t"
"""Between a field's name (or label value) and the rest."""
