"""The run record in Redis: the fields of the run hash, and turning replies into models.

Keys (all built in ``testfleet/keys.py``), for run ``R`` of project ``P``:

- ``keys.run(R)``        hash, the fields below
- ``keys.run_state(R)``  hash: case id -> status; the authority on a case's status
                          (written only by the Lua scripts, so a final status once)
- ``keys.run_cases(R)``  hash: case id -> ``CaseResult`` JSON (secrets masked)
- ``keys.run_specs(R)``  hash: case id -> ``CaseSpec`` JSON (its test's secrets in clear:
  never served); a case's entry is deleted when the case becomes final
- ``keys.run_events(R)`` stream: the run's events, same ids as the global stream
- ``keys.RUNS_INDEX``, ``keys.project_runs(P)``: sorted sets, run id by creation (ms)

Fields of the run hash (the Lua scripts in ``lua/`` use the same names):

- ``meta``                ``RunRecord`` JSON
- ``project``             the project id, alone, for ownership checks
- ``status``              ``queued`` until the last case is final, then the run's status
- ``pending``             cases not final yet (the last to finish completes the run)
- ``created_ms``          creation time, Unix epoch ms
- ``finished_ms``         completion time, set once with ``run_completed``
- ``cancelled``           ``"1"`` once cancel was asked
- ``stop_reason``         why the run was stopped early (``--max-failures``), once
- ``n:<status>``          final cases per status
- ``attempts:<case id>``  attempts begun per case
- ``deliveries:<case id>`` deliveries that claimed the case (each but the one that
  finishes it was lost: ``worker.max_lost_deliveries`` caps them)

Nothing outside ``testfleet/store/`` reads these fields: read runs through
``RunReader`` / ``AsyncRunReader`` (or ``RunStore``) and their models.
"""

from __future__ import annotations

import json
from typing import Any, cast

from testfleet.results import (
    CaseResult,
    RunHead,
    RunOverview,
    RunRecord,
    RunResult,
    run_status,
)

META = "meta"
PROJECT = "project"
STATUS = "status"
PENDING = "pending"
CREATED_MS = "created_ms"
FINISHED_MS = "finished_ms"
CANCELLED = "cancelled"
STOP_REASON = "stop_reason"
"""Why the run was stopped early (``--max-failures``), set with the cancel."""
COUNT_PREFIX = "n:"
ATTEMPTS_PREFIX = "attempts:"

HEAD_FIELDS: tuple[str, ...] = (PROJECT, FINISHED_MS)
"""What an ownership check reads (``head``)."""


def new_run_fields(record: RunRecord, cases: int) -> dict[str, str | int]:
    """The run hash of a run just submitted with ``cases`` cases, all queued."""
    return {
        META: record.model_dump_json(),
        PROJECT: record.project_id,
        STATUS: "queued",
        PENDING: cases,
        CREATED_MS: record.created_ms,
        CANCELLED: "0",
    }


def attempts_field(case_id: str) -> str:
    """The run hash field counting ``case_id``'s attempts."""
    return ATTEMPTS_PREFIX + case_id


def is_cancelled(value: str | None) -> bool:
    """The ``cancelled`` field's meaning."""
    return value == "1"


def stop_reason(cancelled: str | None, attempts: str | int | None, attempt: int) -> str | None:
    """Why a delivery running ``attempt`` of a case should stop before its next step, from
    the run's ``cancelled`` field and the case's attempts begun: ``"cancelled"``,
    ``"superseded"`` (another delivery began a later attempt) or None to go on."""
    if is_cancelled(cancelled):
        return "cancelled"
    return "superseded" if int(attempts or 0) > attempt else None


def record(meta: str | None) -> RunRecord | None:
    """The run's own fields from ``meta``; None when the run is unknown or expired."""
    return RunRecord.model_validate_json(meta) if meta else None


def _finished(value: str | None) -> int | None:
    return int(value) if value else None


def head(run_id: str, values: list[str | None]) -> RunHead | None:
    """Owner and completion of a run from its ``HEAD_FIELDS``; None when unknown."""
    project, finished = values
    if project is None:
        return None
    return RunHead(runId=run_id, projectId=project, finishedMs=_finished(finished))


def _case_tags(raw_cases: list[str]) -> list[str]:
    tags: set[str] = set()
    for raw in raw_cases:
        tags.update(json.loads(raw).get("tags", []))
    return sorted(tags)


def overview(fields: dict[str, str], raw_cases: list[str] | None = None) -> RunOverview | None:
    """A run without its cases, from its run hash (and its cases' JSON, for their tags).

    None when the run expired while still indexed.
    """
    run = record(fields.get(META))
    if run is None:
        return None
    counts = {
        k.removeprefix(COUNT_PREFIX): int(v)
        for k, v in fields.items()
        if k.startswith(COUNT_PREFIX) and int(v)
    }
    started = any(k.startswith(ATTEMPTS_PREFIX) for k in fields)
    return RunOverview(
        runId=run.run_id,
        projectId=run.project_id,
        name=run.name,
        status=run_status(counts, run.total, is_cancelled(fields.get(CANCELLED)), started),
        createdMs=run.created_ms,
        finishedMs=_finished(fields.get(FINISHED_MS)),
        total=run.total,
        counts=counts,
        suites=run.suites,
        tags=run.tags,
        caseTags=_case_tags(raw_cases) if raw_cases is not None else [],
    )


def result(
    fields: dict[str, str], raw_cases: list[str], states: dict[str, str]
) -> RunResult | None:
    """The run with every case, from its run, cases and state hashes; None when unknown."""
    run = record(fields.get(META))
    if run is None:
        return None
    cases = sorted((CaseResult.model_validate_json(c) for c in raw_cases), key=lambda c: c.case_id)
    for case in cases:  # the state hash is the authority on status (Lua-guarded)
        case.status = cast(Any, states.get(case.case_id, case.status))
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.status] = counts.get(case.status, 0) + 1
    return RunResult(
        runId=run.run_id,
        projectId=run.project_id,
        name=run.name,
        status=run_status(counts, run.total, is_cancelled(fields.get(CANCELLED))),
        createdMs=run.created_ms,
        finishedMs=_finished(fields.get(FINISHED_MS)),
        counts=counts,
        tests=cases,
        metadata=run.metadata,
        schedule=run.schedule,
        stopReason=fields.get(STOP_REASON),
    )
