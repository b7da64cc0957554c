"""The one error tree.

Third-party exceptions (redis, Selenium, openai, httpx) are translated into
these at one place per adapter. Every message says what to do about it.

    TestfleetError
    ├── SuiteError              a suite file is invalid (carries every problem found)
    ├── UsageError              a command or request was called wrongly
    │   └── LimitError          a request is over a limit the fleet sets (names the setting)
    ├── RateLimited             too many requests, or too much work queued, for now
    ├── NotFoundError           a run, case, key or artifact does not exist
    ├── AuthError               missing, unknown or revoked API key
    │   └── ForbiddenError      a valid key without the scope needed
    └── InfrastructureError     a service testfleet needs is missing or not answering
        ├── BrowserError        a browser session could not be opened or died
        └── AiError             the AI model refused, failed or kept answering badly
"""

from __future__ import annotations


class TestfleetError(Exception):
    """Base of every error testfleet raises on purpose."""

    __test__ = False  # not a pytest test class, despite the name


class SuiteError(TestfleetError):
    """One or more suites are invalid; ``problems`` lists every one, each naming
    the file, the test, the step and the field (``login.yaml: tests[0].steps[2].click:
    selector is required``)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(TestfleetError):
    """A command or request was called wrongly; the message says how to call it."""


class LimitError(UsageError):
    """A request is over one of the fleet's limits (``testfleet.suites.limits``); the message
    names the limit and the setting that raises it (HTTP 413)."""


class RateLimited(TestfleetError):
    """Too many requests, or too much work queued, right now (HTTP 429); try again after
    ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFoundError(TestfleetError):
    """What was asked for does not exist (or belongs to another project)."""


class AuthError(TestfleetError):
    """The API key is missing, unknown, revoked, or lacks the needed scope."""


class ForbiddenError(AuthError):
    """A valid API key without the scope the request needs (HTTP 403, not 401)."""


class InfrastructureError(TestfleetError):
    """A service testfleet needs (Redis, the Grid, the API) is missing or not answering."""


class BrowserError(InfrastructureError):
    """A browser session could not be opened, or died under a test."""


class AiError(InfrastructureError):
    """The AI model (OpenAI or compatible) failed after retries, or its answers were unusable."""


_HTTP: tuple[tuple[type[TestfleetError], int, str], ...] = (
    (SuiteError, 422, "invalid_suite"),
    (LimitError, 413, "limit_exceeded"),
    (RateLimited, 429, "rate_limited"),
    (ForbiddenError, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (NotFoundError, 404, "not_found"),
    (UsageError, 400, "bad_request"),
    (InfrastructureError, 503, "unavailable"),
    (TestfleetError, 400, "bad_request"),
)


def http_status(exc: BaseException) -> tuple[int, str] | None:
    """The HTTP status and error code that answer a testfleet error; None for any other."""
    for kind, status, code in _HTTP:
        if isinstance(exc, kind):
            return status, code
    return None
