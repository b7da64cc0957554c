"""The orchestrator's REST API: submit suites, follow and cancel runs, fetch reports.

Everything under ``/api/v1`` needs an API key (``Authorization: Bearer KEY`` or
``X-API-Key: KEY``): ``test:write`` to submit and cancel, ``test:read`` to read.
A key only ever sees its own project's runs: another project's run is a 404,
exactly like a run that does not exist. ``/health``, ``/ready`` and ``/metrics``
are open.

Every error is ``{"error": {"code": ..., "message": ...}}`` (plus ``problems``
for an invalid suite), and the message says what to fix. testfleet's errors
and redis errors are translated to HTTP in one place (``_error_response``).

A submission is validated whole (every problem of every suite at once, 422)
before anything is stored or queued; then the run is recorded with all its
cases queued and ``run_started`` published, and only then are the tasks sent,
so a worker always finds the case it is given.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

import redis
import uvicorn
import yaml
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator import reports
from orchestrator.dispatch import Dispatcher, plan_run
from testfleet import keys
from testfleet.artifacts import ArtifactStore
from testfleet.auth import ApiKey, KeyStore, presented_key
from testfleet.errors import (
    ForbiddenError,
    InfrastructureError,
    NotFoundError,
    SuiteError,
    TestfleetError,
    UsageError,
    http_status,
)
from testfleet.events import Event
from testfleet.loader import load_document
from testfleet.results import CaseResult, RunResult, RunStatus
from testfleet.runstore import RunStore
from testfleet.settings import Settings
from testfleet.suite import Suite

log = logging.getLogger("testfleet.api")

API_PREFIX = "/api/v1"
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
_MAX_DOCUMENT_NODES = 200_000
"""A suite document expanding (through YAML aliases) to more nodes is refused."""
_ENV_PROBLEM = re.compile(
    r"environment variable (\w+) is not set \(set it, or write (\$\{\w+:-default\})\)"
)
_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".log": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
}


# --- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """An HTTP-level problem with a request (not a testfleet domain error)."""

    def __init__(
        self, status: int, code: str, message: str, problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems


class _BodyTooLarge(Exception):
    """The request body went past ``settings.api.max_body_bytes``."""


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[str] | None = None


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    error: ErrorDetail


def _error(status: int, code: str, message: str, problems: list[str] | None = None) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if problems is not None:
        detail["problems"] = problems
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def _error_response(exc: Exception) -> JSONResponse:
    """The one translation of errors into HTTP answers."""
    if isinstance(exc, SuiteError):
        n = len(exc.problems)
        message = f"{n} problem(s) in the submitted suites; fix them and submit again"
        return _error(422, "invalid_suite", message, [_api_wording(p) for p in exc.problems])
    known = http_status(exc)
    if known is not None:
        return _error(*known, str(exc))
    if isinstance(exc, redis.RedisError):
        return _error(503, "unavailable", f"Redis is not answering ({exc}); try again shortly")
    if isinstance(exc, ApiError):
        return _error(exc.status, exc.code, exc.message, exc.problems)
    if isinstance(exc, _BodyTooLarge):
        return _error(413, "payload_too_large", str(exc))
    return _error(500, "internal_error", "the API failed unexpectedly; see its log and report it")


def _api_wording(problem: str) -> str:
    """Unset variables come from the request's ``variables`` here, not an environment."""
    return _ENV_PROBLEM.sub(
        r'variable \1 is not set: pass it in the request\'s "variables" '
        r"(the CLI sends your environment's), or write \2",
        problem,
    )


# --- request and answer shapes -----------------------------------------------------------


class RunRequest(BaseModel):
    """``POST /api/v1/runs`` as JSON; a raw YAML/JSON suite body is the other way."""

    model_config = ConfigDict(extra="forbid")

    suites: list[dict[str, Any] | str] = Field(min_length=1)
    """Suite documents (canonical or short form), or suite files' text (YAML or JSON)."""
    name: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list)
    """Run only the tests carrying one of these tags (all when empty)."""
    variables: dict[str, str] = Field(default_factory=dict)
    """Values for ``${VAR}`` in the suites (nothing else is substituted)."""
    sources: list[str] | None = None
    """One name per suite (its file name) for error messages; ``suites[i]`` otherwise."""


