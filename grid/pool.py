"""A worker process's pool of browser sessions: lend one per test, reset it, lend it again.

Opening a Chrome session through the Grid costs seconds; a pooled one costs a
health check. ``SessionPool`` wraps a ``BrowserProvider`` and is one itself, so
the worker's code is the same with pooling on or off:

- ``close(driver)`` takes the session back and starts its reset in the background
  (``grid.reset.reset_session``: one tab on about:blank, no history, cookies,
  storage, HTTP cache or permission overrides of any visited origin, no alert,
  the window size restored). The reset runs while the worker writes the test's
  result, publishes its events, acks the message and waits for Celery's next
  delivery: the browser would sit idle through all of it, so a reset there
  costs the next test nothing (``grid.pool_reset = "lend"`` resets right before
  lending instead, on the next test's critical path, for comparison).
- ``open(project)`` lends an idle session that only ``project`` has used and
  whose reset succeeded: a session is never lent un-reset. A reset still under
  way is waited for unless another session of the project is ready. Every reset
  command is capped at ``grid.health_check_timeout_s``, and a session the reset
  fails on (dead browser, InvalidSessionId, a hang) is quit and replaced, never
  lent. A session that sat idle after its reset gets one more round trip right
  before lending (``healthy``, same cap), so a browser that died while idle is
  replaced too; a reset the lend was waiting for has just proved the session alive.
  So is a session that has served ``grid.pool_max_uses`` tests or is older than
  ``grid.pool_max_age_s``. With no idle session, a new one is opened, retried
  once when the browser could not start (a ``BrowserError`` from
  SessionNotCreated or another WebDriver error) so the test still runs; a
  queue timeout or a missing Grid (``InfrastructureError``) is not retried.
- A session belongs to the project of the first case it was lent to, for its
  whole life: the reset clears what a test can see, but a browser keeps more than
  a reset reaches (HTTP cache, a renderer a page exploited, memory), so no browser
  state ever crosses projects. When a case of another project comes and the pool
  is full, an idle session of another project is quit first (its Grid slot is
  needed) and a new one opened. With one project the pool works as it did: the
  session goes back to the same project every time.
- ``close(driver)`` keeps the session, up to ``grid.pool_size`` idle ones, and
  quits the rest.
- ``grid.pool_spares`` (default 0) keeps warm spares: after a lend, while this
  process holds fewer than 1 + spares sessions of the lent case's project (idle,
  lent or opening) and fewer than ``pool_size + pool_spares`` in all, a new
  session is opened in the background (never on the test's path) and joins the
  idle sessions once open. At give-back the next test takes that spare (fresh, so
  nothing to reset) while the returned session resets in the background, so no
  test waits for a reset. A spare that could not be opened is logged and asked for
  again at the next lend, never raised into a test. A lend with no idle session of
  its project waits for that project's spare still opening rather than open
  another session beside it. The pool is per process, so one spare per worker
  process doubles the browsers (2N for N processes, not N + 1).
- ``shutdown()`` quits every session, lent or idle, and the spares: one not yet
  started is cancelled, one opening is waited for (capped by the provider's
  ``new_session_timeout_s``) and quit; the worker calls it when its process exits
  (Celery's ``worker_process_shutdown``).

Sessions belong to the process that opened them: ``make_pooled_provider`` is
called lazily in each Celery pool child, never before the fork, and a pool
refuses to be used from another process. One pool serves one thread at a time
(a worker process runs one case at a time); the only other threads, the
background reset and the spare's opening, touch nothing but the session they reset
or open, and the pool's bookkeeping stays in the calling thread (a spare that has
opened joins the idle sessions at the pool's next call).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import urllib3.exceptions
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from grid.provider import make_provider
from grid.reset import reset_session
from testfleet import logs
from testfleet.errors import BrowserError
from testfleet.fleet.browser import BrowserProvider, set_command_timeout
from testfleet.settings import Settings

log = logs.get_logger(__name__)

OPEN_ATTEMPTS = 2
"""New sessions one ``open()`` tries before it gives up (a failed start is often transient)."""

RESET_THREADS = 8
"""Reset commands sent at once (cookies, history, each visited origin's storage, window size)."""

ResetFn = Callable[[WebDriver, int, int, Executor], None]
"""Resets a session: ``(driver, width_px, height_px, parallel)``; raises when it cannot."""

_RESET_ERRORS = (WebDriverException, urllib3.exceptions.HTTPError, OSError)


def make_pooled_provider(settings: Settings) -> BrowserProvider:
    """The provider a worker process uses: ``grid.provider`` sessions, pooled unless
    ``grid.pool_size`` is 0 (then every test gets a fresh session, quit after it)."""
    provider = make_provider(settings)
    if settings.grid.pool_size == 0:
        return provider
    return SessionPool(provider, settings)


@dataclass
class _Entry:
    driver: WebDriver
    opened_at_s: float
    """Monotonic time the session was opened."""
    project: str
    """The only project whose cases this session serves."""
    uses: int = 0
    """Tests that have given this session back."""
    reset: Future[str | None] | None = None
    """The give-back reset: why it failed, or None once it succeeded (None: not started)."""


@dataclass
class _Spare:
    """A session being opened in the background for ``project``."""

    project: str
    asked_at_s: float
    """Monotonic time the spare was asked for (its age counts from here)."""
    opening: Future[WebDriver]


@dataclass
class PoolStats:
    """What a pool has done since it was made (for logs, tests and the benchmark)."""

    opened: int = 0
    lent_reused: int = 0
    replaced: int = 0
    """Sessions quit because they failed a health check or their reset."""
    recycled: int = 0
    """Sessions quit because of ``pool_max_uses`` / ``pool_max_age_s`` (or a full pool)."""
    other_project: int = 0
    """Idle sessions quit to make room for a case of another project."""
    waited_for_reset: int = 0
    """Lends that waited for a give-back reset still under way (no other session ready)."""
    spares_opened: int = 0
    """Warm spares opened in the background (``grid.pool_spares``)."""
    spares_failed: int = 0
    """Warm spares whose background opening failed (logged; asked for again at a lend)."""
    waited_for_spare: int = 0
    """Lends that found no idle session and waited for their project's spare still opening."""
    reasons: list[str] = field(default_factory=list)


class SessionPool:
    """Up to ``grid.pool_size`` idle sessions of one provider, for one process, plus
    ``grid.pool_spares`` warm spares."""

    def __init__(
        self,
        provider: BrowserProvider,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        reset: ResetFn | None = None,
    ) -> None:
        grid = settings.grid
        self._provider = provider
        self._size = grid.pool_size
        self._spares = grid.pool_spares
        self._capacity = grid.pool_size + grid.pool_spares
        """Sessions this pool holds at most, idle, lent and opening (each a Grid slot)."""
        self._max_uses = grid.pool_max_uses
        self._max_age_s = grid.pool_max_age_s
        self._width, self._height = grid.window_width, grid.window_height
        self._health_timeout_s = grid.health_check_timeout_s
        self._command_timeout_s = grid.command_timeout_s
        # Threads for the reset's independent commands; made here, in the process
        # that uses the pool (after Celery's fork), and stopped by shutdown().
        self._parallel = ThreadPoolExecutor(RESET_THREADS, thread_name_prefix="pool-reset")
        self._background = ThreadPoolExecutor(1, thread_name_prefix="pool-giveback")
        # Its own thread: a spare opening (seconds) never holds up a give-back reset.
        self._opener = ThreadPoolExecutor(1, thread_name_prefix="pool-spare")
        self._at_giveback = grid.pool_reset == "giveback"
        self._reset_fn = reset or reset_session  # ``reset``: another one, for tests
        self._clock = clock
        self._pid = os.getpid()
        self._idle: list[_Entry] = []
        self._lent: dict[int, _Entry] = {}
        self._opening: list[_Spare] = []
        self.stats = PoolStats()

    @property
    def idle(self) -> int:
        """Sessions waiting to be lent."""
        return len(self._idle)

    def open(self, project: str = "") -> WebDriver:
        """A reset, healthy session for a case of ``project``: a pooled one that only
        ``project`` has used if any passes, else a new one."""
        self._check_process()
        self._collect_spares()
        while (entry := self._take(project)) is not None:
            why = self._unfit(entry) or self._ready(entry)
            if why is None:
                return self._lend(entry, reused=True)
            self._drop(entry, why, recycle=why.startswith("recycled"))
        if (spare := self._await_spare(project)) is not None:
            return self._lend(spare, reused=False)
        self._make_room()
        driver = self._open_new(project)
        self._ask_for_spares(project)
        return driver

    def close(self, driver: WebDriver) -> None:
        """Keep ``driver`` for the next test (its reset starts now, in the background), or
        quit it. Never raises."""
        entry = self._lent.pop(id(driver), None)
        if entry is None or entry.driver is not driver or os.getpid() != self._pid:
            self._provider.close(driver)  # not ours (or a forked copy): just quit it
            return
        entry.uses += 1
        self._collect_spares()
        if len(self._idle) + len(self._opening) >= self._capacity:
            self._drop(entry, "recycled: the pool is full", recycle=True)
            return
        if self._at_giveback and self._unfit(entry) is None:
            entry.reset = self._background.submit(self._reset, entry.driver)
        self._idle.append(entry)

    def healthy(self, driver: WebDriver) -> bool:
        return self._provider.healthy(driver)

    def wait_for_spares(self) -> None:
        """Return once no spare is opening (each open is capped by the provider), the
        opened ones idle: for a caller that must know the sessions are settled."""
        for spare in self._opening:
            spare.opening.exception()
        self._collect_spares()

    def wait_for_resets(self) -> None:
        """Return once no give-back reset is under way (each of its commands is capped at
        ``health_check_timeout_s``): for a caller that must know the sessions are settled."""
        for entry in self._idle:
            if entry.reset is not None:
                entry.reset.exception()

    def shutdown(self) -> None:
        """Quit every session of this pool, lent ones included."""
        if os.getpid() != self._pid:
            return  # a forked child's copy: the sessions are its parent's
        # Resets under way end first (each command is capped): a session is not quit
        # under its reset. A spare not yet started is cancelled, one opening is waited
        # for (capped by new_session_timeout_s) so that it is quit here, not leaked.
        # New executors (they start no thread until used): the pool stays usable.
        self._opener.shutdown(wait=True, cancel_futures=True)
        self._opener = ThreadPoolExecutor(1, thread_name_prefix="pool-spare")
        self._collect_spares()
        self._background.shutdown(wait=True)
        self._background = ThreadPoolExecutor(1, thread_name_prefix="pool-giveback")
        self._parallel.shutdown(wait=False)
        self._parallel = ThreadPoolExecutor(RESET_THREADS, thread_name_prefix="pool-reset")
        entries = [*self._idle, *self._lent.values()]
        self._idle.clear()
        self._lent.clear()
        for entry in entries:
            self._provider.close(entry.driver)
        if entries:
            log.info("browser pool closed %d session(s)", len(entries))

    # -- internals --------------------------------------------------------------------

    def _lend(self, entry: _Entry, *, reused: bool) -> WebDriver:
        self._lent[id(entry.driver)] = entry
        if reused:
            self.stats.lent_reused += 1
        self._ask_for_spares(entry.project)
        return entry.driver

    def _ask_for_spares(self, project: str) -> None:
        """Start opening spares for ``project`` in the background until this pool holds
        1 + ``pool_spares`` of its sessions, within ``pool_size + pool_spares`` in all."""
        if self._spares == 0:
            return
        while True:
            projects = [e.project for e in (*self._idle, *self._lent.values())]
            projects += [spare.project for spare in self._opening]
            if projects.count(project) >= 1 + self._spares or len(projects) >= self._capacity:
                return
            opening = self._opener.submit(self._provider.open)
            self._opening.append(_Spare(project, self._clock(), opening))

    def _collect_spares(self) -> None:
        """Move the spares that have opened to the idle sessions; log those that failed
        (the next lend asks again)."""
        for spare in [s for s in self._opening if s.opening.done()]:
            self._opening.remove(spare)
            if spare.opening.cancelled():
                continue
            error = spare.opening.exception()
            if error is not None:
                self.stats.spares_failed += 1
                log.warning(
                    "a spare browser could not be opened (%s: %s); asking again at the next lend",
                    type(error).__name__,
                    _first_line(error),
                )
                continue
            self.stats.spares_opened += 1
            # Fresh from the Grid: nothing to reset, only the check before lending.
            driver = spare.opening.result()
            self._idle.append(_Entry(driver, spare.asked_at_s, spare.project, reset=_settled()))

    def _await_spare(self, project: str) -> _Entry | None:
        """With no idle session of ``project`` left: its spare still opening, once open
        (sooner than a new session started now), or None when there is none or it failed."""
        spare = next((s for s in self._opening if s.project == project), None)
        if spare is None:
            return None
        self.stats.waited_for_spare += 1
        spare.opening.exception()  # capped by the provider's new_session_timeout_s
        self._collect_spares()
        found = self._take(project)  # the spare: no other idle session of ``project`` was left
        if found is not None and (why := self._unfit(found)) is not None:
            self._drop(found, why, recycle=True)
            return None
        return found  # just opened: it has answered the Grid, nothing to reset or check

    def _take(self, project: str) -> _Entry | None:
        """An idle session of ``project`` (removed), or None: the most recently returned
        one whose reset is over if any (nothing to wait for), else the most recent one."""
        mine = [i for i, entry in enumerate(self._idle) if entry.project == project]
        if not mine:
            return None
        done = [i for i in mine if (f := self._idle[i].reset) is None or f.done()]
        return self._idle.pop((done or mine)[-1])

    def _ready(self, entry: _Entry) -> str | None:
        """Make ``entry`` ready to lend: its reset over and the session answering; why
        not, or None when it may be lent."""
        future, entry.reset = entry.reset, None
        if future is None:
            return self._reset(entry.driver)  # reset at lend (or never started)
        waited = not future.done()
        if waited:
            self.stats.waited_for_reset += 1
        try:
            why = future.result()
        except Exception as exc:  # a bug in the reset, not a browser error: still never lend
            why = f"failed its reset: {type(exc).__name__}: {_first_line(exc)}"
        # A reset that ended while this lend waited for it is the session answering every
        # one of its commands just now: a health check would ask the same again. One that
        # ended earlier left the session idle, and a browser can die idle: check it.
        if why is None and not waited and not self._provider.healthy(entry.driver):
            why = "failed its health check before lending"
        return why

    def _make_room(self) -> None:
        """Quit other projects' idle sessions (oldest first) until one more session
        fits in ``pool_size + pool_spares`` (spares opening count): each holds a Grid slot."""
        held = len(self._lent) + len(self._opening)
        while self._idle and len(self._idle) + held + 1 > self._capacity:
            entry = self._idle.pop(0)
            self.stats.other_project += 1
            self._quit(entry, f"room for another project's case (it served {entry.project!r})")

    def _open_new(self, project: str) -> WebDriver:
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                driver = self._provider.open()
            except BrowserError as exc:
                # Only a browser that failed to start is worth a retry; a queue
                # timeout already waited new_session_timeout_s, and would again.
                if not isinstance(exc.__cause__, WebDriverException) or attempt == OPEN_ATTEMPTS:
                    raise
                log.warning("opening a browser failed (%s); trying once more", exc)
                continue
            self._lent[id(driver)] = _Entry(driver, self._clock(), project)
            self.stats.opened += 1
            return driver
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unfit(self, entry: _Entry) -> str | None:
        """Why ``entry`` must not be lent, or None when it may."""
        if entry.uses >= self._max_uses:
            return f"recycled after {entry.uses} tests"
        age_s = self._clock() - entry.opened_at_s
        if age_s >= self._max_age_s:
            return f"recycled after {age_s:.0f} s"
        return None

    def _reset(self, driver: WebDriver) -> str | None:
        """Reset ``driver`` for the next test; why it failed, or None.

        The reset is the health check: every command in it is capped at
        ``health_check_timeout_s``, so a hung browser costs seconds, and any
        error (invalid session, a dead chromedriver) means the session is replaced.
        """
        set_command_timeout(driver, self._health_timeout_s)
        try:
            self._reset_fn(driver, self._width, self._height, self._parallel)
        except _RESET_ERRORS as exc:
            return f"failed its health check: {type(exc).__name__}: {_first_line(exc)}"
        finally:
            set_command_timeout(driver, self._command_timeout_s)
        return None

    def _drop(self, entry: _Entry, why: str, *, recycle: bool = False) -> None:
        if recycle:
            self.stats.recycled += 1
        else:
            self.stats.replaced += 1
        self._quit(entry, why)

    def _quit(self, entry: _Entry, why: str) -> None:
        if entry.reset is not None:
            entry.reset.exception()  # a session is not quit under its reset (it is capped)
        log.info("browser session %s quit: %s", entry.driver.session_id, why)
        self.stats.reasons.append(why)
        self._provider.close(entry.driver)

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError(
                "a browser pool was used in a forked process: make it in the process that "
                "uses it (testfleet.fleet.browser.load_provider after the fork)"
            )


def _settled() -> Future[str | None]:
    """A reset that is over and found nothing wrong (a fresh session's)."""
    done: Future[str | None] = Future()
    done.set_result(None)
    return done


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "msg", None) or str(exc)
    return (text.strip().splitlines() or [""])[0][:200]
