"""``testfleet worker``: one Celery worker in the foreground.

SIGTERM is Celery's warm shutdown: the worker stops taking tasks, finishes the
test cases it is running, acknowledges them and exits, so draining a worker
(``docker stop``, scaling down) loses nothing. SIGQUIT is the cold shutdown; a
case it interrupts is unacknowledged and runs again elsewhere.
"""

from __future__ import annotations

import os

from testfleet import logs
from testfleet.settings import Settings
from workers import heartbeat, sweeper
from workers.app import make_celery
from workers.tasklog import TaskLogFields


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
    heartbeat.install(settings)
    sweeper.install(settings)  # retention: expired runs and artifacts
    app.worker_main(argv=worker_argv(settings, concurrency, name))
