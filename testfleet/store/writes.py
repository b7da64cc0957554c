"""Writing runs in Redis: runs, per-case state, and publishing events.

Every transition that must happen once happens inside one Lua script
(``lua/*.lua``, see ``scripts``), so that two deliveries of the same Celery task
(a worker killed mid-test, a visibility timeout) cannot both record a final
status, and a run completes exactly once:

- ``begin_case``  queued|running -> running, counts the attempt (and the delivery);
  refuses a final case, and one whose deliveries were lost too often
- ``start_case``  ``begin_case`` for a delivery's first claim, returning in the same
  round trip the run's record, the case's result and its spec (typed: ``CaseStart``)
- ``update_case`` stores progress unless the case is already final
- ``finish_case`` running -> final, once; the last case to finish completes the run
- ``cancel_run``  every queued case -> cancelled at once; running ones see the flag

Each event is XADDed to the global stream and, with the same id, to the run's
own stream (for replay of one run after the global stream was trimmed), by the
scripts' one ``emit``, as ``testfleet.stream`` encodes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import redis
from pydantic import BaseModel

from testfleet import keys, stream
from testfleet.errors import InfrastructureError, NotFoundError
from testfleet.events import Event, now_ms
from testfleet.fleet import redisconn
from testfleet.payloads import CaseFinished, CaseOutcome
from testfleet.results import FAILING_STATUSES, FINAL_STATUSES, CaseResult, RunRecord
from testfleet.settings import Settings
from testfleet.store import layout, scripts
from testfleet.store.reads import RunReader, missing_case

CANCELLED = -1
"""``begin_case``: the run was cancelled (finish the case ``cancelled``)."""
LOST_TOO_OFTEN = -2
"""``begin_case``: the case's deliveries were lost ``worker.max_lost_deliveries`` times."""
_UNKNOWN_CASE = -3

SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass(frozen=True)
class CaseStart(Generic[SpecT]):
    """What a delivery starting a case reads, with its claim (``RunStore.start_case``)."""

    attempt: int
    """The attempt begun (1, 2, ...), or ``CANCELLED`` or ``LOST_TOO_OFTEN`` (nothing runs:
    the case is to be finished so)."""
    record: RunRecord
    case: CaseResult
    spec: SpecT | None
    """The case's spec, parsed; ``None`` unless an attempt began."""


@dataclass(frozen=True)
class Progressed:
    """What ``progress_case`` did, and the run's state it read in the same call."""

    stored: bool
    """False when the case was already final (nothing stored)."""
    cancelled: str = ""
    """The run's ``cancelled`` field."""
    attempts: int = 0
    """The attempts begun on the case, by every delivery."""

    def stop_reason(self, attempt: int) -> str | None:
        """``RunReader.stop_reason`` for ``attempt``, as of the write."""
        return layout.stop_reason(self.cancelled, self.attempts, attempt)


