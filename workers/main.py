"""``testfleet worker``: one Celery worker in the foreground.

SIGTERM drains it: the worker stops taking tasks, finishes the test cases it is
running, acknowledges them and exits, so draining a worker (``docker stop``,
scaling down) loses nothing and runs nothing twice. A second SIGTERM, or the
drain grace running out, hands the running cases back to the queue at once
(``workers.drain``). While it holds a case, the worker renews the case's lease
(``workers.lease``); if it dies, the case runs again elsewhere within a lease.

A pool process dies with the worker, and the browsers a pool process started die
with it (``testfleet.fleet.reaper``), whatever signal ends the worker, SIGKILL included;
a worker starting kills the browsers of workers that ended before it.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any

import redis
from celery.signals import worker_process_init

from testfleet import logs
from testfleet.fleet import reaper, redisconn
from testfleet.fleet.broker import migrate_legacy_names
from testfleet.settings import Settings
from workers import drain, heartbeat, lease, sweeper
from workers.app import make_celery
from workers.tasklog import TaskLogFields

log = logs.get_logger(__name__)


def node_name(name: str | None) -> str:
    """The Celery node name: ``name`` (``@%h`` appended when it has no host part),
    else ``tfworker-<pid>@%h``, unique on a host (``%h`` is the host name)."""
    if not name:
        name = f"tfworker-{os.getpid()}"
    return name if "@" in name else f"{name}@%h"


def worker_argv(settings: Settings, concurrency: int | None, name: str | None) -> list[str]:
    """The ``celery worker`` arguments ``main`` runs with."""
    return [
        "worker",
        f"--loglevel={settings.log.level or 'INFO'}",
        f"--queues={settings.worker.queue}",
        # Processes, not threads: each case drives its own browser, and a pool child
        # that dies (or hangs past the hard time limit) can be replaced on its own.
        "--pool=prefork",
        f"--concurrency={concurrency or settings.worker.concurrency}",
        # Task events for Flower (make_celery turns them on too; -E makes it explicit).
        "--task-events",
        f"--hostname={node_name(name)}",
        # Mingle syncs revoked ids and gossip clocks between workers at startup: we use
        # neither, and both cost broker round trips per worker as the fleet grows.
        "--without-mingle",
        "--without-gossip",
    ]


def main(settings: Settings, concurrency: int | None = None, name: str | None = None) -> None:
    """Run a worker on ``settings.worker.queue`` until it is told to stop."""
    # make_celery leaves the root logger alone (worker_hijack_root_logger=False).
    logs.configure(settings.log, "worker").addFilter(TaskLogFields())
    app = make_celery(settings)
    _sweep_orphan_browsers()
    _pool_dies_with_worker(os.getpid())
    _migrate_queue_names(settings)
    lease.install(settings)
    drain.install(settings)
    heartbeat.install(settings)
    sweeper.install(settings)  # retention: expired runs and artifacts
    app.worker_main(argv=worker_argv(settings, concurrency, name))


def _sweep_orphan_browsers() -> None:
    """Browsers whose worker ended without closing them (and without a guard left)."""
    killed = reaper.sweep_orphans()
    if killed:
        log.warning("killed %d browser process(es) left by ended workers", len(killed))


_PR_SET_PDEATHSIG = 1


def _pool_dies_with_worker(worker_pid: int) -> None:
    """Each pool process gets SIGKILL when the worker's main process ends (Celery's
    pool processes would otherwise go on until they notice, their browsers with them)."""

    def on_process_init(**_: Any) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("pool process %d cannot die with its worker: prctl failed", os.getpid())
        if os.getppid() != worker_pid:  # the worker ended before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    worker_process_init.connect(on_process_init, weak=False)


def _migrate_queue_names(settings: Settings) -> None:
    """Before consuming: cases an older testfleet queued under other list names."""
    client = redisconn.connect(settings.redis)
    try:
        moved = migrate_legacy_names(client, settings.worker.queue)
    except redis.RedisError as exc:
        # Redis is not up yet (the worker keeps trying to connect); the API migrates too.
        log.warning("queue names not checked for migration: %s", exc)
        return
    finally:
        client.close()
    if moved:
        log.warning("moved %d queued case(s) from the old priority list names", moved)
