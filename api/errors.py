"""How the API answers a problem: one error shape, one translation, the handlers.

Every error is ``{"error": {"code": ..., "message": ...}}`` (plus ``problems``
when there are several, e.g. an invalid suite or invalid query parameters), and
the message says what to fix. testfleet's errors (``testfleet.errors.http_status``)
and redis errors are translated in one place: ``error_response``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from testfleet import logs
from testfleet.errors import RateLimited, SuiteError, TestfleetError, http_status

log = logs.get_logger(__name__)

_ENV_PROBLEM = re.compile(
    r"environment variable (\w+) is not set \(set it, or write (\$\{\w+:-default\})\)"
)


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


class BodyTooLarge(Exception):
    """The request body went past ``settings.api.max_body_bytes`` while being read."""


class ErrorDetail(BaseModel):
    """What went wrong and what to do about it."""

    code: str = Field(description="Stable machine-readable code", examples=["not_found"])
    message: str = Field(
        description="What went wrong and how to fix it",
        examples=["run 20261122-020000-abcdef does not exist in project web"],
    )
    problems: list[str] | None = Field(
        default=None, description="Every problem found, when there are several"
    )


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    error: ErrorDetail


def _documented(*answers: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": text} for status, text in answers}


ERROR_RESPONSES = _documented(
    (400, "The request is malformed; the message says how"),
    (401, "No API key, or an unknown or revoked one"),
    (403, "The API key lacks the scope this route needs"),
    (404, "No such run or artifact in the key's project"),
    (422, "A parameter is invalid; problems lists each"),
    (503, "Redis or another service testfleet needs is not answering"),
)
"""The error answers every ``/api/v1`` route may give (documented in the OpenAPI)."""
SUBMIT_ERRORS = _documented(
    (
        413,
        "The body is larger than settings.api.max_body_bytes, or the run is over a limit "
        "(the message names the TESTFLEET_LIMITS__ setting)",
    ),
    (415, "The Content-Type is not accepted"),
    (422, "The request or the suites are invalid; problems lists each"),
    (429, "The project is over a quota (submissions per minute, cases queued); see Retry-After"),
)
"""The error answers a route taking a body adds."""


def error(status: int, code: str, message: str, problems: list[str] | None = None) -> JSONResponse:
    """An error answer in the one shape."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if problems is not None:
        detail["problems"] = problems
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def error_response(exc: Exception) -> JSONResponse:
    """The one translation of errors into HTTP answers."""
    if isinstance(exc, SuiteError):
        n = len(exc.problems)
        message = f"{n} problem(s) in the submitted suites; fix them and submit again"
        return error(422, "invalid_suite", message, [api_wording(p) for p in exc.problems])
    known = http_status(exc)
    if isinstance(exc, RateLimited):
        answer = error(*known or (429, "rate_limited"), str(exc))
        answer.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return answer
    if known is not None:
        return error(*known, str(exc))
    if isinstance(exc, redis.RedisError):
        return error(503, "unavailable", f"Redis is not answering ({exc}); try again shortly")
    if isinstance(exc, ApiError):
        return error(exc.status, exc.code, exc.message, exc.problems)
    if isinstance(exc, BodyTooLarge):
        return error(413, "payload_too_large", str(exc))
    log.error("unexpected error answering a request", exc_info=exc)
    return error(500, "internal_error", "the API failed unexpectedly; see its log and report it")


def api_wording(problem: str) -> str:
    """Unset variables come from the request's ``variables`` here, not an environment."""
    return _ENV_PROBLEM.sub(
        r'variable \1 is not set: pass it in the request\'s "variables" '
        r"(the CLI sends your environment's), or write \2",
        problem,
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer in the one shape (never a bare 500 page)."""

    async def handle(_: Request, exc: Exception) -> Response:
        return error_response(exc)

    for kind in (TestfleetError, ApiError, BodyTooLarge, redis.RedisError, Exception):
        app.add_exception_handler(kind, handle)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
            return error(404, "not_found", message)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
            return error(405, "method_not_allowed", message)
        return error(exc.status_code, "http_error", str(exc.detail))

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        return error(422, "invalid_request", "; ".join(problems), problems)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
