"""The browser-provider seam: what a worker needs from "somewhere that gives browsers".

``BrowserProvider`` is a four-method Protocol: ``open`` a live WebDriver session
for a case of a project, ``close`` it (never raises), tell whether a session is
``healthy``, and ``shutdown`` (close whatever the provider still holds). Implementations live in
``grid/`` (``grid.provider.GridProvider``, ``LocalProvider``, and the pooling
``grid.pool.SessionPool`` that wraps either).

Why the Protocol is here and the implementations stay in ``grid/``: components
never import each other, and workers need a provider. Moving the Grid and
chromedriver code into ``testfleet/`` would put one component's business
(Chrome options, the Grid's behaviour, process groups of chromedriver) into the
shared core. Instead ``load_provider`` imports ``PROVIDER_FACTORY``'s module by
name, the way ``cli/main.py`` loads components: the dependency exists
only at run time, in the process that wants browsers, and type-checks against
this Protocol. A deployment without ``grid/`` fails with a message saying so.
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast

from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.remote.webdriver import WebDriver

from testfleet.errors import InfrastructureError
from testfleet.settings import Settings

PROVIDER_FACTORY = "grid.pool:make_pooled_provider"
"""``module:function`` taking ``Settings`` and returning a ``BrowserProvider``."""

COMMAND_TIMEOUT_MARGIN_S = 5.0
"""Added to a case's longest step timeout: chromedriver answers a page-load
timeout a little after it expires, and that answer must not be cut off."""


class BrowserProvider(Protocol):
    """Opens, checks and closes WebDriver sessions.

    Errors are testfleet's: ``open`` raises ``InfrastructureError`` (no Grid)
    or ``BrowserError`` (no browser); the other methods never raise.
    """

    def open(self, project: str = "") -> WebDriver:
        """A live session, ready for a test of ``project`` (about:blank, no cookies or
        storage). A session a provider reuses only ever serves one project."""
        ...

    def close(self, driver: WebDriver) -> None:
        """Give ``driver`` back: quit it, or (a pool) reset and keep it for the next test."""
        ...

    def healthy(self, driver: WebDriver) -> bool:
        """Whether ``driver``'s browser still answers, within a few seconds."""
        ...

    def shutdown(self) -> None:
        """Quit every session this provider still holds (worker process exit)."""
        ...


def load_provider(settings: Settings) -> BrowserProvider:
    """The provider ``settings`` asks for (``grid.provider``, ``grid.pool_size``).

    Raises ``InfrastructureError`` when the ``grid`` component is not installed.
    """
    module_name, _, name = PROVIDER_FACTORY.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InfrastructureError(
            f"cannot load the browser provider ({PROVIDER_FACTORY}): {exc}; install testfleet "
            "with its grid package (`pip install -e .`) in the worker's environment"
        ) from exc
    return cast(BrowserProvider, getattr(module, name)(settings))


def set_command_timeout(driver: WebDriver, timeout_s: float) -> None:
    """Cap every later HTTP request ``driver`` makes (each WebDriver command) at ``timeout_s``.

    Without it a browser or node that stops answering holds the test until the
    Grid's own timeouts (minutes); with it the command fails with a urllib3
    timeout, which the executor treats as a dead browser.
    """
    executor = driver.command_executor
    if isinstance(executor, RemoteConnection):
        executor.client_config.timeout = max(1, round(timeout_s))


def command_timeout_s(settings: Settings, longest_step_timeout_s: float) -> float:
    """The command timeout for one case: ``grid.command_timeout_s``, or longer when a
    step may legitimately wait longer (a page load of ``longest_step_timeout_s``)."""
    return max(settings.grid.command_timeout_s, longest_step_timeout_s + COMMAND_TIMEOUT_MARGIN_S)


_VIEWPORT = "_testfleet_viewport"
"""Set on a driver whose page viewport is known, as ``(width, height)`` in CSS px."""


def known_viewport(driver: WebDriver) -> tuple[int, int] | None:
    """The viewport ``note_viewport`` last recorded for ``driver``, or None when unknown.

    The pool's reset reads the viewport after every test (and restores it); the
    executor takes that reading instead of asking again right after, and forgets it
    as the test begins (a step may resize the window, or a page go fullscreen).
    """
    size = getattr(driver, _VIEWPORT, None)
    return size if isinstance(size, tuple) else None


def note_viewport(driver: WebDriver, size: tuple[int, int] | None) -> None:
    """Record ``driver``'s viewport as seen (None: not known, check it next time)."""
    setattr(driver, _VIEWPORT, size)


_NETWORK_COMMAND = "testfleetNetworkConditions"
_NETWORK_PATH = "/session/$sessionId/chromium/network_conditions"
_NETWORK_EMULATED = "_testfleet_network_emulated"
"""Set on a driver whose network a step throttled: a pool's reset lifts it."""


def emulate_network(
    driver: WebDriver,
    *,
    offline: bool = False,
    latency_ms: float = 0,
    download_bytes_per_s: float | None = None,
    upload_bytes_per_s: float | None = None,
) -> None:
    """Throttle (or cut) the session's network, in every tab, until ``lift_network``.

    chromedriver's Chromium endpoint (``/chromium/network_conditions``), which a
    Selenium Grid forwards to its node; ``None`` throughput is unlimited.
    """
    conditions = {
        "offline": offline,
        "latency": latency_ms,
        "download_throughput": -1 if download_bytes_per_s is None else download_bytes_per_s,
        "upload_throughput": -1 if upload_bytes_per_s is None else upload_bytes_per_s,
    }
    _network_command(driver, "POST", {"network_conditions": conditions})
    setattr(driver, _NETWORK_EMULATED, True)


def lift_network(driver: WebDriver) -> None:
    """Undo ``emulate_network`` (nothing to do, no round trip, when nothing was emulated)."""
    if getattr(driver, _NETWORK_EMULATED, False):
        _network_command(driver, "DELETE", {})
        setattr(driver, _NETWORK_EMULATED, False)


def _network_command(driver: WebDriver, method: str, params: dict[str, object]) -> None:
    name = f"{_NETWORK_COMMAND}{method}"
    executor = driver.command_executor
    if isinstance(executor, RemoteConnection) and executor.get_command(name) is None:
        executor.add_command(name, method, _NETWORK_PATH)  # type: ignore[no-untyped-call]
    driver.execute(name, params)
