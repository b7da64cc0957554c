"""Retention: expired runs leave Redis and the artifact store.

A run's own keys (record, cases, specs, state, event stream) carry a Redis TTL of
``retention.run_ttl_s`` from creation, so Redis drops them by itself. What a TTL
cannot reach is swept here, periodically:

- the run indexes (``tf:runs`` and every ``tf:project:<p>:runs``), sorted by
  creation time: entries older than ``run_ttl_s`` are removed, so listings never
  show a run whose record is gone, and the indexes stay bounded;
- the run's keys themselves, deleted at once rather than left to lazy expiry;
- the artifact store (local directory or S3, ``testfleet.artifacts``): a run's
  artifacts go with the run, and any run whose newest artifact is older than
  ``artifacts_ttl_s`` goes too (orphans, or a shorter artifact TTL);
- the global event stream: entries older than ``events_ttl_s`` (XTRIM MINID).

Every process may call ``maybe_sweep``: a Redis lock (``keys.SWEEP_LOCK``, SET NX
with the interval as expiry) lets one of them sweep per interval, so running the
sweeper in every worker costs one SET per interval each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from testfleet import keys, logs
from testfleet.artifacts import ArtifactStore
from testfleet.settings import Settings
from testfleet.store.indexes import created_before_query
from testfleet.store.writes import RunStore

log = logs.get_logger(__name__)

SWEEP_BATCH = 500
"""Expired runs removed per Redis pipeline round trip."""


@dataclass
class SweepReport:
    """What one sweep removed."""

    runs: int = 0
    """Runs removed from the indexes (their keys deleted)."""
    artifact_dirs: int = 0
    """Runs whose artifacts were deleted from the artifact store."""
    artifacts: int = 0
    """Artifacts deleted (screenshots, thumbnails, logs, reports)."""
    events: int = 0
    """Entries trimmed from the global event stream."""


def sweep(
    client: redis.Redis, settings: Settings, artifacts: ArtifactStore, now_ms: int | None = None
) -> SweepReport:
    """Remove every run created before ``now_ms - run_ttl_s`` and old artifacts.

    ``now_ms`` defaults to the wall clock (it is a parameter so tests and the
    benchmark can sweep a simulated future without waiting). Idempotent.
    """
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    retention = settings.retention
    run_cutoff_ms = now - retention.run_ttl_s * 1000
    report = SweepReport()
    store = RunStore(client, settings)
    expired: list[str] = []
    while batch := store.ask(created_before_query(run_cutoff_ms, SWEEP_BATCH)):
        store.remove_runs(batch)
        expired += batch
    report.runs = len(expired)
    store.trim_project_indexes(run_cutoff_ms)
    events_cutoff_ms = now - retention.events_ttl_s * 1000
    if events_cutoff_ms > 0:
        report.events = int(
            client.xtrim(keys.EVENTS_STREAM, minid=str(events_cutoff_ms), approximate=True)
        )
    _sweep_artifacts(artifacts, set(expired), now - retention.artifacts_ttl_s * 1000, report)
    return report


def _sweep_artifacts(
    store: ArtifactStore, expired: set[str], cutoff_ms: int, report: SweepReport
) -> None:
    """Delete the artifacts of expired runs and of runs not written to since ``cutoff_ms``.

    A run still writing artifacts has a newest write after the cutoff, so it stays.
    The runs to delete are collected first: deleting while listing would move an
    object store's listing under its own feet.
    """
    doomed = [r.run_id for r in store.runs() if r.run_id in expired or r.newest_ms < cutoff_ms]
    for run_id in doomed:
        report.artifacts += store.delete_run(run_id)
        report.artifact_dirs += 1


def maybe_sweep(
    client: redis.Redis, settings: Settings, artifacts: ArtifactStore, owner: str
) -> SweepReport | None:
    """Sweep unless another process swept within ``sweep_interval_s``.

    Returns the report, or None when this process did not hold the lock.
    """
    interval_ms = max(1, int(settings.retention.sweep_interval_s * 1000))
    if not client.set(keys.SWEEP_LOCK, owner, nx=True, px=interval_ms):
        return None
    report = sweep(client, settings, artifacts)
    if report.runs or report.artifact_dirs:
        log.info(
            "retention: removed %d expired runs, the artifacts of %d runs (%d), %d events",
            report.runs,
            report.artifact_dirs,
            report.artifacts,
            report.events,
        )
    return report
