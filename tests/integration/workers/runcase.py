"""What the worker test modules share: the local pages a case logs in to, and a
local browser provider that counts its sessions, queuing a one-case run and running
it as a worker would.

The fixtures serving them are in this directory's conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from selenium.webdriver.remote.webdriver import WebDriver

from grid.provider import LocalProvider
from testfleet.artifacts import open_store
from testfleet.events import Event, now_ms
from testfleet.payloads import RunStarted
from testfleet.results import CaseResult, RunRecord
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.suites.model import CaseSpec, Suite
from tests.fixtures_pages import Page
from tests.payload_checks import checked
from workers.tasks import run_case

SECRET = "wonderland-7Hq2"

LOGIN = f"""<!doctype html><html><head><title>Login</title></head><body>
<form onsubmit="event.preventDefault();
  if (user.value === 'alice' && pass.value === '{SECRET}') location.href = '/dashboard';
  else err.textContent = 'wrong password: ' + pass.value;">
  <input id="user"><input id="pass" type="password"><button type="submit">Sign in</button>
</form><p id="err"></p></body></html>"""

DASHBOARD = (
    "<!doctype html><html><head><title>Dashboard</title></head><body>"
    "<h1>Welcome, alice</h1></body></html>"
)


class Pages:
    """The page server's pages, plus hooks the tests set to act when a page is fetched."""

    def __init__(self) -> None:
        self.flaky_hits = 0
        self.on_fetch: dict[str, Callable[[], object]] = {}

    def flaky(self) -> str:
        # Broken on the first load, fine from then on: a retry passes.
        self.flaky_hits += 1
        text = "Broken" if self.flaky_hits == 1 else "Works"
        return f"<!doctype html><html><body><h1>{text}</h1></body></html>"

    def hook(self, path: str) -> Page:
        def page() -> str:
            if path in self.on_fetch:
                self.on_fetch.pop(path)()
            return "<!doctype html><html><body><button id='b'>B</button></body></html>"

        return page

    def all(self) -> dict[str, Page]:
        return {
            "/login": LOGIN,
            "/dashboard": DASHBOARD,
            "/flaky": self.flaky,
            "/hook": self.hook("/hook"),
        }


class CountingProvider:
    """The local provider, counting sessions; ``kill_first`` hands out a dead first session."""

    def __init__(self, settings: Settings, kill_first: bool = False) -> None:
        self._local = LocalProvider(settings)
        self.opened = 0
        self.closed = 0
        self.kill_first = kill_first

    def open(self, project: str = "") -> WebDriver:
        driver = self._local.open()
        self.opened += 1
        if self.kill_first and self.opened == 1:
            driver.quit()  # the browser "crashed" before the test started
        return driver

    def close(self, driver: WebDriver) -> None:
        self.closed += 1
        self._local.close(driver)


def create_run(
    store: RunStore, suite_doc: dict[str, Any], project: str = "proj"
) -> tuple[str, str]:
    """A run of ``project`` of one suite with one test, queued as the orchestrator would;
    (run id, case id)."""
    suite = Suite.model_validate(suite_doc)
    run_id = "r" + uuid.uuid4().hex[:12]
    test = suite.tests[0]
    spec = CaseSpec.of(suite, test)
    case_id = f"{run_id}-0001"
    case = CaseResult(
        case_id=case_id,
        run_id=run_id,
        suite=suite.name,
        name=test.name,
        tags=sorted(set(test.tags) | set(suite.tags)),
        retry_count=spec.retry_count,
        total_steps=len(test.steps),
    )
    record = RunRecord(
        run_id=run_id,
        project_id=project,
        name="t",
        suites=[suite.name],
        created_ms=now_ms(),
        total=1,
    )
    started = Event(
        type="run_started",
        run_id=run_id,
        project_id=project,
        payload=RunStarted(runId=run_id, name="t", total=1, suites=[suite.name]).dump(),
    )
    store.create_run(record, [case], {case_id: spec.model_dump_json()}, started)
    return run_id, case_id


def suite_doc(base_url: str, steps: list[dict[str, Any]], **test: Any) -> dict[str, Any]:
    return {
        "name": "Login",
        "base_url": base_url,
        "environment": "ci",
        "timeout_seconds": 3,
        "tests": [
            {
                "name": "valid login",
                "tags": ["smoke"],
                "steps": [{"order_index": i, **s} for i, s in enumerate(steps, 1)],
                **test,
            }
        ],
    }


def events(store: RunStore, run_id: str) -> list[dict[str, Any]]:
    """The run's events, each checked against its payload model and the published schema."""
    return checked(store.read_run_events(run_id))


def execute(
    store: RunStore, provider: CountingProvider, settings: Settings, run_id: str, case_id: str
) -> CaseResult | None:
    artifacts = open_store(settings)
    return run_case(store, provider, artifacts, settings, run_id, case_id, "tfworker-1@host:1")
