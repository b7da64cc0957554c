"""Fair sharing of the fleet: at most ``limits.max_running_cases`` cases of one project
run at once, across every worker.

A case takes a slot of its project (a Redis sorted set of case id -> lease
expiry, shared by all workers) before it starts, and gives it back when its
delivery ends. A case whose project holds every slot waits briefly for one
(``SLOT_WAIT_S``), then goes back to the queue (Celery ``Reject(requeue=True)``:
behind the work already queued, so other projects' cases run meanwhile). A
slot is held by case id, so a redelivered case takes its own slot again rather
than a second one.

A slot is held under the case's own lease (``worker.lease_s``): the worker's lease
renewer (``workers.lease``) renews it with the case's message, every ``lease_s / 3``
(``renew_slots``). So a slot never runs out under a live case, however long, and
a killed worker's slot frees when its case's lease does, as the case comes back to
the queue (not a whole case time limit later, which held the project's slot while
its redelivered case waited for it). 0 turns the cap off.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis
from celery.exceptions import Reject

from testfleet import keys
from testfleet.settings import Settings

SLOT_WAIT_S = 1.0
"""How long a case waits for a slot of its project before it goes back to the queue."""
SLOT_POLL_S = 0.1

# KEYS: 1 the project's running set. ARGV: 1 now ms, 2 limit, 3 lease ms, 4 case id.
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2])
then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


class ProjectSlots:
    """The running-case slots of every project, in Redis (thread- and process-safe)."""

    def __init__(self, client: redis.Redis, limit: int, lease_s: float) -> None:
        self._r = client
        self.limit = limit
        self._lease_ms = int(lease_s * 1000)
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, project: str, case_id: str, now_s: float | None = None) -> bool:
        """Take (or renew) ``case_id``'s slot; False when the project holds every slot.
        ``now_s``: wall-clock seconds (default: now)."""
        now_ms = int((time.time() if now_s is None else now_s) * 1000)
        args: list[int | str] = [now_ms, self.limit, self._lease_ms, case_id]
        return bool(self._acquire(keys=[keys.project_running(project)], args=args))

    def renew(self, held: Iterable[tuple[str, str]], now_s: float) -> None:
        """Move the lease of each held (project, case id) slot to ``now_s`` + the lease.
        Only slots that still exist: a slot released or expired meanwhile stays gone
        (``XX``), so a renewal never takes a slot nobody asked for."""
        renew_slots(self._r, held, now_s, self._lease_ms / 1000)

    def release(self, project: str, case_id: str) -> None:
        self._r.zrem(keys.project_running(project), case_id)

    def running(self, project: str) -> int:
        """Slots of ``project`` held now (expired leases included until the next take)."""
        return int(self._r.zcard(keys.project_running(project)))


def renew_slots(
    client: redis.Redis, held: Iterable[tuple[str, str]], now_s: float, lease_s: float
) -> None:
    """Renew the (project, case id) slots in ``held`` to ``now_s + lease_s`` (seconds),
    one round trip; the set's own expiry moves with them."""
    by_project: dict[str, list[str]] = {}
    for project, case_id in held:
        by_project.setdefault(project, []).append(case_id)
    if not by_project:
        return
    expiry_ms = int((now_s + lease_s) * 1000)
    pipe = client.pipeline(transaction=False)
    for project, case_ids in by_project.items():
        key = keys.project_running(project)
        pipe.zadd(key, dict.fromkeys(case_ids, expiry_ms), xx=True)
        pipe.pexpire(key, int(lease_s * 1000), gt=True)
    pipe.execute()


@contextmanager
def project_slot(
    settings: Settings, client: redis.Redis, project: str, case_id: str
) -> Iterator[None]:
    """Hold a running slot of ``project`` for the block; ``Reject(requeue=True)`` when none
    frees within ``SLOT_WAIT_S``. Does nothing when ``limits.max_running_cases`` is 0."""
    limit = settings.limits.max_running_cases
    if not limit:
        yield
        return
    slots = ProjectSlots(client, limit, settings.worker.lease_s)
    deadline = time.monotonic() + SLOT_WAIT_S
    while not slots.acquire(project, case_id):
        if time.monotonic() >= deadline:
            raise Reject(
                f"project {project} runs its limit of {limit} cases at once "
                "(TESTFLEET_LIMITS__MAX_RUNNING_CASES); back to the queue",
                requeue=True,
            )
        time.sleep(SLOT_POLL_S)  # a worker between cases: nothing else to do meanwhile
    try:
        yield
    finally:
        slots.release(project, case_id)
