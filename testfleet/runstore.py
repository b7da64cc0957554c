"""Run bookkeeping in Redis: runs, per-case state, and publishing events.

Every transition that must happen once happens inside one Lua script, so that
two deliveries of the same Celery task (a worker killed mid-test, a visibility
timeout) cannot both record a final status, and a run completes exactly once:

- ``begin_case``  queued|running -> running, counts the attempt; refuses a final case
- ``update_case`` stores progress unless the case is already final
- ``finish_case`` running -> final, once; the last case to finish completes the run
- ``cancel_run``  every queued case -> cancelled at once; running ones see the flag

Each event is XADDed to the global stream and, with the same id, to the run's
own stream (for replay of one run after the global stream was trimmed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import redis

from testfleet import keys, redisconn
from testfleet.errors import InfrastructureError, NotFoundError
from testfleet.events import Event, now_ms
from testfleet.results import (
    FINAL_STATUSES,
    CaseResult,
    RunRecord,
    RunResult,
    run_status,
)
from testfleet.settings import Settings

# KEYS: 1 global stream, 2 run stream. ARGV: 1 global maxlen, 2 run maxlen, 3 ttl_s.
_EMIT = """
local function emit(typ, channel, run_id, project, body)
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    't', typ, 'c', channel, 'r', run_id, 'p', project, 'd', body)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], id,
    't', typ, 'c', channel, 'r', run_id, 'p', project, 'd', body)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return id
end
local FINAL = {passed=true, failed=true, error=true, cancelled=true, flaky=true}
"""

_PUBLISH = (
    _EMIT
    + """