class RunLinks(BaseModel):
    self: str
    events: str
    websocket: str
    report: str
    junit: str


class RunSubmitted(BaseModel):
    runId: str
    status: Literal["queued"]
    total: int
    links: RunLinks


class RunSummary(BaseModel):
    runId: str
    name: str
    status: str
    createdMs: int
    finishedMs: int | None
    total: int
    counts: dict[str, int]
    suites: list[str]
    tags: list[str]
    links: dict[str, str]


class RunList(BaseModel):
    runs: list[RunSummary]


class RunDetail(RunResult):
    links: RunLinks


class Cancelled(BaseModel):
    runId: str
    cancelled: int
    """Queued cases cancelled now (running ones stop at their next step)."""
    status: str
    counts: dict[str, int]


@dataclass
class _Submission:
    documents: list[tuple[str, Any]]
    name: str | None = None
    tags: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)


# --- services ----------------------------------------------------------------------------


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "testfleet_api_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "testfleet_api_request_duration_seconds",
            "HTTP request handling time in seconds, by route template",
            ["route"],
            registry=self.registry,
        )
        self.runs = Counter(
            "testfleet_api_runs_submitted", "Runs accepted and queued", registry=self.registry
        )
        self.cases = Counter(
            "testfleet_api_cases_queued", "Test cases queued as tasks", registry=self.registry
        )


@dataclass
class _Services:
    settings: Settings
    client: redis.Redis
    store: RunStore
    keys: KeyStore
    dispatcher: Dispatcher
    artifacts: ArtifactStore
    metrics: _Metrics


def _services(request: Request) -> _Services:
    return cast(_Services, request.app.state.services)


def _presented_key(request: Request) -> str | None:
    return presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


def _require(scope: str) -> Callable[[Request], ApiKey]:
    def dependency(request: Request) -> ApiKey:
        key = _services(request).keys.verify(_presented_key(request))
        if not key.allows(scope):
            raise ForbiddenError(
                f"this API key (id {key.id}) lacks the {scope} scope; create one that has it: "
                f"`testfleet keys create --project {key.project} --scopes {scope}`"
            )
        return key

    return dependency


ReadKey = Annotated[ApiKey, Depends(_require("test:read"))]
WriteKey = Annotated[ApiKey, Depends(_require("test:write"))]


# --- submissions -------------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _parse_submission(media_type: str, body: bytes, query: dict[str, str]) -> _Submission:
    """The suites and options of a ``POST /runs`` body (JSON envelope or one raw suite)."""
    if not body.strip():
        raise ApiError(
            400, "empty_body", 'the body is empty: send {"suites": [...]} or one suite as YAML'
        )
    single = _Submission(
        documents=[],
        name=query.get("name") or None,
        tags={t.strip() for t in query.get("tags", "").split(",") if t.strip()},
    )
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "invalid_json", "the JSON body is nested too deeply") from None
        if isinstance(document, dict) and "suites" in document:
            return _envelope(document)
        if isinstance(document, dict) and "tests" in document:
            single.documents.append((query.get("source") or "suite", document))
            return single
        raise ApiError(
            422,
            "invalid_request",
            'a JSON body is either {"suites": [...], "name": ..., "tags": [...], '
            '"variables": {...}} or one suite with a top-level "tests" list',
        )
    if media_type in _YAML_TYPES or not media_type:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "the suite text must be UTF-8") from None
        single.documents.append((query.get("source") or "suite", text))
        return single
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type} is not accepted: send application/json "
        "or one suite as application/yaml (or text/yaml, text/plain)",
    )


