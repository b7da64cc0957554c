"""Recording one attempt's trace while the executor runs it, and packing it at the end.

What each mode costs per step (round trips through the Grid, ~12 ms each):

- ``retain-on-failure``, ``on-first-retry``'s second attempt: nothing per passing step.
  At a failing step, one snapshot (the DOM the failing action ran against: failures
  happen before the action completes) with both logs read at the same time (live
  counts). At the end, one snapshot after the last step and both logs read, together,
  only when the trace is kept (a passing attempt under ``retain-on-failure`` is not).
- ``on``: no round trip of its own for a step followed by a step with a selector: the
  snapshot after a step rides on the next step's first engine call (which finds its
  element before acting: ``snapshot.arm``). Before a step without a selector (navigate,
  wait, a block) it is taken on its own (one round trip); before a ``dialog`` step none
  is (a script would dismiss the dialog), and a test that answers dialogs checks that
  none is open first. The logs are read as in ``retain-on-failure``: at a failing step
  and at the end (reading them after every step measured +15 % per step).
- ``off``: no recorder at all.

The logs are split into steps by time: an entry belongs to the last step started at
or before its timestamp (the browser node's clock, the worker's clock for the steps:
one machine's clock on a one-host fleet; entries before the first step go to it).
Nothing here raises for the browser: evidence that cannot be taken is left out, and
the test goes on as it would have.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import urllib3
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.remote.command import Command
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet import logs
from testfleet.events import now_ms
from testfleet.evidence.browserlog import read_log
from testfleet.evidence.console import ConsoleLine, console_line, is_error
from testfleet.evidence.failure import FailureEvidence, failure_evidence
from testfleet.evidence.har import build_har, failed_request_ids
from testfleet.evidence.manifest import (
    Counts,
    Manifest,
    TraceStep,
    screenshot_member,
    snapshot_member,
)
from testfleet.evidence.modes import snapshots_every_step
from testfleet.evidence.snapshot import Rider, Snapshot, arm, disarm, seal, take_snapshot
from testfleet.evidence.tracezip import write_trace
from testfleet.results import StepResult, TraceMode

__all__ = ["TraceRecorder"]

log = logs.get_logger(__name__)

_BROWSER_ERRORS = (
    WebDriverException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,
)
"""What taking evidence can raise when the page or the browser is in the way."""
_READS_AT_ONCE = 3
"""Both logs and the dialog check."""
MAX_LOG_ENTRIES = 50_000
"""Entries kept per log and attempt (a page that logs in a loop fills no worker's memory)."""


class TraceRecorder:
    """The evidence of one attempt: the executor reports its steps here
    (``step_started``, ``step_done``, ``screenshot``), the worker packs it (``finish``).

    ``console_errors`` and ``failed_requests``: the attempt's counts so far, as far as
    the logs were read (at a failing step, and at the end).
    """

    def __init__(
        self,
        driver: WebDriver,
        *,
        mode: TraceMode,
        run_id: str,
        case_id: str,
        test_name: str,
        attempt: int,
        secrets: list[str],
        mask: Callable[[str], str],
        watch_dialogs: bool = False,
    ) -> None:
        self.driver = driver
        self.mode = mode
        self.run_id, self.case_id, self.test_name = run_id, case_id, test_name
        self.attempt = attempt
        self.secrets = secrets
        self.mask = mask
        self.started_ms = now_ms()
        self.every_step = snapshots_every_step(mode)
        self.watch_dialogs = watch_dialogs
        """The test answers dialogs: an after-step snapshot first checks none is open."""
        self.console_errors = 0
        self.failed_requests = 0
        self._console: list[dict[str, Any]] = []
        self._network: list[dict[str, Any]] = []
        self._failed_ids: set[str] = set()
        self._times: dict[int, tuple[int, int | None]] = {}
        """Row index -> (started, ended) epoch ms; ended None for a block still open."""
        self._blocks: set[int] = set()
        self._snapshots: dict[str, str] = {}
        self._shots: dict[str, bytes] = {}
        self._after: int | None = None
        """The row whose after-snapshot was the last one taken."""
        self._pool: Executor | None = None
        self._waiting: int | None = None
        """The row whose after-snapshot rides on the next engine call (``on``)."""

    # -- what the executor reports -----------------------------------------------------------

    def block_started(self, row: StepResult, started_ms: int) -> None:
        """A block's row went out as its first inner step begins."""
        self._times[row.index] = (started_ms, None)
        self._blocks.add(row.index)

    def step_starting(self, *, has_selector: bool, answers_dialog: bool) -> None:
        """A step begins. The step before's after-snapshot (``on``) rides on this step's
        first engine call when it has a selector: that call finds its element before it
        acts. Otherwise it is taken now, but not before a dialog step: the page is
        blocked by the dialog, and the snapshot's script would dismiss it."""
        index = self._waiting
        if index is None or has_selector:
            return
        disarm(self.driver)
        self._waiting = None
        if not answers_dialog:
            self._take(index, "after", check_dialog=self.watch_dialogs)

    def step_done(self, row: StepResult, started_ms: int, *, failed: bool, died: bool) -> None:
        """A step's row is final (before it is published, so the counts go out with it)."""
        self._times[row.index] = (started_ms, now_ms())
        if self._waiting is not None:  # the step made no engine call: that snapshot is lost
            disarm(self.driver)
            self._waiting = None
        if died:
            return
        if failed:
            self._take(row.index, "before", check_dialog=False)
        elif self.every_step:
            self._waiting = row.index
            arm(self.driver, Rider(self.secrets, self._deliver))

    def screenshot(self, artifact: str, png: bytes) -> None:
        """A screenshot the attempt stored (``artifact``: its stored name)."""
        self._shots[artifact] = png

    # -- the end -------------------------------------------------------------------------------

    def finish(self, steps: list[StepResult], status: str, browser_died: bool) -> bytes:
        """The attempt's trace zip; the session must still be open (unless it died)."""
        try:
            disarm(self.driver)
            self._waiting = None
            last = max((i for i in self._times if i not in self._blocks), default=None)
            if not browser_died and last is not None and self._after != last:
                self._take(last, "after", check_dialog=False)
            elif not browser_died:
                self._read_logs()
            return self._pack(steps, status)
        finally:
            self.close()

    def failure_evidence(self, step: int) -> FailureEvidence:
        """Failing ``step``'s console errors and failed requests (masked), as far as the logs
        were read: at the failing step in every capturing mode, and again at the end when
        the trace was packed. Usable after ``finish`` or ``close``."""
        return failure_evidence(self._console, self._network, self.mask, self._step_of, step)

    def close(self) -> None:
        """Let go of the session (no snapshot rides on its next test's calls) and of the
        reading threads; ``finish`` does it, and the worker when the trace is not packed."""
        disarm(self.driver)
        self._waiting = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    # -- taking evidence -----------------------------------------------------------------------

    def _take(self, index: int, when: str, *, check_dialog: bool) -> None:
        """A snapshot of the page now, as row ``index``'s ``when`` (before/after), with both
        logs read at the same time."""
        if self._pool is None:
            self._pool = _executor_for(self.driver)
        reads = [
            self._pool.submit(read_log, self.driver, kind) for kind in ("browser", "performance")
        ]
        dialog: Future[bool] | None = None
        if check_dialog:
            dialog = self._pool.submit(self._dialog_open)
        if dialog is None or not self._quietly(dialog.result, True):
            try:
                shot = take_snapshot(self.driver, self.secrets)
            except _BROWSER_ERRORS as exc:
                log.warning("no DOM snapshot of step %d: %s", index, type(exc).__name__)
            else:
                member = snapshot_member(index, when)
                self._snapshots[member] = seal(shot.html, self.mask)
                if when == "after":
                    self._after = index
        console, network = (self._quietly(read.result, []) for read in reads)
        self._keep(console, network)

    def _deliver(self, snapshot: Snapshot | None) -> None:
        """The after-snapshot that rode on an engine call."""
        index, self._waiting = self._waiting, None
        if snapshot is not None and index is not None:
            self._snapshots[snapshot_member(index, "after")] = seal(snapshot.html, self.mask)
            self._after = index

    def _read_logs(self) -> None:
        console = self._quietly(lambda: read_log(self.driver, "browser"), [])
        network = self._quietly(lambda: read_log(self.driver, "performance"), [])
        self._keep(console, network)

    def _dialog_open(self) -> bool:
        try:
            self.driver.execute(Command.W3C_GET_ALERT_TEXT)
        except NoAlertPresentException:
            return False
        return True

    def _quietly(self, read: Callable[[], Any], otherwise: Any) -> Any:
        try:
            return read()
        except _BROWSER_ERRORS as exc:
            log.warning("could not read the browser's evidence: %s", type(exc).__name__)
            return otherwise

    def _keep(self, console: list[dict[str, Any]], network: list[dict[str, Any]]) -> None:
        room_console = MAX_LOG_ENTRIES - len(self._console)
        room_network = MAX_LOG_ENTRIES - len(self._network)
        self._console += console[: max(0, room_console)]
        self._network += network[: max(0, room_network)]
        self.console_errors += sum(1 for e in console if str(e.get("level")) == "SEVERE")
        self._failed_ids |= failed_request_ids(network)
        self.failed_requests = len(self._failed_ids)

    # -- packing -------------------------------------------------------------------------------

    def _step_of(self, epoch_ms: float) -> int | None:
        """The step an entry of time ``epoch_ms`` belongs to (see the module docstring)."""
        leaves = sorted(
            (start, index) for index, (start, _) in self._times.items() if index not in self._blocks
        )
        if not leaves:
            return None
        chosen = leaves[0][1]
        for start, index in leaves:
            if start > epoch_ms:
                break
            chosen = index
        return chosen

    def _pack(self, steps: list[StepResult], status: str) -> bytes:
        console: list[ConsoleLine] = []
        errors_by_step: dict[int, int] = {}
        for entry in self._console:
            line = console_line(entry, self.mask)
            step = self._step_of(float(entry.get("timestamp", 0)))
            if step is not None:
                line["step"] = step
                if is_error(line):
                    errors_by_step[step] = errors_by_step.get(step, 0) + 1
            console.append(line)
        har = build_har(self._network, self.mask, self._step_of)
        shots = {screenshot_member(n): png for n, png in self._shots.items()}
        ends = self._block_ends(steps)
        trace_steps = [
            self._trace_step(row, errors_by_step, har.failed_by_step, ends) for row in steps
        ]
        ended = now_ms()
        manifest = Manifest(
            runId=self.run_id,
            caseId=self.case_id,
            testName=self.test_name,
            attempt=self.attempt,
            mode=self.mode,
            status=status,
            startedAt=self.started_ms,
            endedAt=ended,
            steps=trace_steps,
            counts=Counts(
                console=len(console),
                consoleErrors=sum(1 for line in console if is_error(line)),
                requests=len(har.document["log"]["entries"]),
                failedRequests=har.failed_requests,
            ),
        )
        referenced = {s.screenshot for s in trace_steps if s.screenshot}
        kept = {name: png for name, png in shots.items() if name in referenced}
        return write_trace(manifest, har.document, console, self._snapshots, kept)

    def _block_ends(self, steps: list[StepResult]) -> dict[int, int]:
        """Each block row's end: the last end of the rows inside it."""
        ends: dict[int, int] = {}
        for position, row in enumerate(steps):
            if row.index not in self._blocks:
                continue
            for inner in steps[position + 1 :]:
                if inner.depth <= row.depth:
                    break
                ended = self._times.get(inner.index, (0, None))[1]
                if ended is not None:
                    ends[row.index] = max(ends.get(row.index, 0), ended)
        return ends

    def _trace_step(
        self,
        row: StepResult,
        errors: dict[int, int],
        failed: dict[int, int],
        block_ends: dict[int, int],
    ) -> TraceStep:
        started, ended = self._times.get(row.index, (None, None))
        if row.index in self._blocks:
            ended = block_ends.get(row.index, started)
        before, after = snapshot_member(row.index, "before"), snapshot_member(row.index, "after")
        return TraceStep(
            index=row.index,
            name=row.label,
            type=row.step_type,
            status=row.status,
            depth=row.depth,
            parent=row.parent,
            startedAt=started,
            endedAt=ended,
            error=row.error,
            screenshot=screenshot_member(row.screenshot) if row.screenshot else None,
            snapshotBefore=before if before in self._snapshots else None,
            snapshotAfter=after if after in self._snapshots else None,
            consoleErrors=errors.get(row.index, 0),
            failedRequests=failed.get(row.index, 0),
        )


P = ParamSpec("P")
T = TypeVar("T")


class _InOrder(Executor):
    """Runs each submitted call at once, in the caller's thread."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


def _executor_for(driver: WebDriver) -> Executor:
    """Threads to send the reads at once when the session's connection pool keeps several
    connections (the Grid provider's does); one after the other otherwise (a local
    chromedriver, where a round trip is under a millisecond and a second connection would
    only be opened and discarded)."""
    executor = driver.command_executor
    size = 1
    if isinstance(executor, RemoteConnection):
        pool_args = executor.client_config.init_args_for_pool_manager
        size = int(pool_args.get("init_args_for_pool_manager", {}).get("maxsize", 1))
    if size >= _READS_AT_ONCE:
        return ThreadPoolExecutor(max_workers=_READS_AT_ONCE, thread_name_prefix="trace")
    return _InOrder()
