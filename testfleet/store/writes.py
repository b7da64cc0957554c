"""Writing runs in Redis: runs, per-case state, and publishing events.

Every transition that must happen once happens inside one Lua script
(``lua/*.lua``, see ``scripts``), so that two deliveries of the same Celery task
(a worker killed mid-test, a visibility timeout) cannot both record a final
status, and a run completes exactly once:

- ``begin_case``  queued|running -> running, counts the attempt (and the delivery);
  refuses a final case, and one whose deliveries were lost too often
- ``update_case`` stores progress unless the case is already final
- ``finish_case`` running -> final, once; the last case to finish completes the run
- ``cancel_run``  every queued case -> cancelled at once; running ones see the flag

Each event is XADDed to the global stream and, with the same id, to the run's
own stream (for replay of one run after the global stream was trimmed).
"""

from __future__ import annotations

from typing import Any

import redis

from testfleet import keys
from testfleet.errors import InfrastructureError, NotFoundError
from testfleet.events import Event, now_ms
from testfleet.fleet import redisconn
from testfleet.payloads import CaseFinished, CaseOutcome
from testfleet.results import FINAL_STATUSES, CaseResult, RunRecord
from testfleet.settings import Settings
from testfleet.store import layout, scripts
from testfleet.store.reads import RunReader

LOST_TOO_OFTEN = -2
"""``begin_case``: the case's deliveries were lost ``worker.max_lost_deliveries`` times."""


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
        r = self._settings.redis
        return [
            scripts.status_rules(),
            r.stream_maxlen,
            r.run_stream_maxlen,
            self._settings.retention.run_ttl_s,
        ]

    def _keys(self, run_id: str) -> list[str]:
        return [
            keys.EVENTS_STREAM,
            keys.run_events(run_id),
            keys.run(run_id),
            keys.run_state(run_id),
            keys.run_cases(run_id),
            keys.run_specs(run_id),
        ]

    def publish(self, event: Event) -> str:
        """XADD one event (no state change); returns its id."""
        args = [event.type, event.channel, event.run_id, event.project_id, event.body()]
        return str(
            self._publish(keys=self._keys(event.run_id)[:2], args=self._stream_args() + args)
        )

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
        args = [started.type, started.channel, record.run_id, record.project_id, started.body()]
        self._publish(
            keys=self._keys(record.run_id)[:2], args=self._stream_args() + args, client=pipe
        )
        pipe.execute()

    def begin_case(self, run_id: str, case_id: str, first: bool = True) -> int:
        """Mark a case running and count the attempt (``first``: a delivery's first claim,
        which counts the delivery too; False for its next attempt after a failure).

        Returns the attempt number (1, 2, ...), 0 when the case already has its final
        status (a redelivery: do nothing), -1 when the run was cancelled, ``LOST_TOO_OFTEN``
        when ``worker.max_lost_deliveries`` earlier deliveries claimed the case and none
        finished it (record it as an error: it may crash or hang its worker).
        Raises ``NotFoundError`` for an unknown (or expired) case.
        """
        cap = self._settings.worker.max_lost_deliveries
        args = [*self._stream_args(), case_id, "1" if first else "0", cap]
        n = int(self._begin(keys=self._keys(run_id), args=args))
        if n == -3:
            raise NotFoundError(f"case {case_id} of run {run_id} does not exist (expired?)")
        return n

    def update_case(self, result: CaseResult, event: Event | None = None) -> bool:
        """Store a running case's progress (and publish ``event``) unless it is final."""
        ev: list[Any] = ["", "", "", "", ""]
        if event is not None:
            ev = [event.type, event.channel, event.run_id, event.project_id, event.body()]
        done = self._update(
            keys=self._keys(result.run_id),
            args=[*self._stream_args(), result.case_id, result.model_dump_json(), *ev],
        )
        return bool(done)

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
                event.type,
                result.run_id,
                event.project_id,
                self.source,
                event.body(),
                event.timestamp_ms or now_ms(),
            ],
        )
        return bool(done)

    def cancel_run(self, run_id: str) -> int:
        """Cancel a run: queued cases become cancelled now; running ones stop at their
        next step (they poll ``is_cancelled``). Returns how many queued cases it cancelled."""
        run = self.get_run(run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        now = now_ms()
        args: list[Any] = [*self._stream_args(), "", "", "", "", run_id, run.projectId]
        args += [self.source, now]
        for queued in run.tests:
            if queued.status != "queued":
                continue
            case = queued.model_copy(update={"status": "cancelled", "finished_ms": now})
            event = Event(
                type="test_cancelled",
                run_id=run_id,
                project_id=run.projectId,
                correlation_id=case.case_id,
                source=self.source,
                timestamp_ms=now,
                payload=CaseFinished(
                    testId=case.case_id, testSuiteId=case.suite, name=case.name,
                    result=CaseOutcome(status="cancelled"),
                ).dump(),
            )  # fmt: skip
            args += [case.case_id, case.model_dump_json(), event.body()]
        return int(self._cancel(keys=self._keys(run_id), args=args))
