"""Exporting fleet metrics to Prometheus: a collector that reads Redis (and the Grid)
when scraped. Registered on the API's registry, so the API's ``/metrics`` is the
fleet's one scrape target (see the package docstring for why).

What a scrape costs is bounded by the fleet's shape, never by how many runs it keeps:
the queue lengths, heartbeats, counters and histograms are a dozen Redis commands and
read fresh every time; the two slow parts, counting the newest ``RUNS_SCANNED`` runs'
statuses (one HGET each) and asking the Grid for its status, are kept for ``CACHE_S``
and shared by every scrape meanwhile (scrapes arriving while one is read wait for it).
However many scrapers ask, and however often, an API process walks the runs and asks
the Grid at most once per ``CACHE_S``.

Families (every one present on every scrape, zeros included, so dashboards and
alerts never see a series appear from nothing):

====================================  =======  =============================================
testfleet_queue_depth{priority}       gauge    cases waiting, per priority list
testfleet_cases_running               gauge    cases being run now (live workers' heartbeats)
testfleet_worker_slots                gauge    cases the live workers can run at once
testfleet_workers{state}              gauge    workers alive / silent (no beat for 20 s)
testfleet_worker_heartbeat_age_seconds gauge   per worker: seconds since its last beat
testfleet_grid_up                     gauge    1 when the Grid answered its status
testfleet_grid_slots_free / _capacity    gauge    browser slots on UP nodes
testfleet_grid_session_queue          gauge    new-session requests waiting in the Grid
testfleet_runs{status}                gauge    kept runs by status (newest 10,000)
testfleet_case_duration_seconds       hist.    by final status
testfleet_step_duration_seconds       hist.    by action
testfleet_session_start_seconds       hist.    by kind (pooled / new)
testfleet_pool_resets_total{result}   counter  pooled sessions reset before a lend
testfleet_pool_replacements_total     counter  {reason}: failed_check / recycled
testfleet_sessions_opened_total       counter  new browser sessions opened
testfleet_ai_analyses_total{result}   counter  called / cached / failed / skipped
testfleet_ai_tokens_total{kind}       counter  input / output
testfleet_ai_cost_usd_total           counter  estimated spend
testfleet_fleet_metrics_up            gauge    0 when Redis could not be read this scrape
====================================  =======  =============================================
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from testfleet import keys, logs
from testfleet import metrics as fm
from testfleet.errors import InfrastructureError
from testfleet.fleet.broker import queue_lists
from testfleet.fleet.gridstatus import GridCapacity, read_capacity
from testfleet.fleet.state import STALE_AFTER_S, read_workers
from testfleet.results import FINAL_STATUSES, PRIORITY_LEVELS, RUN_STATUSES
from testfleet.settings import Settings
from testfleet.store import RunReader
from testfleet.store.indexes import newest_runs_query

log = logs.get_logger(__name__)

RUNS_SCANNED = 10_000
"""Newest runs whose status ``testfleet_runs`` counts (bounds a scrape's Redis work)."""
CACHE_S = 5.0
"""How long one count of the runs and one Grid status answer every scrape (those
families are at most this old; the others are read on every scrape)."""
GRID_TIMEOUT_S = 2.0
"""How long a scrape waits for the Grid's status before reporting it down."""
AI_RESULTS = ("called", "cached", "failed", "skipped")


@dataclass(frozen=True)
class _Counter:
    """A counter family read from one field of ``keys.METRICS_COUNTERS`` (per label value:
    ``field`` + ``fm.SEP`` + value)."""

    family: str
    help: str
    field: str
    label: str = ""
    """The family's one label ("" for none)."""
    always: tuple[str, ...] = ()
    """Label values shown (at 0) before they are first counted."""


_COUNTERS: tuple[_Counter, ...] = (
    _Counter(
        "testfleet_pool_resets",
        "Pooled browser sessions reset before a lend: ok, or failed (then replaced)",
        fm.POOL_RESETS,
        "result",
        ("ok", "failed"),
    ),
    _Counter(
        "testfleet_pool_replacements",
        "Pooled browser sessions quit and replaced, by reason",
        fm.POOL_REPLACEMENTS,
        "reason",
        ("failed_check", "recycled"),
    ),
    _Counter("testfleet_sessions_opened", "New browser sessions opened", fm.SESSIONS_OPENED),
    _Counter(
        "testfleet_ai_analyses",
        "Screenshot analyses by result",
        fm.AI_ANALYSES,
        "result",
        AI_RESULTS,
    ),
    _Counter("testfleet_ai_tokens", "Model tokens used", fm.AI_TOKENS, "kind", ("input", "output")),
    _Counter(
        "testfleet_ai_cost_usd",
        "Estimated model spend in USD (prices in settings)",
        fm.AI_COST_USD,
    ),
)


T = TypeVar("T")


class Kept(Generic[T]):
    """A value computed at most once per ``ttl_s`` seconds; callers meanwhile get the kept
    one, and callers arriving while it is computed wait for it (thread-safe: the API
    serves scrapes on a thread pool). A computation that raises keeps nothing."""

    def __init__(self, compute: Callable[[], T], ttl_s: float) -> None:
        self._compute = compute
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at_s: float | None = None

    def get(self) -> T:
        with self._lock:
            if self._at_s is None or time.monotonic() - self._at_s >= self._ttl_s:
                self._value = self._compute()
                self._at_s = time.monotonic()
            return cast(T, self._value)


class FleetCollector(Collector):
    """Reads the fleet's figures from Redis and the Grid on every ``collect``; the runs'
    statuses and the Grid's status are kept for ``cache_s`` seconds (0: read every time)."""

    def __init__(self, client: redis.Redis, settings: Settings, cache_s: float = CACHE_S) -> None:
        self._r = client
        self._settings = settings
        self._runs_reader = RunReader(client)
        self._runs = Kept(self._count_runs, cache_s)
        self._grid = Kept(self._read_grid, cache_s)

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "testfleet_fleet_metrics_up", "1 when the fleet's state could be read from Redis"
        )
        try:
            families = list(self._from_redis())
        except redis.RedisError as exc:
            log.warning("fleet metrics: Redis could not be read: %s", exc)
            up.add_metric([], 0)
            return [up, *self._grid.get()]
        up.add_metric([], 1)
        return [up, *families, *self._grid.get()]

    # -- Redis --------------------------------------------------------------------------

    def _from_redis(self) -> Iterator[Metric]:
        yield self._queue()
        yield from self._workers()
        yield self._runs.get()
        raw = cast(dict[str, str], self._r.hgetall(keys.METRICS_COUNTERS))
        counters = {field: float(value) for field, value in raw.items()}
        for spec in fm.HISTOGRAMS:
            yield self._histogram(spec)
        yield from self._counters(counters)

    def _queue(self) -> Metric:
        family = GaugeMetricFamily(
            "testfleet_queue_depth",
            "Test cases waiting for a worker, per priority",
            labels=["priority"],
        )
        lists = priority_lists(self._settings)
        pipe = self._r.pipeline(transaction=False)
        for name in lists.values():
            pipe.llen(name)
        for priority, depth in zip(lists, pipe.execute(), strict=True):
            family.add_metric([priority], int(depth))
        return family

    def _workers(self) -> Iterator[Metric]:
        now_ms = int(time.time() * 1000)
        beats = read_workers(self._r)
        alive = [b for b in beats if b.alive(now_ms)]
        running = GaugeMetricFamily("testfleet_cases_running", "Test cases being run now")
        running.add_metric([], sum(b.busy for b in alive))
        slots = GaugeMetricFamily(
            "testfleet_worker_slots", "Test cases the live workers can run at once"
        )
        slots.add_metric([], sum(b.concurrency for b in alive))
        workers = GaugeMetricFamily(
            "testfleet_workers",
            f"Workers by state: alive, or silent (no heartbeat for {STALE_AFTER_S:g} s)",
            labels=["state"],
        )
        workers.add_metric(["alive"], len(alive))
        workers.add_metric(["silent"], len(beats) - len(alive))
        age = GaugeMetricFamily(
            "testfleet_worker_heartbeat_age_seconds",
            "Seconds since each worker's last heartbeat",
            labels=["worker"],
        )
        for beat in beats:
            age.add_metric([beat.name], max(0.0, (now_ms - beat.beat_ms) / 1000))
        yield from (running, slots, workers, age)

    def _count_runs(self) -> Metric:
        family = GaugeMetricFamily(
            "testfleet_runs",
            f"Kept runs by status (the newest {RUNS_SCANNED:,} runs)",
            labels=["status"],
        )
        ids = self._runs_reader.ask(newest_runs_query(RUNS_SCANNED))
        counts: dict[str, int] = dict.fromkeys(RUN_STATUSES, 0)
        for status in self._runs_reader.statuses(ids) if ids else []:
            if status is not None:  # expired between the two reads
                counts[status] = counts.get(status, 0) + 1
        for status, n in counts.items():
            family.add_metric([status], n)
        return family

    def _histogram(self, spec: fm.HistogramSpec) -> Metric:
        raw = cast(dict[str, str], self._r.hgetall(keys.metrics_histogram(spec.key)))
        per_label: dict[str, dict[str, float]] = {}
        for field, value in raw.items():
            label, _, part = field.partition(fm.SEP)
            per_label.setdefault(label, {})[part] = float(value)
        if spec is fm.CASE_DURATION:
            for status in FINAL_STATUSES:
                per_label.setdefault(status, {})
        family = HistogramMetricFamily(spec.name, spec.help, labels=[spec.label])
        for label, parts in sorted(per_label.items()):
            bounds = [*(_le(b) for b in spec.buckets_s), "+Inf"]
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for index, bound in enumerate(bounds):
                cumulative += parts.get(str(index), 0.0)
                buckets.append((bound, cumulative))
            family.add_metric([label], buckets, sum_value=parts.get("sum", 0.0))
        return family

    def _counters(self, raw: dict[str, float]) -> Iterator[Metric]:
        for counter in _COUNTERS:
            labels = [counter.label] if counter.label else []
            family = CounterMetricFamily(counter.family, counter.help, labels=labels)
            if not counter.label:
                family.add_metric([], raw.get(counter.field, 0.0))
                yield family
                continue
            prefix = counter.field + fm.SEP
            seen = {f.removeprefix(prefix) for f in raw if f.startswith(prefix)}
            for value in sorted(set(counter.always) | seen):
                family.add_metric([value], raw.get(prefix + value, 0.0))
            yield family

    # -- the Grid -----------------------------------------------------------------------

    def _read_grid(self) -> list[Metric]:
        up = GaugeMetricFamily("testfleet_grid_up", "1 when the Selenium Grid answered")
        free = GaugeMetricFamily("testfleet_grid_slots_free", "Free browser slots on UP nodes")
        total = GaugeMetricFamily(
            "testfleet_grid_slots_capacity", "Browser slots on UP nodes, busy or free"
        )
        queue = GaugeMetricFamily(
            "testfleet_grid_session_queue", "New-session requests waiting in the Grid"
        )
        capacity: GridCapacity | None
        try:
            capacity = read_capacity(
                self._settings.grid.url,
                timeout_s=GRID_TIMEOUT_S,
                auth=self._settings.security.grid_credentials,
            )
        except InfrastructureError:
            capacity = None
        up.add_metric([], 1 if capacity else 0)
        free.add_metric([], capacity.free_slots if capacity else 0)
        total.add_metric([], capacity.total_slots if capacity else 0)
        queue.add_metric([], capacity.queue_size if capacity else 0)
        return [up, free, total, queue]


def priority_lists(settings: Settings) -> dict[str, str]:
    """Priority name (``critical`` ... ``low``) -> the Redis list its cases wait in: the
    broker's own list names (``broker.queue_lists``), so the queue depth, and the
    autoscaler's list names in deploy/kubernetes (the tests compare them), follow them."""
    lists = queue_lists(settings.worker.queue)
    return {name: lists[step] for name, step in PRIORITY_LEVELS.items()}


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"
