"""Planning a run into test cases, and queueing each case as a Celery task.

The orchestrator never imports the workers: it sends ``testfleet.run_case`` by
name, with ``(run_id, case_id)`` as its only arguments. The worker reads the
case to execute from the run store (``tf:run:<id>:specs``), so the message on
the broker carries no suite content and no secret.

Priorities use the Redis transport's priority lists: with ``priority_steps``
0..9, a task of priority ``p`` lands in the list ``<queue>`` (p = 0) or
``<queue>\x06\x16<p>`` (``broker.queue_lists``), and workers drain lower numbers
first, so a critical case (0) overtakes bulk cases (6, 9) already queued. The
broker transport options below must mean the same as the workers' or the two
sides look at different lists.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence

from celery import Celery
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from testfleet import logs
from testfleet.constants import RUN_CASE_TASK
from testfleet.errors import InfrastructureError, UsageError
from testfleet.fleet import redisconn
from testfleet.fleet.broker import migrate_legacy_names, transport_options
from testfleet.masking import Masker
from testfleet.results import PRIORITY_LEVELS, CaseResult, RunMetadata, RunRecord, TraceMode
from testfleet.settings import Settings
from testfleet.suites.model import CaseSpec, Suite

log = logs.get_logger(__name__)

SEND_BATCH_SIZE = 500
"""Messages buffered per Redis pipeline round trip when a run is queued."""


def case_id(run_id: str, index: int) -> str:
    """The id of a run's ``index``-th case (0-based): ``<run_id>-0001`` for the first."""
    return f"{run_id}-{index + 1:04d}"


def plan_run(
    run_id: str,
    project_id: str,
    suites: Sequence[Suite],
    tags: set[str],
    name: str,
    *,
    submitted_by: str | None = None,
    created_ms: int | None = None,
    require_baselines: bool = False,
    trace: TraceMode | None = None,
    metadata: RunMetadata | None = None,
    only: Collection[tuple[str, str]] | None = None,
) -> tuple[RunRecord, list[CaseResult], dict[str, str]]:
    """Split suites into the run's record, its queued cases and each case's spec.

    ``tags`` keeps only tests carrying one of them (a suite's own tags count for
    each of its tests); empty keeps every test. A case's priority is its suite's
    ``priority`` when set, else the test's. Returns the record, the cases in
    order (ids ``<run_id>-0001``, ...) and ``case id -> CaseSpec JSON`` (its own
    test's secrets in clear: for the run store only, never served). Linear in the
    suites' size: nothing is computed per case over the whole suite.

    ``only`` (``--last-failed``): keep just these (suite, test name) tests.

    Raises ``UsageError`` when ``tags`` matches no test, naming the tags that exist.
    """
    cases: list[CaseResult] = []
    specs: dict[str, str] = {}
    for suite in suites:
        for test in suite.tagged(tags):
            cid = case_id(run_id, len(cases))
            spec = CaseSpec.of(suite, test, trace)
            # Linear: each test is masked with its own secrets only (as its worker masks it).
            mask = Masker(spec.secrets)
            if only is not None and (suite.name, mask(test.name)) not in only:
                continue
            cases.append(
                CaseResult(
                    case_id=cid,
                    run_id=run_id,
                    suite=suite.name,
                    name=mask(test.name),
                    tags=sorted(set(test.tags) | set(suite.tags)),
                    priority=suite.priority or test.priority,
                    retry_count=spec.retry_count,
                    total_steps=len(test.steps),
                )
            )
            specs[cid] = spec.model_dump_json()
    if not cases and only is not None:
        raise UsageError(
            "none of the tests asked for (--last-failed) is in these suites any more: "
            "run the suites whole"
        )
    if not cases:
        raise UsageError(_no_match_message(suites, tags))
    record = RunRecord(
        run_id=run_id,
        project_id=project_id,
        name=name,
        suites=[s.name for s in suites],
        created_ms=created_ms if created_ms is not None else int(time.time() * 1000),
        submitted_by=submitted_by,
        tags=sorted(tags),
        total=len(cases),
        require_baselines=require_baselines,
        metadata=metadata,
    )
    return record, cases, specs


def _no_match_message(suites: Iterable[Suite], tags: set[str]) -> str:
    existing = sorted({t for s in suites for test in s.tests for t in (*s.tags, *test.tags)})
    wanted = ", ".join(sorted(tags))
    if not existing:
        return f"no test is tagged {wanted}: these suites have no tags; run without a tag filter"
    return f"no test is tagged {wanted}; the tags in these suites are: {', '.join(existing)}"


class Dispatcher:
    """Queues cases as ``testfleet.run_case`` tasks on the Redis broker.

    Holds one Celery client app (no result backend) and its producer pool;
    ``dispatch`` publishes a whole run on one producer and connection, in
    pipelined batches.
    Thread-safe: each call takes its own producer from the pool.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._queue = settings.worker.queue
        app = Celery(
            "testfleet-orchestrator",
            broker=redisconn.broker_url(settings.redis),
            set_as_current=False,
        )
        app.conf.update(
            broker_transport_options=transport_options(settings),
            task_default_queue=self._queue,
            task_create_missing_queues=True,
            task_default_priority=PRIORITY_LEVELS["medium"],
            task_serializer="json",
            accept_content=["json"],
            # Fail fast (then answer 503) rather than hold an HTTP request for long.
            broker_connection_timeout=5.0,
            task_publish_retry_policy={
                "max_retries": 2,
                "interval_start": 0.0,
                "interval_step": 0.2,
                "interval_max": 0.5,
            },
        )
        self._app = app
        self._migrate()

    def _migrate(self) -> None:
        """Cases an older testfleet queued under other list names (see ``broker``)."""
        client = redisconn.connect(self._settings.redis)
        try:
            migrate_legacy_names(client, self._queue)
        except RedisError as exc:  # not up yet: the workers migrate as they start too
            log.warning("queue names not checked for migration: %s", exc)
        finally:
            client.close()

    def dispatch(self, cases: Sequence[CaseResult]) -> int:
        """Send one task per case (task id = case id); returns how many were sent.

        Raises ``InfrastructureError`` when the broker does not take them.
        """
        try:
            with self._app.producer_or_acquire() as producer, producer.batch(SEND_BATCH_SIZE):
                # kombu's batch buffers each message's LPUSH in one Redis pipeline and
                # flushes on exit: one round trip per SEND_BATCH_SIZE messages instead
                # of one per case (~4x faster for 1,000 cases; bench_dispatch). On an
                # error nothing unflushed is sent, and the caller cancels the run.
                for case in cases:
                    self._app.send_task(
                        RUN_CASE_TASK,
                        args=(case.run_id, case.case_id),
                        task_id=case.case_id,
                        queue=self._queue,
                        priority=PRIORITY_LEVELS[case.priority],
                        producer=producer,
                    )
        except (KombuError, RedisError, OSError) as exc:
            raise InfrastructureError(
                f"the task broker at {self._settings.redis.url} did not accept the run's "
                f"tasks ({exc}); check that Redis is up (`testfleet status`)"
            ) from exc
        return len(cases)

    def close(self) -> None:
        """Release the broker connections."""
        self._app.close()
