"""Baseline (e): the bench suites run by Playwright, what QA teams choose instead.

Playwright's Python API (sync), the way Playwright Test runs a project: N
worker processes (spawn), each launches ONE Chromium (the machine's
``/usr/bin/chromium`` as ``executable_path``: nothing is downloaded, never
``playwright install``) and gives every test a fresh browser context (its own
cookies, storage, cache, service workers and permissions) and a new page,
closed after the test. Browsers are launched and warmed (one untimed test
each) before the clock starts, like the hand-tuned runner's drivers.

The steps are what a Playwright user writes for them: ``goto``, locator
actions with auto-waiting (``click``, ``fill``, ``select_option``, ``press``,
``hover``), and web-first assertions (``expect``), each with the suite's
timeout. It understands the step kinds the bench suites use and refuses any
other, like ``bench.plain_selenium``.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from bench.throughput_suites import load_suites
from bench.tuned_runner import TunedResult, run_tuned
from testfleet.settings import DEFAULT_CHROME_ARGS, GridSettings
from testfleet.suites.model import Suite, TestCase
from testfleet.suites.steps.model import Step

LAUNCH_ARGS = tuple(
    arg
    for arg in DEFAULT_CHROME_ARGS
    if not arg.startswith(("--headless", "--remote-debugging", "--disable-features"))
)
"""The fleet's Chromium flags, but those Playwright sets itself: headless, its own
debugging pipe, and the features it turns off (a second ``--disable-features``
would replace its list)."""


class PlaywrightStepFailed(AssertionError):
    """A bench step did not do what it should; the message names the step."""


def run_playwright(
    suites_dir: Path, warmup_dir: Path, demo_url: str, processes: int = 2
) -> TunedResult:
    """Run every test in ``suites_dir`` on ``processes`` Playwright browsers, a fresh
    context per test; time the pass. ``reset_ms`` holds each test's context
    creation + close (its isolation cost)."""
    return run_tuned(suites_dir, warmup_dir, demo_url, None, processes, worker=_worker)


def _worker(
    suites_dir: str,
    warmup_dir: str,
    demo_url: str,
    grid_url: str | None,
    auth: tuple[str, str] | None,
    tasks: multiprocessing.Queue[tuple[int, int] | None],
    results: multiprocessing.Queue[tuple[str, Any]],
    start: EventType,
) -> None:
    from playwright.sync_api import sync_playwright  # a dev extra: imported where used

    grid = GridSettings()
    suites = load_suites(Path(suites_dir), demo_url)
    warmup = load_suites(Path(warmup_dir), demo_url)
    viewport = {"width": grid.window_width, "height": grid.window_height}
    with sync_playwright() as playwright:
        opened = time.monotonic()
        browser = playwright.chromium.launch(
            executable_path=str(grid.chromium_binary), headless=True, args=list(LAUNCH_ARGS)
        )
        try:
            results.put(("opened", time.monotonic() - opened))
            context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            run_test(context.new_page(), warmup[0], warmup[0].tests[0])
            context.close()
            results.put(("ready", None))
            start.wait()
            while (task := tasks.get()) is not None:
                suite = suites[task[0]]
                test = suite.tests[task[1]]
                step_ms: list[tuple[str, float]] = []
                isolation_started = time.perf_counter()
                context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                page = context.new_page()
                isolation_ms = (time.perf_counter() - isolation_started) * 1000.0
                try:
                    run_test(page, suite, test, step_ms=step_ms)
                    outcome: tuple[str, Any] = ("passed", f"{suite.name}/{test.name}")
                except PlaywrightStepFailed as exc:
                    outcome = ("failed", str(exc))
                closing = time.perf_counter()
                context.close()
                isolation_ms += (time.perf_counter() - closing) * 1000.0
                results.put(("timings", (step_ms, isolation_ms)))
                results.put(outcome)
        finally:
            browser.close()


def run_test(
    page: Any, suite: Suite, test: TestCase, step_ms: list[tuple[str, float]] | None = None
) -> None:
    """Run every step of ``test`` in ``page`` (a Playwright ``Page``); raises
    ``PlaywrightStepFailed`` at the first failing one."""
    timeout_s = suite.timeout_seconds
    for step in test.steps:
        started = time.perf_counter()
        try:
            _run_step(page, suite, step, (step.timeout_seconds or timeout_s) * 1000.0)
        except PlaywrightStepFailed:
            raise
        except Exception as exc:  # a bench failure only needs to say which step and why
            raise PlaywrightStepFailed(
                f"{suite.name} / {test.name}: step {step.order_index} ({step.label}): "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        if step_ms is not None:
            step_ms.append((step.step_type, (time.perf_counter() - started) * 1000.0))


def _run_step(page: Any, suite: Suite, step: Step, timeout_ms: float) -> None:
    kind = step.step_type
    locator = page.locator(step.selector or "body").first
    if kind == "navigate":
        url = step.input_data or ""
        page.goto(f"{suite.base_url}{url}" if url.startswith("/") else url, timeout=timeout_ms)
    elif kind == "click":
        locator.click(timeout=timeout_ms)
    elif kind == "type":
        locator.fill(step.input_data or "", timeout=timeout_ms)
    elif kind == "select":
        locator.select_option(label=step.input_data or "", timeout=timeout_ms)
    elif kind == "press":
        locator.press((step.input_data or "").capitalize(), timeout=timeout_ms)
    elif kind == "hover":
        locator.hover(timeout=timeout_ms)
    elif kind == "wait" and step.selector:
        locator.wait_for(state="visible", timeout=timeout_ms)
    elif kind == "screenshot":
        page.screenshot(timeout=timeout_ms)
    elif kind == "assert":
        _assert(page, step, timeout_ms)
    else:
        raise PlaywrightStepFailed(f"the Playwright runner does not run {kind} steps")


def _assert(page: Any, step: Step, timeout_ms: float) -> None:
    """Web-first assertions: ``expect`` retries until they hold or time out."""
    from playwright.sync_api import expect

    expected = step.expected_result or ""
    equals = step.match == "equals"
    contains = re.compile(re.escape(expected))
    locator = page.locator(step.selector or "body").first
    kind = step.assert_kind
    if kind == "text":
        if equals:
            expect(locator).to_have_text(expected, timeout=timeout_ms)
        else:
            expect(locator).to_contain_text(expected, timeout=timeout_ms)
    elif kind == "url":
        expect(page).to_have_url(expected if equals else contains, timeout=timeout_ms)
    elif kind == "title":
        expect(page).to_have_title(expected if equals else contains, timeout=timeout_ms)
    elif kind == "visible":
        expect(locator).to_be_visible(timeout=timeout_ms)
    elif kind == "count":
        count = int(expected)
        expect(page.locator(step.selector or "")).to_have_count(count, timeout=timeout_ms)
    elif kind == "attribute":
        value = expected if equals else contains
        expect(locator).to_have_attribute(step.attribute or "", value, timeout=timeout_ms)
    else:
        raise PlaywrightStepFailed(f"the Playwright runner does not check {kind} assertions")