def _envelope(document: dict[str, Any]) -> _Submission:
    try:
        request = RunRequest.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        message = "; ".join(problems) + (
            ' (the body is {"suites": [...], "name": ..., "tags": [...], "variables": {...}})'
        )
        raise ApiError(422, "invalid_request", message, problems) from None
    sources = request.sources or []
    if sources and len(sources) != len(request.suites):
        raise UsageError(
            f"sources has {len(sources)} names for {len(request.suites)} suites: give one per suite"
        )
    return _Submission(
        documents=[
            (sources[i] if sources else f"suites[{i}]", doc) for i, doc in enumerate(request.suites)
        ],
        name=request.name,
        tags=set(request.tags),
        variables=request.variables,
    )


def _parse_yaml(text: str, source: str) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError([f"{source}: not valid YAML or JSON{where}: {problem}"]) from None
    except RecursionError:
        raise SuiteError([f"{source}: nested too deeply to be a suite"]) from None
    if _expanded_nodes(document, {}) > _MAX_DOCUMENT_NODES:
        raise SuiteError(
            [f"{source}: expands to more than {_MAX_DOCUMENT_NODES} values (YAML aliases?)"]
        )
    return document


def _expanded_nodes(node: Any, memo: dict[int, int]) -> int:
    """How many values ``node`` is once YAML aliases are copied out (memoised: linear)."""
    if not isinstance(node, dict | list):
        return 1
    known = memo.get(id(node))
    if known is not None:
        return known
    children = node.values() if isinstance(node, dict) else node
    total = 1 + sum(_expanded_nodes(child, memo) for child in children)
    memo[id(node)] = total
    return total


def _load_suites(submission: _Submission) -> list[Suite]:
    """Every suite validated; ``SuiteError`` with every problem of every suite."""
    suites: list[Suite] = []
    problems: list[str] = []
    named: dict[str, str] = {}
    for source, raw in submission.documents:
        try:
            document = _parse_yaml(raw, source) if isinstance(raw, str) else raw
            suite = load_document(document, submission.variables, source)
        except SuiteError as exc:
            problems += exc.problems
            continue
        except RecursionError:
            problems.append(f"{source}: nested too deeply to be a suite")
            continue
        if suite.name in named:
            problems.append(
                f"{source}: name: suite name {suite.name!r} is already used by "
                f"{named[suite.name]}; suite names must be unique within a run"
            )
        named.setdefault(suite.name, source)
        suites.append(suite)
    if problems:
        raise SuiteError(problems)
    return suites


def _new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _links(settings: Settings, run_id: str) -> RunLinks:
    gateway = settings.gateway_url.rstrip("/")
    ws = "ws" + gateway.removeprefix("http") if gateway.startswith("http") else gateway
    base = f"{API_PREFIX}/runs/{run_id}"
    return RunLinks(
        self=base,
        events=f"{gateway}/sse/events?runId={run_id}",
        websocket=f"{ws}/ws/events/{run_id}",
        report=f"{base}/report.html",
        junit=f"{base}/junit.xml",
    )


def _submit(services: _Services, key: ApiKey, submission: _Submission) -> RunSubmitted:
    suites = _load_suites(submission)
    run_id = _new_run_id()
    name = submission.name or ", ".join(s.name for s in suites)[:200]
    record, cases, specs = plan_run(
        run_id, key.project, suites, submission.tags, name, submitted_by=key.id
    )
    started = Event(
        type="run_started",
        run_id=run_id,
        project_id=key.project,
        correlation_id=run_id,
        source=services.store.source,
        payload={
            "runId": run_id,
            "name": name,
            "total": record.total,
            "suites": record.suites,
            "tags": record.tags,
            "tests": [_test_entry(c) for c in cases],
        },
    )
    store = services.store
    store.create_run(record, cases, specs, started)
    try:
        services.dispatcher.dispatch(cases)
    except InfrastructureError:
        # Nothing may wait forever for tasks that were never sent.
        try:
            store.cancel_run(run_id)
        except (TestfleetError, redis.RedisError):
            log.exception("could not cancel run %s after its dispatch failed", run_id)
        raise
    services.metrics.runs.inc()
    services.metrics.cases.inc(len(cases))
    log.info("run %s queued: project=%s cases=%d", run_id, key.project, len(cases))
    return RunSubmitted(
        runId=run_id, status="queued", total=len(cases), links=_links(services.settings, run_id)
    )


