"""The retention sweep, run from every worker's main process.

Why the workers: every deployment has them (the API may be replaced or scaled to
zero behind a CI job), they already write to the artifact store, and
``retention.maybe_sweep`` takes a fleet-wide Redis lock, so however many workers
run this thread, one sweep happens per ``retention.sweep_interval_s``.
"""

from __future__ import annotations

from testfleet import logs
from testfleet.artifacts import open_store
from testfleet.errors import InfrastructureError
from testfleet.fleet import redisconn
from testfleet.settings import Settings
from testfleet.store.retention import maybe_sweep
from workers.periodic import run_while_worker_lives, worker_name

log = logs.get_logger(__name__)


class Sweeper:
    """Calls ``maybe_sweep`` every ``retention.sweep_interval_s`` (one sweep per interval
    across the fleet, whoever holds the lock)."""

    what = "retention sweep skipped"

    def __init__(self, settings: Settings, owner: str) -> None:
        self._settings = settings
        self._owner = owner
        self.interval_s = settings.retention.sweep_interval_s
        self._client = redisconn.connect(settings.redis)
        self._artifacts = open_store(settings)

    def tick(self) -> None:
        try:
            maybe_sweep(self._client, self._settings, self._artifacts, self._owner)
        except InfrastructureError as exc:
            # The artifact store is down: the next interval tries again (Redis errors are
            # the loop's to log).
            log.warning("%s: %s", self.what, exc)

    def close(self) -> None:
        self._client.close()
        self._artifacts.close()


def install(settings: Settings) -> None:
    """Sweep from the moment the worker is ready until it shuts down.

    The artifact store is opened once here, before the worker starts: a bad
    ``artifacts.url`` (or, with ``s3_create_bucket``, a store nobody answers) stops
    the worker at once with a message, instead of failing every case it would run.
    """
    open_store(settings).close()
    run_while_worker_lives(lambda consumer: Sweeper(settings, worker_name(consumer)), "tf-sweeper")