class RunStore(RunReader):
    """Runs, cases and events in Redis: the writes, and every read of ``RunReader``.
    Thread-safe (redis-py pools connections)."""

    def __init__(self, client: redis.Redis, settings: Settings, source: str = "testfleet") -> None:
        super().__init__(client)
        self._settings = settings
        self.source = source
        self._publish = client.register_script(scripts.source("publish"))
        self._begin = client.register_script(scripts.source("begin"))
        self._update = client.register_script(scripts.source("update"))
        self._finish = client.register_script(scripts.source("finish"))
        self._cancel = client.register_script(scripts.source("cancel"))

    @classmethod
    def connect(cls, settings: Settings, source: str = "testfleet") -> RunStore:
        """A store on ``settings.redis.url`` (strings decoded; ``testfleet.fleet.redisconn``)."""
        return cls(redisconn.connect(settings.redis), settings, source)

    @property
    def redis(self) -> redis.Redis:
        return self._r

    def ping(self) -> None:
        """Raise ``InfrastructureError`` unless Redis answers."""
        try:
            self._r.ping()
        except redis.RedisError as exc:
            raise InfrastructureError(
                f"Redis at {self._settings.redis.url} is not answering ({exc}); "
                "start it with `testfleet up` or set TESTFLEET_REDIS__URL"
            ) from exc

    def _stream_args(self) -> list[Any]:
        """``ARGV[1..4]`` of every script (``lua/prelude.lua``)."""
        return scripts.common_args(self._settings)

    def _keys(self, run_id: str) -> list[str]:
        return [
            keys.EVENTS_STREAM,
            keys.run_events(run_id),
            keys.run(run_id),
            keys.run_state(run_id),
            keys.run_cases(run_id),
            keys.run_specs(run_id),
            keys.ARCHIVE_STREAM,
        ]

    def publish(self, event: Event) -> str:
        """XADD one event (no state change); returns its id."""
        stream_keys, args = scripts.publish_call(self._settings, event)
        return str(self._publish(keys=stream_keys, args=args))

    def create_run(
        self,
        record: RunRecord,
        cases: list[CaseResult],
        specs: dict[str, str],
        started: Event,
    ) -> None:
        """Record a new run with all its cases queued, and publish ``run_started``."""
        ttl = self._settings.retention.run_ttl_s
        run_key = keys.run(record.run_id)
        pipe = self._r.pipeline(transaction=True)
        fields: dict[Any, Any] = layout.new_run_fields(record, len(cases))
        pipe.hset(run_key, mapping=fields)
        pipe.hset(
            keys.run_cases(record.run_id), mapping={c.case_id: c.model_dump_json() for c in cases}
        )
        pipe.hset(keys.run_state(record.run_id), mapping={c.case_id: "queued" for c in cases})
        spec_map: dict[Any, Any] = dict(specs)
        pipe.hset(keys.run_specs(record.run_id), mapping=spec_map)
        for key in keys.run_keys(record.run_id):
            pipe.expire(key, ttl)
        pipe.zadd(keys.RUNS_INDEX, {record.run_id: record.created_ms})
        pipe.zadd(keys.project_runs(record.project_id), {record.run_id: record.created_ms})
        stream_keys, args = scripts.publish_call(self._settings, started)
        self._publish(keys=stream_keys, args=args, client=pipe)
        pipe.execute()

    def begin_case(self, run_id: str, case_id: str, first: bool = True) -> int:
        """Mark a case running and count the attempt (``first``: a delivery's first claim,
        which counts the delivery too; False for its next attempt after a failure).

        Returns the attempt number (1, 2, ...), 0 when the case already has its final
        status (a redelivery: do nothing), ``CANCELLED`` when the run was, ``LOST_TOO_OFTEN``
        when ``worker.max_lost_deliveries`` earlier deliveries claimed the case and none
        finished it (record it as an error: it may crash or hang its worker).
        Raises ``NotFoundError`` for an unknown (or expired) case.
        """
        cap = self._settings.worker.max_lost_deliveries
        args = [*self._stream_args(), case_id, "1" if first else "0", cap, ""]
        n = int(self._begin(keys=self._keys(run_id), args=args))
        if n == _UNKNOWN_CASE:
            raise missing_case(run_id, case_id)
        return n

    def start_case(
        self, run_id: str, case_id: str, spec_model: type[SpecT]
    ) -> CaseStart[SpecT] | None:
        """A delivery's first claim of a case (``begin_case``) and everything running it
        reads, in one round trip: None when the case already has its final status (a
        redelivery: do nothing), else the attempt with the run's record, the case's
        result and (when an attempt began) its spec parsed as ``spec_model``.
        Raises ``NotFoundError`` for an unknown (or expired) run or case.
        """
        cap = self._settings.worker.max_lost_deliveries
        args = [*self._stream_args(), case_id, "1", cap, layout.META]
        reply = self._begin(keys=self._keys(run_id), args=args)
        if not isinstance(reply, list):
            if int(reply) == _UNKNOWN_CASE:
                raise missing_case(run_id, case_id)
            return None  # final already
        attempt, meta, case, spec = int(reply[0]), reply[1], reply[2], reply[3]
        record = layout.record(meta)
        if record is None:
            raise NotFoundError(f"run {run_id} does not exist (expired?)")
        if case is None:
            raise missing_case(run_id, case_id)
        return CaseStart(
            attempt=attempt,
            record=record,
            case=CaseResult.model_validate_json(case),
            spec=spec_model.model_validate_json(spec) if spec is not None else None,
        )

    def update_case(self, result: CaseResult, event: Event | None = None) -> bool:
        """Store a running case's progress (and publish ``event``) unless it is final."""
        return self.progress_case(result, event).stored

    def progress_case(self, result: CaseResult, event: Event | None = None) -> Progressed:
        """``update_case``, answering in the same round trip what ``stop_reason`` would
        right after it: a step's write and the check before the next step cost one."""
        ev = stream.entry_values(event) if event is not None else list(stream.NO_EVENT)
        reply = self._update(
            keys=self._keys(result.run_id),
            args=[*self._stream_args(), result.case_id, result.model_dump_json(), *ev],
        )
        if not int(reply[0]):
            return Progressed(stored=False)
        return Progressed(stored=True, cancelled=str(reply[1]), attempts=int(reply[2]))

    def finish_case(self, result: CaseResult, event: Event) -> bool:
        """Record the case's final status and publish ``event``, exactly once.

        Returns False (and changes nothing) when the case was already final.
        The last case of a run to finish completes the run (``run_completed``).
        """
        if result.status not in FINAL_STATUSES:
            raise ValueError(f"{result.status} is not a final status")
        done = self._finish(
            keys=self._keys(result.run_id),
            args=[
                *self._stream_args(),
                result.case_id,
                result.status,
                result.model_dump_json(),
                event.timestamp_ms or now_ms(),
                stream.completion(result.run_id, event.project_id, self.source),
                *stream.entry_values(event),
            ],
        )
        return bool(done)

    def remove_runs(self, run_ids: Sequence[str]) -> None:
        """Delete runs at once (their keys, and their entries in the index of every run),
        in one round trip: the retention sweep's, for runs past their TTL."""
        if not run_ids:
            return
        pipe = self._r.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.delete(*keys.run_keys(run_id))
        pipe.zrem(keys.RUNS_INDEX, *run_ids)
        pipe.execute()

    def trim_project_indexes(self, cutoff_ms: int) -> None:
        """Drop the runs created before ``cutoff_ms`` from every project's index. The
        project indexes are scored by the same creation time as the index of every run:
        one range delete each, whether or not the run's project is still known (its
        record may be gone)."""
        for index in self._r.scan_iter(match=keys.PROJECT_RUNS_PATTERN, count=1000):
            self._r.zremrangebyscore(index, "-inf", f"({cutoff_ms}")

    def failed_count(self, run_id: str) -> int:
        """The run's cases final ``failed`` or ``error`` so far (flaky ones passed)."""
        counts = self._r.hmget(
            keys.run(run_id), [f"{layout.COUNT_PREFIX}{s}" for s in FAILING_STATUSES]
        )
        return sum(int(n) for n in counts if n is not None)

    def stop_early(self, run_id: str, reason: str) -> int:
        """Cancel the run as ``cancel_run`` does, saying ``reason`` in its result (the
        first reason given stays); a run whose every case is final already is left as
        it is. Returns how many queued cases it cancelled."""
        if not int(self._r.hget(keys.run(run_id), layout.PENDING) or 0):
            return 0
        self._r.hsetnx(keys.run(run_id), layout.STOP_REASON, reason)
        return self.cancel_run(run_id)

    def cancel_run(self, run_id: str) -> int:
        """Cancel a run: queued cases become cancelled now; running ones stop at their
        next step (they poll ``is_cancelled``). Returns how many queued cases it cancelled."""
        run = self.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        now = now_ms()
        args: list[Any] = [*self._stream_args(), now]
        args.append(stream.completion(run_id, run.projectId, self.source))
        for queued in run.tests:
            if queued.status != "queued":
                continue
            case = queued.model_copy(update={"status": "cancelled", "finished_ms": now})
            cancelled = CaseFinished(
                testId=case.case_id,
                testSuiteId=case.suite,
                name=case.name,
                result=CaseOutcome(status="cancelled"),
            )
            event = Event(
                type="test_cancelled",
                run_id=run_id,
                project_id=run.projectId,
                correlation_id=case.case_id,
                source=self.source,
                timestamp_ms=now,
                payload=cancelled.dump(),
            )
            args += [case.case_id, case.model_dump_json(), *stream.entry_values(event)]
        return int(self._cancel(keys=self._keys(run_id), args=args))