def _test_entry(case: CaseResult) -> dict[str, Any]:
    return {
        "testId": case.case_id,
        "name": case.name,
        "suite": case.suite,
        "tags": case.tags,
        "priority": case.priority,
    }


# --- reading runs ------------------------------------------------------------------------


def _owned_run(services: _Services, run_id: str, key: ApiKey) -> RunResult:
    run = services.store.get_run(run_id)
    if run is None or run.projectId != key.project:
        # Another project's run is indistinguishable from a missing one.
        raise NotFoundError(
            f"run {run_id} does not exist in project {key.project} "
            f"(or has expired); list the project's runs with GET {API_PREFIX}/runs"
        )
    return run


def _summary(fields: dict[str, str]) -> RunSummary | None:
    if "meta" not in fields:
        return None
    meta = json.loads(fields["meta"])
    counts = {k[2:]: int(v) for k, v in fields.items() if k.startswith("n:") and int(v)}
    status = fields.get("status", "queued")
    if status not in ("passed", "failed", "cancelled"):
        started = counts or any(k.startswith("attempts:") for k in fields)
        status = "cancelled" if fields.get("cancelled") == "1" else (
            "running" if started else "queued"
        )  # fmt: skip
    finished = fields.get("finished_ms")
    return RunSummary(
        runId=meta["run_id"],
        name=meta["name"],
        status=status,
        createdMs=meta["created_ms"],
        finishedMs=int(finished) if finished else None,
        total=meta["total"],
        counts=counts,
        suites=meta["suites"],
        tags=meta.get("tags", []),
        links={"self": f"{API_PREFIX}/runs/{meta['run_id']}"},
    )


def _list_runs(
    services: _Services, project: str, limit: int, status: RunStatus | None
) -> list[RunSummary]:
    client = services.client
    index = keys.project_runs(project)
    found: list[RunSummary] = []
    page = max(limit, 100)
    start = 0
    while len(found) < limit:
        ids = cast(list[str], client.zrevrange(index, start, start + page - 1))
        if not ids:
            break
        pipe = client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hgetall(keys.run(run_id))
        for fields in pipe.execute():
            summary = _summary(cast(dict[str, str], fields))
            if summary is not None and (status is None or summary.status == status):
                found.append(summary)
        start += page
    return found[:limit]


# --- ASGI middleware ---------------------------------------------------------------------


