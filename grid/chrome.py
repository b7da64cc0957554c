"""The Chrome options every testfleet browser session is opened with.

One function, so the Grid provider, the local provider and the benchmarks open
identical browsers. Chromedriver creates a fresh temporary profile
(``--user-data-dir``) per session and deletes it on ``quit()``, so none is set
here: two sessions never share cookies or storage.
"""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver import ChromeOptions

from grid.egress import chrome_proxy_args
from testfleet.evidence.browserlog import LOGGING_PREFS, PERF_LOGGING_PREFS
from testfleet.settings import GridSettings


def chrome_options(
    grid: GridSettings, *, include_binary: bool = True, proxy: str = "", binary: Path | None = None
) -> ChromeOptions:
    """Options for one headless Chromium session.

    ``include_binary``: set ``goog:chromeOptions.binary`` to ``grid.chromium_binary``.
    The local provider needs it (the path is on this machine). The Grid provider
    leaves it out: the path is the node's business, and our node's stereotype
    carries it (official ``selenium/node-chrome`` images have no ``/usr/bin/chromium``).

    ``binary``: what to name instead of ``grid.chromium_binary`` (the local provider's
    wrapper that starts it under the fleet's URL policy, ``grid.sandbox.local_browser``).

    ``proxy``: the egress proxy the browser must send everything through
    (``security.browser_proxy``: a node whose config cannot name its own, such
    as the official images in compose). Empty: the node's stereotype names it.
    """
    options = ChromeOptions()
    if include_binary:
        options.binary_location = str(binary or grid.chromium_binary)
    for arg in grid.chrome_args:
        options.add_argument(arg)
    for arg in chrome_proxy_args(proxy) if proxy else ():
        options.add_argument(arg)
    # Headless Chrome ignores the OS window size; this sets the viewport the
    # screenshots and layout-dependent assertions see, in CSS pixels.
    options.add_argument(f"--window-size={grid.window_width},{grid.window_height}")
    options.page_load_strategy = "normal"
    # The console and network logs a trace is made of: on in every session (free while
    # unread, and fixed at session creation, so a pooled session serves any trace mode).
    # Never ``webSocketUrl``: the Grid's router opens /se/bidi without credentials.
    options.set_capability("goog:loggingPrefs", dict(LOGGING_PREFS))
    options.add_experimental_option("perfLoggingPrefs", dict(PERF_LOGGING_PREFS))
    return options
