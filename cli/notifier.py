"""The notifier: tells each project's targets (GitHub, GitLab, Slack, webhooks) that a
run finished, once per run and target, off the tests' critical path (``testfleet
notifier``; ``testfleet up`` starts one). docs/notifications.md.

The archiver hands each finished run to ``keys.NOTIFY_STREAM`` once it is in the history
database, with its failures' labels. Notifiers read it in one consumer group, as the
archivers read theirs: an entry is acknowledged and deleted once every target of the
run's project was sent to (or given up on after ``notify.attempts`` tries); a notifier
that dies leaves it pending, and it is taken over after ``notify.claim_idle_ms``. The
run-and-target key (``testfleet.notify.ledger``) makes a redelivered run send nothing
again.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

import httpx
import redis

from api.report_markdown import markdown_summary
from testfleet import keys, logs
from testfleet.backoff import Backoff
from testfleet.constants import dashboard_url, report_path
from testfleet.notify import dispatch, messages
from testfleet.notify.targets import TargetStore
from testfleet.payloads import RunLabels
from testfleet.results import RunResult
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.targets.policy import TargetPolicy

log = logs.get_logger(__name__)

FIRST_RETRY_S = 0.5
BATCH = 10
Entry = tuple[str, dict[str, str]]


def default_name() -> str:
    return f"notifier-{socket.gethostname()}"


def run_links(settings: Settings, run_id: str) -> dict[str, str]:
    """Absolute links to the run: its dashboard view and its HTML report."""
    return {
        "dashboard": dashboard_url(settings.gateway_url, run_id),
        "report": settings.api_url.rstrip("/") + report_path(run_id),
    }


def notice_of(
    settings: Settings, run: RunResult, labels: RunLabels | None, store: RunStore
) -> messages.Notice:
    record = store.get_record(run.runId)
    links = run_links(settings, run.runId)
    return messages.Notice(
        run=run,
        metadata=record.metadata if record is not None else None,
        labels=labels,
        markdown=markdown_summary(run, labels, links),
        links=links,
    )


class Notifier:
    """One notifier: a consumer of the notify stream."""

    def __init__(
        self,
        settings: Settings,
        store: RunStore,
        client: httpx.Client,
        name: str | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._r: redis.Redis = store.redis
        self._client = client
        self._targets = TargetStore(self._r, settings.notify, TargetPolicy.from_settings(settings))
        self.name = name or default_name()
        self.stopping = stopping or threading.Event()
        self._grouped = False

    def ensure_group(self) -> None:
        try:
            self._r.xgroup_create(keys.NOTIFY_STREAM, keys.NOTIFY_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @staticmethod
    def _entries(reply: Any) -> list[Entry]:
        if not reply:
            return []
        return [(eid, fields) for eid, fields in reply[0][1] if fields is not None]

    def step(self) -> int:
        """Notify what this notifier holds, what a dead one held, then what is new."""
        cfg = self._settings.notify
        group, stream = keys.NOTIFY_GROUP, keys.NOTIFY_STREAM
        held = self._entries(self._r.xreadgroup(group, self.name, {stream: "0"}, count=BATCH))
        if held:
            return self._notify(held)
        claimed = self._r.xautoclaim(
            stream, group, self.name, cfg.claim_idle_ms, "0-0", count=BATCH
        )
        taken = [(eid, fields) for eid, fields in claimed[1] if fields is not None]
        if taken:
            return self._notify(taken)
        fresh = self._r.xreadgroup(group, self.name, {stream: ">"}, count=BATCH, block=cfg.block_ms)
        return self._notify(self._entries(fresh))

    def _notify(self, entries: Sequence[Entry]) -> int:
        for entry_id, fields in entries:
            run_id = fields.get(keys.ARCHIVE_RUN_FIELD, "")
            raw_labels = fields.get(keys.NOTIFY_LABELS_FIELD)
            labels = RunLabels.model_validate_json(raw_labels) if raw_labels else None
            run = self._store.get_run(run_id)
            if run is None:
                log.warning("run %s expired before its notifications were sent", run_id)
            else:
                notice = notice_of(self._settings, run, labels, self._store)
                dispatch.notify_run(self._r, self._client, self._targets, notice, self._settings)
            pipe = self._r.pipeline(transaction=True)
            pipe.xack(keys.NOTIFY_STREAM, keys.NOTIFY_GROUP, entry_id)
            pipe.xdel(keys.NOTIFY_STREAM, entry_id)
            pipe.execute()
        return len(entries)

    def run(self) -> None:
        """Notify until ``stopping`` is set; a Redis outage is waited out with backoff."""
        backoff = Backoff(FIRST_RETRY_S, self._settings.notify.retry_max_s)
        failures = 0
        while not self.stopping.is_set():
            try:
                if failures or not self._grouped:
                    self.ensure_group()
                    self._grouped = True
                self.step()
            except redis.RedisError as exc:
                failures += 1
                delay_s = backoff.delay_s(failures)
                log.warning("notifying failed (%s); trying again in %.1f s", exc, delay_s)
                self.stopping.wait(delay_s)
            else:
                failures = 0


def main(settings: Settings, name: str | None = None) -> None:
    """Run a notifier in the foreground until SIGTERM or SIGINT (``testfleet notifier``)."""
    logs.configure(settings.log, "notifier")
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    store = RunStore.connect(settings, source="notifier")
    with httpx.Client(follow_redirects=False) as client:
        notifier = Notifier(settings, store, client, name, stopping)
        log.info(
            "notifier %s ready: telling each project's targets of its finished runs", notifier.name
        )
        notifier.run()