class _BodyLimit:
    """Refuses bodies past ``max_bytes``: by Content-Length up front, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes} bytes; split the suites "
            "into several runs or raise TESTFLEET_API__MAX_BODY_BYTES"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _error(400, "bad_request", "Content-Length is not a number")(
                    scope, receive, send
                )
                return
            if int(declared) > self.max_bytes:
                await _error(413, "payload_too_large", self._too_large())(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self._too_large())
            return message

        await self.app(scope, limited, send)


class _RequestMetrics:
    """Counts requests by route template (never the raw path: ids would explode labels)."""

    def __init__(self, app: ASGIApp, metrics: _Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        began = time.perf_counter()

        async def counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)


# --- the app -----------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 415, 422, 503)
}
_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RunRequest.model_json_schema()},
            "application/yaml": {"schema": {"type": "string", "description": "one suite"}},
        },
    },
    "parameters": [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"},
         "description": d}
        for n, d in (
            ("name", "run name (raw suite bodies)"),
            ("tags", "comma-separated tag filter (raw suite bodies)"),
            ("source", "the suite's file name, for error messages (raw suite bodies)"),
        )
    ],
}  # fmt: skip


def _routes() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=_ERRORS)

    @router.post("/runs", status_code=202, openapi_extra=_SUBMIT_BODY)
    async def submit_run(request: Request, key: WriteKey) -> RunSubmitted:
        """Submit suites as one run; every case is queued. 422 lists every suite problem."""
        body = await request.body()
        submission = _parse_submission(_media_type(request), body, dict(request.query_params))
        return await run_in_threadpool(_submit, _services(request), key, submission)

    @router.get("/runs")
    def list_runs(
        request: Request,
        key: ReadKey,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        status: RunStatus | None = None,
    ) -> RunList:
        """The project's runs, newest first."""
        return RunList(runs=_list_runs(_services(request), key.project, limit, status))

    @router.get("/runs/{run_id}")
    def get_run(request: Request, run_id: str, key: ReadKey) -> RunDetail:
        """A run with every test case's status, attempts, steps, error, artifacts."""
        services = _services(request)
        run = _owned_run(services, run_id, key)
        return RunDetail(**run.model_dump(), links=_links(services.settings, run_id))

    @router.post("/runs/{run_id}/cancel", status_code=202)
    def cancel_run(request: Request, run_id: str, key: WriteKey) -> Cancelled:
        """Cancel a run: queued cases never start, running ones stop at their next step."""
        services = _services(request)
        _owned_run(services, run_id, key)
        n = services.store.cancel_run(run_id)
        run = _owned_run(services, run_id, key)
        return Cancelled(runId=run_id, cancelled=n, status=run.status, counts=run.counts)

    @router.get("/runs/{run_id}/report.html", response_class=HTMLResponse)
    def report_html(request: Request, run_id: str, key: ReadKey) -> HTMLResponse:
        """The self-contained HTML report (screenshots inline)."""
        services = _services(request)
        run = _owned_run(services, run_id, key)
        return HTMLResponse(reports.html_report(run, services.artifacts))

    @router.get("/runs/{run_id}/junit.xml", response_class=Response)
    def report_junit(request: Request, run_id: str, key: ReadKey) -> Response:
        """The run as JUnit XML, for CI test tabs."""
        run = _owned_run(_services(request), run_id, key)
        return Response(reports.junit_xml(run), media_type="application/xml")

    @router.get("/runs/{run_id}/artifacts/{name}", response_class=Response)
    def artifact(request: Request, run_id: str, name: str, key: ReadKey) -> Response:
        """A screenshot, thumbnail or log of the run, by the name its result lists."""
        services = _services(request)
        _owned_run(services, run_id, key)
        data = services.artifacts.read(run_id, name)
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Content-Disposition": f'inline; filename="{name}"',
        }
        media = _MEDIA_TYPES.get(suffix, "application/octet-stream")
        return Response(data, media_type=media, headers=headers)

    return router


def create_app(settings: Settings) -> FastAPI:
    """The API as an ASGI app; its Redis and broker connections close at shutdown."""
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    metrics = _Metrics()
    services = _Services(
        settings=settings,
        client=client,
        store=RunStore(client, settings, source=f"api@{socket.gethostname()}"),
        keys=KeyStore(client),
        dispatcher=Dispatcher(settings),
        artifacts=ArtifactStore(settings.paths.artifacts),
        metrics=metrics,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.dispatcher.close()
            client.close()

    app = FastAPI(
        title="testfleet API",
        version="1",
        summary="Submit browser test suites to the fleet, follow and cancel runs, get reports.",
        lifespan=lifespan,
    )
    app.state.services = services

    async def handle(_: Request, exc: Exception) -> Response:
        return _error_response(exc)

    for kind in (TestfleetError, ApiError, _BodyTooLarge, redis.RedisError, Exception):
        app.add_exception_handler(kind, handle)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
            return _error(404, "not_found", message)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
            return _error(405, "method_not_allowed", message)
        return _error(exc.status_code, "http_error", str(exc.detail))

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, "invalid_request", "; ".join(problems), problems)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"model": ErrorBody}})
    def ready() -> dict[str, str]:
        """Readiness: Redis (run store and broker) answers."""
        services.store.ping()
        return {"status": "ready"}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(_routes())
    app.include_router(importlib.import_module("orchestrator.routes_generate").router)
    app.add_middleware(_BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    return app


def main(settings: Settings) -> None:
    """Serve the API on ``settings.api.host:port`` (what ``testfleet api`` runs)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api.host,
        port=settings.api.port,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
