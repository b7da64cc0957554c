"""Which browser and chromedriver the local provider runs, on any machine.

- The browser: ``grid.chromium_binary`` (Debian's ``/usr/bin/chromium``) where it
  exists, else the first Chromium or Google Chrome on ``PATH``.
- The driver: ``grid.chromedriver_path`` (Debian's ``chromium-driver``) where it
  exists, else a ``chromedriver`` on ``PATH``, else the Chrome-for-Testing driver
  of the browser's version, found or fetched by webdriver-manager and cached under
  ``paths.cache_dir`` (a laptop with Google Chrome and nothing else). Offline with
  nothing cached, ``BrowserError`` says what to install.

webdriver-manager reads Chrome for Testing's JSON from fixed Google URLs; with
``grid.chromedriver_mirror`` every request goes to that mirror instead (same paths).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from testfleet import logs
from testfleet.errors import BrowserError
from testfleet.settings import Settings

log = logs.get_logger(__name__)

BROWSERS_ON_PATH = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Browsers looked for on ``PATH`` when ``grid.chromium_binary`` does not exist, in order."""

CACHE_DAYS = 3650
"""How long a fetched driver stays valid: it matches its browser version forever (a
browser update asks for a new one), and an offline machine must keep using it
(webdriver-manager's default, one day, would make it fetch again daily)."""

_VERSION_TIMEOUT_S = 20.0
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+\.\d+)\b")

INSTALL_HINT = (
    "install Debian's driver (`apt install chromium chromium-driver`), or the "
    "Chrome-for-Testing chromedriver matching your browser "
    "(https://googlechromelabs.github.io/chrome-for-testing/), and point "
    "TESTFLEET_GRID__CHROMEDRIVER_PATH at it"
)


def browser_binary(settings: Settings) -> Path:
    """The browser the local provider starts (see the module docstring)."""
    configured = settings.grid.chromium_binary
    if _executable(configured):
        return configured
    for name in BROWSERS_ON_PATH:
        found = shutil.which(name)
        if found:
            return Path(found)
    return configured  # missing: starting it says what to install


def chromedriver(settings: Settings, browser: Path) -> Path:
    """The chromedriver for ``browser`` (see the module docstring)."""
    configured = settings.grid.chromedriver_path
    if _executable(configured):
        return configured
    on_path = shutil.which("chromedriver")
    if on_path:
        return Path(on_path)
    return fetch(settings, browser)


def browser_version(browser: Path) -> str:
    """``browser --version`` as ``major.minor.build.patch``; BrowserError when it has none."""
    try:
        done = subprocess.run(
            [str(browser), "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BrowserError(
            f"cannot run the browser {browser} ({exc}): install Chromium (`apt install "
            "chromium`) or Google Chrome, or set TESTFLEET_GRID__CHROMIUM_BINARY"
        ) from exc
    match = _VERSION.search(done.stdout)
    if match is None:
        raise BrowserError(
            f"{browser} --version printed no version ({done.stdout.strip()!r}): set "
            "TESTFLEET_GRID__CHROMIUM_BINARY to a Chromium or Google Chrome"
        )
    return match.group(1)


def fetch(settings: Settings, browser: Path) -> Path:
    """The Chrome-for-Testing chromedriver for ``browser``'s version, from the cache
    or downloaded into it by webdriver-manager."""
    # Imported here: webdriver-manager loads a `.env` of the working directory into
    # os.environ as it is imported; only a machine without a driver needs it.
    from webdriver_manager.chrome import ChromeDriverManager
    from webdriver_manager.core.download_manager import WDMDownloadManager
    from webdriver_manager.core.driver_cache import DriverCacheManager
    from webdriver_manager.core.http import WDMHttpClient
    from webdriver_manager.core.os_manager import OperationSystemManager

    version = browser_version(browser)

    class _Browser(OperationSystemManager):
        # webdriver-manager would run `google-chrome --version` (or `chromium`): the
        # browser we start is the one the driver must match.
        def get_browser_version_from_os(self, browser_type: Any = None) -> str:
            return version

    class _Mirror(WDMHttpClient):
        def get(self, url: Any, params: Any = None, **kwargs: Any) -> Any:
            if params is not None:
                kwargs["params"] = params
            return super().get(mirrored(url, settings.grid.chromedriver_mirror), **kwargs)

    cache = settings.paths.cache_dir / "chromedriver"
    # webdriver-manager's constructors are untyped.
    system = _Browser()  # type: ignore[no-untyped-call]
    http = _Mirror()  # type: ignore[no-untyped-call]
    manager = ChromeDriverManager(
        download_manager=WDMDownloadManager(http),  # type: ignore[no-untyped-call]
        cache_manager=DriverCacheManager(  # type: ignore[no-untyped-call]
            root_dir=str(cache), valid_range=CACHE_DAYS, os_system_manager=system
        ),
        os_system_manager=system,
    )
    log.info("no system chromedriver: finding the one for %s %s in %s", browser, version, cache)
    try:
        path = Path(manager.install())
    # webdriver-manager raises bare Exceptions (and requests' and ValueErrors) alike.
    except Exception as exc:
        raise BrowserError(
            f"no chromedriver on this machine, and none could be fetched for {browser} "
            f"{version} ({_reason(exc)}): {INSTALL_HINT}"
        ) from exc
    log.info("using chromedriver %s", path)
    return path


def mirrored(url: str, mirror: str) -> str:
    """``url`` with its scheme and host replaced by ``mirror``'s (unchanged without one)."""
    if not mirror:
        return url
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return mirror.rstrip("/") + rest


def _executable(path: Path) -> bool:
    return path.is_file() and shutil.which(str(path)) is not None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
