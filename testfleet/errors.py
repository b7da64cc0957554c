"""The one error tree.

Third-party exceptions (redis, Selenium, openai, httpx) are translated into
these at one place per adapter. Every message says what to do about it.

    TestfleetError
    ├── SuiteError              a suite file is invalid (carries every problem found)
    ├── UsageError              a command or request was called wrongly
    ├── NotFoundError           a run, case, key or artifact does not exist
    ├── AuthError               missing, unknown or revoked API key; missing scope
    └── InfrastructureError     a service testfleet needs is missing or not answering
        └── BrowserError        a browser session could not be opened or died
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


class NotFoundError(TestfleetError):
    """What was asked for does not exist (or belongs to another project)."""


class AuthError(TestfleetError):
    """The API key is missing, unknown, revoked, or lacks the needed scope."""


class InfrastructureError(TestfleetError):
    """A service testfleet needs (Redis, the Grid, the API) is missing or not answering."""


class BrowserError(InfrastructureError):
    """A browser session could not be opened, or died under a test."""
