"""The step executor without a browser: a fake driver that raises on demand.

Covers what is awkward to provoke in real Chromium: every flavour of browser death,
the translation of Selenium errors into short messages, and the optional /
continue-on-failure / cancel semantics.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, cast

import pytest
import urllib3.exceptions
from PIL import Image
from selenium.common.exceptions import (
    InvalidSelectorException,
    InvalidSessionIdException,
    JavascriptException,
    WebDriverException,
)
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.fleet.browser import known_viewport, note_viewport
from testfleet.results import StepResult
from testfleet.suites.model import CaseSpec, TestCase
from testfleet.suites.steps.model import Step
from workers.executor import (
    AttemptOutcome,
    Hooks,
    StepFailed,
    execute_steps,
    make_thumbnail,
    parse_keys,
    thumbnail_name,
)
from workers.executor.probe import INSPECT, PROBE, PROBE_ASYNC


def _png(width: int = 1280, height: int = 800) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


class FakeElement:
    def __init__(self, text: str = "", displayed: bool = True, attrs: dict[str, str] | None = None):
        self.text = text
        self.displayed = displayed
        self.attrs = attrs or {}
        self.tag_name = "div"
        self.typed: list[str] = []
        self.clicks = 0

    def is_displayed(self) -> bool:
        return self.displayed

    def is_enabled(self) -> bool:
        return True

    def click(self) -> None:
        self.clicks += 1

    def clear(self) -> None:
        self.typed.clear()

    def send_keys(self, *keys: str) -> None:
        self.typed.append("".join(keys))

    def get_attribute(self, name: str) -> str | None:
        return self.attrs.get(name)


class FakeDriver:
    """Just enough of ``WebDriver`` for the executor; ``fail[method]`` raises from it."""

    def __init__(self) -> None:
        self.elements: dict[str, list[FakeElement]] = {}
        self.fail: dict[str, Exception] = {}
        self.current_url = "about:blank"
        self.title = ""
        self.visited: list[str] = []
        self.scripts: list[str] = []
        self.sizes_read = 0

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail:
            raise self.fail[method]

    def set_window_size(self, width: int, height: int) -> None:
        self._maybe_fail("set_window_size")

    def set_page_load_timeout(self, seconds: float) -> None:
        pass

    def set_script_timeout(self, seconds: float) -> None:
        pass

    def get(self, url: str) -> None:
        self._maybe_fail("get")
        self.visited.append(url)
        self.current_url = url

    def find_elements(self, by: str, value: str) -> list[FakeElement]:
        self._maybe_fail("find_elements")
        return self.elements.get(value, [])

    def execute_script(self, script: str, *args: Any) -> Any:
        if script.startswith("return [window.innerWidth"):  # sizing the viewport
            self._maybe_fail("window_sizes")
            self.sizes_read += 1
            return [1280, 800, 1280, 939]
        if script in (PROBE.small, PROBE_ASYNC.small):  # is the element there and ready?
            self._maybe_fail("find_elements")
            found = self.elements.get(args[0], [])
            if not found:
                return ["missing", None, None, {}]
            element = found[0]
            info = {"value": "".join(element.typed), "checked": None, "tag": element.tag_name}
            if not element.displayed:
                return ["hidden", element, element, info]
            return ["ready", element, element, info]
        if script == INSPECT.small:  # what an assertion reads
            self._maybe_fail("find_elements")
            found = self.elements.get(args[0], [])
            if not found:
                return {"count": 0}
            first = found[0]
            return {"count": len(found), "value": first.text, "visible": first.displayed}
        if "performance.getEntriesByType" in script:  # what a navigation came to
            self._maybe_fail("navigation")
            return [self.current_url, 200, "", None, ""]
        self._maybe_fail("execute_script")
        self.scripts.append(script)
        return None

    def execute_async_script(self, script: str, *args: Any) -> Any:
        return self.execute_script(script, *args)

    def get_screenshot_as_png(self) -> bytes:
        self._maybe_fail("get_screenshot_as_png")
        return _png()


def _spec(*steps: Step) -> CaseSpec:
    """A case of ``steps``; its secrets are those of its ``secret`` steps."""
    return CaseSpec(
        suite="unit",
        base_url="http://app.test",
        timeout_seconds=0.3,
        test=TestCase(name="case", steps=list(steps)),
    )


def _step(n: int, step_type: str, **fields: Any) -> Step:
    return Step(order_index=n, step_type=step_type, **fields)


class Recorder:
    def __init__(self, stop_after: int | None = None) -> None:
        self.steps: list[tuple[StepResult, int, int]] = []
        self.saved: dict[str, bytes] = {}
        self.stop_after = stop_after

    def hooks(self) -> Hooks:
        return Hooks(on_step=self.on_step, should_stop=self.should_stop, save_artifact=self.save)

    def on_step(self, result: StepResult, number: int, total: int) -> None:
        self.steps.append((result, number, total))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.steps) >= self.stop_after

    def save(self, name: str, data: bytes) -> str:
        self.saved[f"x-{name}"] = data
        return f"x-{name}"


def _run(driver: FakeDriver, spec: CaseSpec, recorder: Recorder | None = None) -> AttemptOutcome:
    return execute_steps(cast(WebDriver, driver), spec, (recorder or Recorder()).hooks())


def test_all_steps_pass_and_report_progress() -> None:
    driver = FakeDriver()
    driver.elements["h1"] = [FakeElement("Welcome, alice")]
    driver.elements["#user"] = [FakeElement()]
    recorder = Recorder()
    outcome = _run(
        driver,
        _spec(
            _step(1, "navigate", input_data="/login"),
            _step(2, "type", selector="#user", input_data="alice"),
            _step(3, "assert", selector="h1", expected_result="Welcome"),
            _step(4, "screenshot", name="after login"),
        ),
        recorder,
    )
    assert outcome.status == "passed", outcome.error
    assert driver.visited == ["http://app.test/login"]
    assert driver.elements["#user"][0].typed == ["alice"]
    assert [(r.status, n, t) for r, n, t in recorder.steps] == [
        ("passed", i, 4) for i in (1, 2, 3, 4)
    ]
    shot = outcome.steps[3].screenshot
    assert shot == "x-step04-after-login.png"
    assert outcome.artifacts == [shot, "x-step04-after-login.thumb.png"]
    with Image.open(io.BytesIO(recorder.saved["x-step04-after-login.thumb.png"])) as thumb:
        assert thumb.width == 320


def test_missing_element_fails_within_its_timeout_with_a_readable_message() -> None:
    driver = FakeDriver()
    outcome = _run(
        driver,
        _spec(
            _step(1, "click", selector="#missing", timeout_seconds=0.2),
            _step(2, "navigate", input_data="/never"),
        ),
    )
    assert outcome.status == "failed"
    assert outcome.failed_step == 1
    assert outcome.error == 'no element matches "#missing" after 0.2 s'
    assert [s.status for s in outcome.steps] == ["failed", "skipped"]
    assert driver.visited == []
    assert outcome.steps[0].screenshot == "x-step01-failure.png"


def test_assertion_message_says_what_it_saw() -> None:
    driver = FakeDriver()
    driver.elements["h1"] = [FakeElement("Welcome, alice")]
    outcome = _run(driver, _spec(_step(1, "assert", selector="h1", expected_result="Bye")))
    assert outcome.error == 'expected text of "h1" to contain "Bye", got "Welcome, alice"'


def test_optional_failure_is_recorded_and_the_test_still_passes() -> None:
    driver = FakeDriver()
    outcome = _run(
        driver,
        _spec(
            _step(1, "click", selector="#cookie-banner", is_optional=True),
            _step(2, "navigate", input_data="/next"),
        ),
    )
    assert outcome.status == "passed"
    assert outcome.error is None
    assert [s.status for s in outcome.steps] == ["optional_failed", "passed"]
    assert outcome.steps[0].error is not None
    assert driver.visited == ["http://app.test/next"]


def test_continue_on_failure_goes_on_but_still_fails_on_the_first_failure() -> None:
    driver = FakeDriver()
    outcome = _run(
        driver,
        _spec(
            _step(1, "click", selector="#a", continue_on_failure=True),
            _step(2, "click", selector="#b", continue_on_failure=True),
            _step(3, "navigate", input_data="/still-runs"),
        ),
    )
    assert outcome.status == "failed"
    assert outcome.failed_step == 1
    assert [s.status for s in outcome.steps] == ["failed", "failed", "passed"]
    assert driver.visited == ["http://app.test/still-runs"]


def test_should_stop_cancels_before_the_next_step() -> None:
    driver = FakeDriver()
    recorder = Recorder(stop_after=1)
    outcome = _run(
        driver,
        _spec(_step(1, "navigate", input_data="/a"), _step(2, "navigate", input_data="/b")),
        recorder,
    )
    assert outcome.status == "cancelled"
    assert driver.visited == ["http://app.test/a"]
    assert [s.status for s in outcome.steps] == ["passed", "skipped"]


@pytest.mark.parametrize(
    "exc",
    [
        InvalidSessionIdException("invalid session id"),
        WebDriverException("unknown error: chrome not reachable\n  (Session info: chrome=156)"),
        WebDriverException("disconnected: not connected to DevTools"),
        WebDriverException("tab crashed"),
        urllib3.exceptions.MaxRetryError(None, "/session/x/url", "connection refused"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection aborted."),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_browser_death_is_an_error_outcome_not_a_crash(exc: Exception) -> None:
    driver = FakeDriver()
    driver.fail["get"] = exc
    outcome = _run(
        driver,
        _spec(_step(1, "navigate", input_data="/a"), _step(2, "navigate", input_data="/b")),
    )
    assert outcome.status == "error"
    assert outcome.browser_died
    assert outcome.failed_step == 1
    assert outcome.error is not None
    assert outcome.error.startswith("browser session died")
    assert "Traceback" not in outcome.error
    assert "\n" not in outcome.error
    assert [s.status for s in outcome.steps] == ["failed", "skipped"]
    assert outcome.steps[0].screenshot is None  # no failure picture of a dead browser


def test_death_while_preparing_the_session() -> None:
    driver = FakeDriver()
    driver.fail["window_sizes"] = InvalidSessionIdException("invalid session id")
    outcome = _run(driver, _spec(_step(1, "navigate", input_data="/a")))
    assert (outcome.status, outcome.browser_died) == ("error", True)
    assert [s.status for s in outcome.steps] == ["skipped"]


def test_a_viewport_the_reset_just_saw_is_not_checked_again_and_only_once() -> None:
    driver = FakeDriver()
    note_viewport(driver, (1280, 800))  # what the pool's reset saw after the last test
    _run(driver, _spec(_step(1, "navigate", input_data="/a")))
    assert driver.sizes_read == 0, "the test's first command is its first step"
    assert known_viewport(driver) is None, "steps may resize the window: forgotten at the start"
    _run(driver, _spec(_step(1, "navigate", input_data="/a")))
    assert driver.sizes_read == 1, "not seen since: checked"


def test_a_viewport_the_reset_saw_at_another_size_is_checked() -> None:
    driver = FakeDriver()
    note_viewport(driver, (375, 667))
    _run(driver, _spec(_step(1, "navigate", input_data="/a")))
    assert driver.sizes_read == 1


@pytest.mark.parametrize(
    ("step", "fail", "message"),
    [
        (
            _step(1, "custom", input_data="boom()"),
            ("execute_script", JavascriptException("javascript error: boom is not defined")),
            "script failed: javascript error: boom is not defined",
        ),
        (
            _step(1, "custom", input_data="socket()"),
            ("execute_script", JavascriptException("javascript error: socket disconnected")),
            "script failed: javascript error: socket disconnected",
        ),
        (
            _step(1, "click", selector="##bad"),
            ("find_elements", InvalidSelectorException("invalid selector: ##bad")),
            '"##bad" is not a valid selector',
        ),
        (
            _step(1, "navigate", input_data="/down"),
            ("get", WebDriverException("unknown error: net::ERR_CONNECTION_REFUSED\n  (Session)")),
            "could not open http://app.test/down: net::ERR_CONNECTION_REFUSED",
        ),
    ],
)
def test_selenium_errors_become_short_messages(
    step: Step, fail: tuple[str, Exception], message: str
) -> None:
    driver = FakeDriver()
    driver.fail[fail[0]] = fail[1]
    outcome = _run(driver, _spec(step))
    assert (outcome.status, outcome.browser_died, outcome.error) == ("failed", False, message)


def test_secrets_are_masked_in_labels_and_errors() -> None:
    secret = "s3cr3t-pa55"
    driver = FakeDriver()
    driver.elements["#pass"] = [FakeElement(f"value {secret}")]
    driver.fail["get"] = WebDriverException(f"unknown error: net::ERR_FAILED at /{secret}")
    recorder = Recorder()
    outcome = _run(
        driver,
        _spec(
            _step(1, "type", selector="#pass", input_data=secret, secret=True),
            _step(2, "assert", selector="#pass", expected_result="nope", continue_on_failure=True),
            _step(3, "navigate", name=f"go {secret}", input_data=f"/{secret}"),
        ),
        recorder,
    )
    assert outcome.status == "failed"
    text = repr(outcome) + repr(recorder.steps)
    assert secret not in text
    assert "***" in (outcome.steps[1].error or "")
    assert outcome.steps[2].label == "go ***"


def test_press_parses_key_names_and_combos() -> None:
    assert parse_keys("Enter") == [([], Keys.ENTER)]
    assert parse_keys("Control+a Tab") == [([Keys.CONTROL], "a"), ([], Keys.TAB)]
    assert parse_keys("ArrowDown PageUp Esc") == [
        ([], Keys.ARROW_DOWN),
        ([], Keys.PAGE_UP),
        ([], Keys.ESCAPE),
    ]
    assert parse_keys("Shift++") == [([Keys.SHIFT], "+")]
    with pytest.raises(StepFailed, match="unknown key"):
        parse_keys("Hyper")
    with pytest.raises(StepFailed, match="not a modifier"):
        parse_keys("a+b")


def test_thumbnail_is_320_wide_and_keeps_the_aspect_ratio() -> None:
    with Image.open(io.BytesIO(make_thumbnail(_png(1280, 800)))) as thumb:
        assert (thumb.format, thumb.size) == ("PNG", (320, 200))
    with Image.open(io.BytesIO(make_thumbnail(_png(100, 50)))) as small:
        assert small.size == (100, 50)
    assert thumbnail_name("c1-step01-x.png") == "c1-step01-x.thumb.png"


def test_hook_errors_propagate() -> None:
    """A Redis outage inside a hook must reach the task (so the message is redelivered)."""

    class Outage(Exception):
        pass

    def broken(result: StepResult, number: int, total: int) -> None:
        raise Outage

    hooks: Callable[[], Hooks] = lambda: Hooks(on_step=broken)  # noqa: E731
    with pytest.raises(Outage):
        execute_steps(
            cast(WebDriver, FakeDriver()), _spec(_step(1, "navigate", input_data="/")), hooks()
        )


@pytest.mark.parametrize(
    "shown",
    [
        "A" * 185 + " pa55 wörd-that-straddles-the-cut",  # cut at 200 characters
        "menu  pa55\n\n   wörd-that-straddles-the-cut  more",  # whitespace changed
    ],
)
def test_secrets_are_masked_before_errors_are_shortened_or_normalised(shown: str) -> None:
    secret = "pa55 wörd-that-straddles-the-cut"
    driver = FakeDriver()
    driver.elements["#pass"] = [FakeElement()]
    driver.elements["h1"] = [FakeElement(shown)]
    outcome = _run(
        driver,
        _spec(
            _step(1, "type", selector="#pass", input_data=secret, secret=True),
            _step(2, "assert", selector="h1", expected_result="Welcome"),
        ),
    )
    error = outcome.steps[1].error or ""
    assert outcome.status == "failed"
    assert "***" in error
    for part in secret.split():
        assert part not in error
