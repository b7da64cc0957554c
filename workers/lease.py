"""The lease renewer: a worker keeps the cases it holds, and hands back what it let go.

Runs in the worker's main process, the one that took the messages from the
broker and knows every request it reserved or started (``celery.worker.state``;
pool children only run them), from the moment the worker is ready until it has
shut down, so through a warm shutdown's drain too. A thread of its own with its
own Redis connection: it keeps time while the event loop is busy or blocked (a
drain, a slow ack), and a Redis error in one renewal is retried at the next, two
more chances before a lease can run out. Every ``lease_s / 3`` it moves the
lease of each held message forward (``broker.renew_leases``), and with it the
project's running slot of each case it runs (``project_slots.renew_slots``), so
that slot lives exactly as long as the case's lease.

It also hands back at once what Celery stopped without settling: when the broker
connection drops, Celery cancels the running cases (their acknowledgement could
not reach Redis anyway) and their messages stay in ``unacked``. Once the process
that ran such a case is gone and Redis answers again, the renewer ends the
message's lease (``broker.expire_leases``), so the next sweep requeues it within
a second instead of a lease later (a Redis restart or failover costs seconds).

What happens when the holder is gone (see ``testfleet.fleet.broker``): SIGKILL of the
worker stops the renewals and its cases go back to the queue within one lease
plus the restore interval; a pool child killed is handed back by Celery at once
(``task_reject_on_worker_lost``); a cold shutdown hands back what it cancels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from celery.worker import state as worker_state

from testfleet import logs
from testfleet.constants import RUN_CASE_TASK
from testfleet.fleet import redisconn
from testfleet.fleet.broker import expire_leases, renew_interval_s, renew_leases
from testfleet.settings import Settings
from testfleet.store import RunReader
from workers.periodic import run_while_worker_lives
from workers.project_slots import renew_slots

log = logs.get_logger(__name__)

TICK_S = 1.0
"""How often the renewer looks at what the worker holds (Redis is asked only when needed)."""


def held_deliveries(requests: Iterable[Any] | None = None) -> dict[str, Any]:
    """Delivery tag -> request, for every message this worker reserved or runs."""
    if requests is None:
        # Copies of the WeakSets, retried: the event loop may add or drop a request
        # while this thread iterates (a RuntimeError, never a wrong answer).
        for _ in range(10):
            try:
                requests = [*worker_state.reserved_requests, *worker_state.active_requests]
                break
            except RuntimeError:
                continue
        else:
            requests = []
    held: dict[str, Any] = {}
    for request in requests:
        message = getattr(request, "message", None)
        tag = getattr(message, "delivery_tag", None)
        if tag:
            held[str(tag)] = request
    return held


def case_of(request: Any) -> tuple[str, str] | None:
    """(run id, case id) of a ``run_case`` request; None for any other task."""
    args = getattr(request, "args", None)
    if getattr(request, "name", None) != RUN_CASE_TASK or not isinstance(args, list | tuple):
        return None
    if len(args) != 2:
        return None
    return str(args[0]), str(args[1])


def process_gone(pid: int | None) -> bool:
    """Whether process ``pid`` has exited (a zombie counts as exited)."""
    if not pid:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


@dataclass
class _LetGo:
    """A request Celery cancelled, waiting for its process to be gone."""

    request_id: str
    pid: int | None
    since_s: float


class LeaseRenewer:
    """Renews this worker's leases every ``lease_s / 3`` and hands back cancelled cases;
    a ``periodic.Chore`` ticking every ``TICK_S``."""

    what = "leases not renewed"
    interval_s = TICK_S

    def __init__(
        self,
        settings: Settings,
        *,
        client: redis.Redis | None = None,
        held: Callable[[], dict[str, Any]] = held_deliveries,
        clock: Callable[[], float] = time.time,
        gone: Callable[[int | None], bool] = process_gone,
    ) -> None:
        self.renew_every_s = renew_interval_s(settings)
        self._lease_s = settings.worker.lease_s
        self._give_up_s = settings.worker.lease_s
        self._client = client or redisconn.connect(settings.redis)
        self._slots_capped = settings.limits.max_running_cases > 0
        self._projects: dict[str, str] = {}
        """Run id -> project, for the runs whose cases this worker holds."""
        self._held = held
        self._clock = clock
        self._gone = gone
        self._renewed_at = -float("inf")
        self._previous: dict[str, Any] = {}
        self._let_go: dict[str, _LetGo] = {}
        self.lost: list[str] = []
        """Delivery tags found handed back while still held here (kept for tests and logs)."""
        self.handed_back: list[str] = []
        """Delivery tags of cancelled cases this renewer handed back (for tests and logs)."""

    def tick(self) -> None:
        """Note what was let go; renew when due; hand back what is ready to go."""
        now = time.monotonic()
        held = self._held()
        self._note_let_go(held, now)
        self._previous = held
        if held and now - self._renewed_at >= self.renew_every_s:
            self._renew(held)
            self._renewed_at = now
        self._hand_back(now)

    def renew_now(self) -> None:
        """Renew every held lease now (what ``tick`` does when a renewal is due)."""
        self._renew(self._held())

    def _renew(self, held: dict[str, Any]) -> None:
        now_s = self._clock()
        gone = renew_leases(self._client, list(held), now_s)
        if self._slots_capped:
            self._renew_slots(held, now_s)
        if not gone:
            return
        # A tag acknowledged between the snapshot and the renewal is gone too, but it
        # left `held` before its ack (Celery marks a request ready first): re-read.
        still = self._held()
        for tag in gone:
            request = still.get(tag)
            if request is None:
                continue
            self.lost.append(tag)
            task_id = getattr(request, "id", "?")
            log.warning(
                "the lease on task %s (delivery %s) was lost while this worker held it: "
                "its case may be delivered again; the older delivery stops at its next step",
                task_id,
                tag,
            )

    def _renew_slots(self, held: dict[str, Any], now_s: float) -> None:
        """The running slot of each held case, with the same expiry as its lease (a slot
        exists only once the case started: the others are left alone)."""
        cases = [case for case in map(case_of, held.values()) if case is not None]
        runs = {run_id for run_id, _ in cases}
        self._projects = {r: p for r, p in self._projects.items() if r in runs}
        reader = RunReader(self._client)
        for run_id in runs - self._projects.keys():
            record = reader.get_record(run_id)
            if record is not None:
                self._projects[run_id] = record.project_id
        slots = [(self._projects[r], c) for r, c in cases if r in self._projects]
        renew_slots(self._client, slots, now_s, self._lease_s)

    def _note_let_go(self, held: dict[str, Any], now: float) -> None:
        for tag, request in self._previous.items():
            # Only what Celery cancelled (connection lost, cold shutdown) is handed back
            # here; an acknowledged or rejected message is settled in Redis already, and
            # anything else keeps its lease until it runs out, the safe default.
            if tag not in held and getattr(request, "_already_cancelled", False):
                pid = getattr(request, "worker_pid", None)
                self._let_go[tag] = _LetGo(str(getattr(request, "id", "?")), pid, now)

    def _hand_back(self, now: float) -> None:
        for tag, let_go in list(self._let_go.items()):
            if now - let_go.since_s > self._give_up_s:
                del self._let_go[tag]  # its lease has run out by now: the sweep has it
        ready = [tag for tag, let_go in self._let_go.items() if self._gone(let_go.pid)]
        if not ready:
            return
        expired = expire_leases(self._client, ready)
        for tag in ready:
            let_go = self._let_go.pop(tag)
            if tag in expired:
                self.handed_back.append(tag)
                message = "task %s was stopped before it finished: handed back to the queue"
                log.warning(message, let_go.request_id)

    def close(self) -> None:
        self._client.close()


def install(settings: Settings) -> None:
    """Renew leases from the moment the worker is ready until it has shut down."""
    run_while_worker_lives(lambda _consumer: LeaseRenewer(settings), "tf-lease")
