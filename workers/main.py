"""``testfleet worker``: one Celery worker in the foreground.

SIGTERM drains it: the worker stops taking tasks, finishes the test cases it is
running, acknowledges them and exits, so draining a worker (``docker stop``,
scaling down) loses nothing and runs nothing twice. A second SIGTERM, or the
drain grace running out, hands the running cases back to the queue at once
(``workers.drain``). While it holds a case, the worker renews the case's lease
(``workers.lease``); if it dies, the case runs again elsewhere within a lease.
"""

from __future__ import annotations

import os

import redis

from testfleet import logs, redisconn
from testfleet.broker import migrate_legacy_names
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
    _migrate_queue_names(settings)
    lease.install(settings)
    drain.install(settings)
    heartbeat.install(settings)
    sweeper.install(settings)  # retention: expired runs and artifacts
    app.worker_main(argv=worker_argv(settings, concurrency, name))


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