-- ARGV: 4 type, 5 channel, 6 run id, 7 project, 8 body
return emit(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# KEYS: 3 run hash, 4 state hash. ARGV: 4 case id.
_BEGIN = (
    _EMIT
    + """
local state = redis.call('HGET', KEYS[4], ARGV[4])
if not state then return -3 end
if FINAL[state] then return 0 end
if redis.call('HGET', KEYS[3], 'cancelled') == '1' then return -1 end
redis.call('HSET', KEYS[4], ARGV[4], 'running')
return redis.call('HINCRBY', KEYS[3], 'attempts:' .. ARGV[4], 1)
"""
)

# KEYS: 3 run hash, 4 state hash, 5 cases hash.
# ARGV: 4 case id, 5 case json, 6 event type ('' for none), 7 channel, 8 run id,
#       9 project, 10 event body
_UPDATE = (
    _EMIT
    + """
local state = redis.call('HGET', KEYS[4], ARGV[4])
if not state or FINAL[state] then return 0 end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[5])
if ARGV[6] ~= '' then emit(ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]) end
return 1
"""
)

# The run's completion, shared by finish and cancel. Counts live in the run hash
# as 'n:<status>'; the last final status completes the run with run_completed.
_COMPLETE = """
local function finalise(case_id, status, case_json, typ, body, now)
  redis.call('HSET', KEYS[4], case_id, status)
  redis.call('HSET', KEYS[5], case_id, case_json)
  emit(typ, 'test_execution', ARGV[8], ARGV[9], body)
  redis.call('HINCRBY', KEYS[3], 'n:' .. status, 1)
  local pending = redis.call('HINCRBY', KEYS[3], 'pending', -1)
  if pending > 0 then return 1 end
  local counts = {}
  local total = 0
  for _, s in ipairs({'passed', 'failed', 'error', 'cancelled', 'flaky'}) do
    local n = tonumber(redis.call('HGET', KEYS[3], 'n:' .. s) or '0')
    counts[s] = n
    total = total + n
  end
  local run_status = 'passed'
  if counts.failed > 0 or counts.error > 0 then run_status = 'failed'
  elseif counts.cancelled > 0 then run_status = 'cancelled' end
  local created = tonumber(redis.call('HGET', KEYS[3], 'created_ms') or now)
  redis.call('HSET', KEYS[3], 'status', run_status, 'finished_ms', now)
  local envelope = cjson.encode({
    type = 'run_completed', timestamp = now, runId = ARGV[8], projectId = ARGV[9],
    correlationId = ARGV[8],
    payload = {status = run_status, counts = counts, total = total,
               duration = now - created},
    metadata = {source = ARGV[10], priority = 'normal'}})
  emit('run_completed', 'test_execution', ARGV[8], ARGV[9], envelope)
  return 2
end
"""

# KEYS: 3 run hash, 4 state hash, 5 cases hash.
# ARGV: 4 case id, 5 status, 6 case json, 7 event type, 8 run id, 9 project,
#       10 source, 11 event body, 12 now ms
_FINISH = (
    _EMIT
    + _COMPLETE
    + """
local state = redis.call('HGET', KEYS[4], ARGV[4])
if not state or FINAL[state] then return 0 end
return finalise(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[11], tonumber(ARGV[12]))
"""
)

# KEYS: 3 run hash, 4 state hash, 5 cases hash.
# ARGV: 4 unused, 5 unused, 6 unused, 7 unused, 8 run id, 9 project, 10 source,
#       11 now ms, 12.. pairs of (case id, cancelled case json, event body)
_CANCEL = (
    _EMIT
    + _COMPLETE
    + """
redis.call('HSET', KEYS[3], 'cancelled', '1')
local n = 0
local i = 12
while ARGV[i] do
  local state = redis.call('HGET', KEYS[4], ARGV[i])
  if state == 'queued' then
    finalise(ARGV[i], 'cancelled', ARGV[i + 1], 'test_cancelled', ARGV[i + 2],
             tonumber(ARGV[11]))
    n = n + 1
  end
  i = i + 3
end
return n
"""
)


def _state_key(run_id: str) -> str:
    return keys.run(run_id) + ":state"


class RunStore:
    """Runs, cases and events in Redis. Thread-safe (redis-py pools connections)."""

    def __init__(self, client: redis.Redis, settings: Settings, source: str = "testfleet") -> None:
        self._r = client
        self._settings = settings
        self.source = source
        self._publish = client.register_script(_PUBLISH)
        self._begin = client.register_script(_BEGIN)
        self._update = client.register_script(_UPDATE)
        self._finish = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)

    @classmethod
    def connect(cls, settings: Settings, source: str = "testfleet") -> RunStore:
        """A store on ``settings.redis.url`` (strings decoded)."""
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
        r = self._settings.redis
        return [r.stream_maxlen, r.run_stream_maxlen, self._settings.retention.run_ttl_s]

    def _keys(self, run_id: str) -> list[str]:
        return [
            keys.EVENTS_STREAM,
            keys.run_events(run_id),
            keys.run(run_id),
            _state_key(run_id),
            keys.run_cases(run_id),
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
        pipe.hset(
            run_key,
            mapping={
                "meta": record.model_dump_json(),
                "project": record.project_id,
                "status": "queued",
                "pending": len(cases),
                "created_ms": record.created_ms,
                "cancelled": "0",
            },
        )
        pipe.hset(
            keys.run_cases(record.run_id), mapping={c.case_id: c.model_dump_json() for c in cases}
        )
        pipe.hset(_state_key(record.run_id), mapping={c.case_id: "queued" for c in cases})
        spec_map: dict[Any, Any] = dict(specs)
        pipe.hset(keys.run_specs(record.run_id), mapping=spec_map)
        for key in (*keys.run_keys(record.run_id), _state_key(record.run_id)):
            pipe.expire(key, ttl)
        pipe.zadd(keys.RUNS_INDEX, {record.run_id: record.created_ms})
        pipe.zadd(keys.project_runs(record.project_id), {record.run_id: record.created_ms})
        args = [started.type, started.channel, record.run_id, record.project_id, started.body()]
        self._publish(
            keys=self._keys(record.run_id)[:2], args=self._stream_args() + args, client=pipe
        )
        pipe.execute()

    def begin_case(self, run_id: str, case_id: str) -> int:
        """Mark a case running and count the attempt.

        Returns the attempt number (1, 2, ...), 0 when the case already has its final
        status (a redelivery: do nothing), -1 when the run was cancelled.
        Raises ``NotFoundError`` for an unknown (or expired) case.
        """
        n = int(self._begin(keys=self._keys(run_id), args=[*self._stream_args(), case_id]))
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
                payload={"testId": case.case_id, "testSuiteId": case.suite, "name": case.name,
                         "result": {"status": "cancelled", "error": None, "failedStep": None}},
            )  # fmt: skip
            args += [case.case_id, case.model_dump_json(), event.body()]
        return int(self._cancel(keys=self._keys(run_id), args=args))

    def is_cancelled(self, run_id: str) -> bool:
        return bool(self._r.hget(keys.run(run_id), "cancelled") == "1")

    def stop_reason(self, run_id: str, case_id: str, attempt: int) -> str | None:
        """Why a delivery running ``attempt`` of a case should stop before its next step:
        ``"cancelled"`` (the run was), ``"superseded"`` (another delivery of the case began
        a later attempt, as after a lost lease), or None to go on. One round trip."""
        cancelled, begun = self._r.hmget(keys.run(run_id), ["cancelled", f"attempts:{case_id}"])
        if cancelled == "1":
            return "cancelled"
        if begun is not None and int(begun) > attempt:
            return "superseded"
        return None

    def get_spec(self, run_id: str, case_id: str) -> str:
        spec = self._r.hget(keys.run_specs(run_id), case_id)
        if spec is None:
            raise NotFoundError(f"case {case_id} of run {run_id} does not exist (expired?)")
        return cast(str, spec)

    def get_case(self, run_id: str, case_id: str) -> CaseResult:
        raw = self._r.hget(keys.run_cases(run_id), case_id)
        if raw is None:
            raise NotFoundError(f"case {case_id} of run {run_id} does not exist (expired?)")
        return CaseResult.model_validate_json(cast(str, raw))

    def get_record(self, run_id: str) -> RunRecord | None:
        meta = self._r.hget(keys.run(run_id), "meta")
        return RunRecord.model_validate_json(cast(str, meta)) if meta else None

    def get_run(self, run_id: str) -> RunResult | None:
        """The run with every case, or None when unknown or expired."""
        pipe = self._r.pipeline(transaction=False)
        pipe.hgetall(keys.run(run_id))
        pipe.hvals(keys.run_cases(run_id))
        pipe.hgetall(_state_key(run_id))
        fields, raw_cases, states = cast(
            tuple[dict[str, str], list[str], dict[str, str]], pipe.execute()
        )
        if not fields or "meta" not in fields:
            return None
        record = RunRecord.model_validate_json(fields["meta"])
        cases = sorted(
            (CaseResult.model_validate_json(c) for c in raw_cases), key=lambda c: c.case_id
        )
        for case in cases:  # the state hash is the authority on status (Lua-guarded)
            case.status = cast(Any, states.get(case.case_id, case.status))
        counts: dict[str, int] = {}
        for case in cases:
            counts[case.status] = counts.get(case.status, 0) + 1
        cancelled = fields.get("cancelled") == "1"
        finished = fields.get("finished_ms")
        return RunResult(
            runId=record.run_id,
            projectId=record.project_id,
            name=record.name,
            status=run_status(counts, record.total, cancelled),
            createdMs=record.created_ms,
            finishedMs=int(finished) if finished else None,
            counts=counts,
            tests=cases,
        )

    def list_runs(self, project_id: str, limit: int = 50) -> list[RunRecord]:
        """A project's most recent runs, newest first."""
        ids = cast(list[str], self._r.zrevrange(keys.project_runs(project_id), 0, limit - 1))
        return [r for r in (self.get_record(i) for i in ids) if r is not None]

    def run_statuses(self, run_ids: Iterable[str]) -> dict[str, str]:
        pipe = self._r.pipeline(transaction=False)
        ids = list(run_ids)
        for run_id in ids:
            pipe.hget(keys.run(run_id), "status")
        return {i: s or "unknown" for i, s in zip(ids, pipe.execute(), strict=True)}

    def read_run_events(
        self, run_id: str, after: str = "0-0", count: int = 1000
    ) -> list[dict[str, Any]]:
        """A run's events after ``after`` in wire form (oldest first)."""
        entries = cast(
            list[tuple[str, dict[str, str]]],
            self._r.xrange(keys.run_events(run_id), min=f"({after}", count=count),
        )
        return [{"id": i, **json.loads(f["d"])} for i, f in entries]
