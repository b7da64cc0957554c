"""The archiver: writes every finished run into the history database, exactly once,
off the tests' critical path (``testfleet archiver``; ``testfleet up`` starts one).

The run store's completion script appends each finished run's id to
``keys.ARCHIVE_STREAM`` in the same step as ``run_completed``. Archivers read it in one
consumer group (``XREADGROUP``): an entry is acknowledged and deleted only after its run
was committed (``testfleet.history.archive.write_run``, idempotent by run id), so:

- PostgreSQL (or Redis) down: the entry stays pending; the archiver retries it with
  backoff (``testfleet.backoff``) until the database is back;
- the archiver dies: its pending entries are read again by the archiver that restarts
  under the same name (its host's), or taken over by any other after
  ``database.archive_claim_idle_ms`` (``XAUTOCLAIM``);
- once a run is written (with the labels of its failures), its ``run_labels`` event is
  published on the run's events, before the entry is acknowledged: at least once (a
  redelivered run publishes it again);
- then it hands the run, with its labels, to the notifiers (``keys.NOTIFY_STREAM``;
  ``cli/notifier.py``), before the entry is acknowledged: at least once too;
- a run whose record expired from Redis (``retention.run_ttl_s``) before it could be
  archived is logged as a warning naming it, and its entry dropped.

Every ``history.prune_interval_s`` (and once at its start) an archiver also prunes the
history older than ``history.retention_days`` (``testfleet.history.retention``), between
two batches of runs; several archivers share that work without waiting on each other.

Reading the run store and writing history both happen here, above ``testfleet.store``
and ``testfleet.history``, which do not know each other.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import redis
from redis.typing import EncodableT, FieldT
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from testfleet import keys, logs
from testfleet.backoff import Backoff
from testfleet.events import Event
from testfleet.history import archive, db, labels, migrate, retention
from testfleet.payloads import RunLabels
from testfleet.settings import Settings
from testfleet.store import RunStore

NOTIFY_BACKLOG_RUNS = 10_000
"""Runs waiting for a notifier that Redis keeps at most; older notices are dropped (a
notifier down for that many runs announces the newest when it is back)."""

log = logs.get_logger(__name__)

FIRST_RETRY_S = 0.5
Entry = tuple[str, dict[str, str]]


def default_name() -> str:
    """An archiver's consumer name: its host's, so one restarted on the same host reads
    what it held at once."""
    return f"archiver-{socket.gethostname()}"


class Archiver:
    """One archiver: a consumer of the archive stream writing into the history database."""

    def __init__(
        self,
        settings: Settings,
        store: RunStore,
        sessions: sessionmaker[Session],
        name: str | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._r = store.redis
        self._sessions = sessions
        self.name = name or default_name()
        self.stopping = stopping or threading.Event()
        """Set to stop ``run`` after the batch in hand."""
        self._backoff = Backoff(FIRST_RETRY_S, settings.database.archive_retry_max_s)
        self._grouped = False
        self._next_prune_s = 0.0
        """``time.monotonic()`` at which history is next pruned (0: at the first chance)."""

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist: from the stream's
        start, so runs finished before any archiver ran are archived too."""
        try:
            self._r.xgroup_create(keys.ARCHIVE_STREAM, keys.ARCHIVE_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _entries(self, reply: Any) -> list[Entry]:
        if not reply:
            return []
        return [(eid, fields) for eid, fields in reply[0][1] if fields is not None]

    def step(self) -> int:
        """Archive what this archiver holds, what a dead one held, then what is new (waiting
        up to ``database.archive_block_ms``); returns how many runs it archived or dropped."""
        cfg = self._settings.database
        group, stream = keys.ARCHIVE_GROUP, keys.ARCHIVE_STREAM
        held = self._entries(
            self._r.xreadgroup(group, self.name, {stream: "0"}, count=cfg.archive_batch)
        )
        if held:
            return self._archive(held)
        claimed = self._r.xautoclaim(
            stream, group, self.name, cfg.archive_claim_idle_ms, "0-0", count=cfg.archive_batch
        )
        taken = [(eid, fields) for eid, fields in claimed[1] if fields is not None]
        if taken:
            return self._archive(taken)
        fresh = self._r.xreadgroup(
            group, self.name, {stream: ">"}, count=cfg.archive_batch, block=cfg.archive_block_ms
        )
        return self._archive(self._entries(fresh))

    def _archive(self, entries: Sequence[Entry]) -> int:
        for entry_id, fields in entries:
            run_id = fields.get(keys.ARCHIVE_RUN_FIELD, "")
            result = self._store.get_run(run_id)
            record = self._store.get_record(run_id)
            if result is None or record is None:
                log.warning(
                    "run %s finished but expired from Redis before it was archived: its "
                    "history is lost (keep the archiver running, or raise "
                    "TESTFLEET_RETENTION__RUN_TTL_S)",
                    run_id,
                )
            else:
                if archive.write_run(self._sessions, result, record, self._settings.history):
                    log.info("archived run %s (%d cases)", run_id, len(result.tests))
                else:
                    log.info("run %s was archived already", run_id)
                found = self._publish_labels(run_id, result.projectId)
                # Notifications go out once the labels are known (cli/notifier.py).
                notice: dict[FieldT, EncodableT] = {keys.ARCHIVE_RUN_FIELD: run_id}
                if found is not None:
                    notice[keys.NOTIFY_LABELS_FIELD] = found.model_dump_json()
                # Bounded: a fleet that runs no notifier must not keep every run's notice.
                self._r.xadd(
                    keys.NOTIFY_STREAM, notice, maxlen=NOTIFY_BACKLOG_RUNS, approximate=True
                )
            pipe = self._r.pipeline(transaction=True)
            pipe.xack(keys.ARCHIVE_STREAM, keys.ARCHIVE_GROUP, entry_id)
            pipe.xdel(keys.ARCHIVE_STREAM, entry_id)
            pipe.execute()
        return len(entries)

    def _publish_labels(self, run_id: str, project: str) -> RunLabels | None:
        """Publish ``run_labels`` with what the database kept for the run; returns them."""
        with self._sessions() as session:
            found = labels.run_labels(session, run_id)
        if found is None:  # written above: only a concurrent retention prune gets here
            return None
        self._store.publish(Event("run_labels", run_id, project, found.dump(), source=self.name))
        return found

    def prune_if_due(self) -> retention.Pruned | None:
        """Prune the history past ``history.retention_days`` when
        ``history.prune_interval_s`` has passed since the last prune; None when not due or
        when history is kept forever (``retention_days`` 0)."""
        cfg = self._settings.history
        now_s = time.monotonic()
        before = retention.cutoff(cfg.retention_days)
        if now_s < self._next_prune_s or before is None:
            return None
        pruned = retention.prune(self._sessions, before, cfg.prune_batch_runs, self.stopping.is_set)
        # Only a prune that went through waits for the next interval: a failed one (the
        # database is down) is tried again once the archiver gets through to it.
        self._next_prune_s = now_s + cfg.prune_interval_s
        if pruned.runs or pruned.cases:
            log.info(
                "pruned the history finished before %s: %d runs, %d attempts, %d tests",
                before.isoformat(timespec="seconds"),
                pruned.runs,
                pruned.attempts,
                pruned.cases,
            )
        return pruned

    def run(self) -> None:
        """Archive until ``stopping`` is set; an outage of PostgreSQL or Redis is waited out
        with backoff (what the archiver held stays pending and is retried)."""
        failures = 0
        while not self.stopping.is_set():
            try:
                if failures or not self._grouped:  # Redis may have come back without it
                    self.ensure_group()
                    self._grouped = True
                self.step()
                self.prune_if_due()
            except (SQLAlchemyError, redis.RedisError) as exc:
                failures += 1
                delay_s = self._backoff.delay_s(failures)
                log.warning("archiving failed (%s); trying again in %.1f s", exc, delay_s)
                self.stopping.wait(delay_s)
            else:
                failures = 0


def wait_for_schema(settings: Settings, stopping: threading.Event) -> sessionmaker[Session] | None:
    """The database's sessions once it answers with the current schema (an old schema
    raises ``InfrastructureError`` naming ``testfleet db upgrade``); None when stopped first."""
    bound = db.engine(settings)
    backoff = Backoff(FIRST_RETRY_S, settings.database.archive_retry_max_s)
    failures = 0
    while not stopping.is_set():
        try:
            migrate.require_current(bound)
            return db.sessions(bound)
        except SQLAlchemyError as exc:
            failures += 1
            delay_s = backoff.delay_s(failures)
            log.warning(
                "the history database %s is not answering (%s); trying again in %.1f s",
                db.describe(bound),
                exc,
                delay_s,
            )
            stopping.wait(delay_s)
    return None


def main(settings: Settings, name: str | None = None) -> None:
    """Run an archiver in the foreground until SIGTERM or SIGINT (what ``testfleet
    archiver`` runs): the batch in hand is finished first."""
    logs.configure(settings.log, "archiver")
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sessions = wait_for_schema(settings, stopping)
    if sessions is None:
        return
    store = RunStore.connect(settings, source="archiver")
    archiver = Archiver(settings, store, sessions, name, stopping)
    log.info("archiver %s ready: writing finished runs to the history database", archiver.name)
    archiver.run()
