"""Chaos: a local-provider worker killed while its browser is open leaves no browser.

A real ``testfleet worker`` (local provider) runs a long case; once its chromedriver,
Chromium and Chromium's crash handlers run, the worker's main process gets SIGKILL,
or SIGTERM twice (the hand-back). Every one of those browser processes must be gone
soon after, with nobody calling ``close()`` (before: chromedriver and the crash
handlers were left, reparented to pid 1).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from testfleet.fleet import reaper
from testfleet.settings import Settings
from tests.chaos.localworkers import LocalWorkers, queue_run, site, steps_waiting
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow]

NAME = "tfworker-orphans"
GONE_S = 60.0
"""Deadline for the browser to go once its worker is gone (normally well under a second)."""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with site() as url:
        yield url


def browser_processes(state_dir: Path) -> list[reaper.Process]:
    """chromedriver, Chromium and crash handlers started by workers of ``state_dir``
    (they inherit the worker's environment; Chromium's children are in their groups)."""
    return [
        p
        for p in reaper.processes()
        if p.environ.get("TESTFLEET_PATHS__STATE_DIR") == str(state_dir)
        and p.cmdline
        and "chrom" in os.path.basename(p.cmdline[0])
    ]


def kinds(processes: list[reaper.Process]) -> set[str]:
    return {os.path.basename(p.cmdline[0]) for p in processes}


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM twice"])
def test_a_killed_workers_browser_does_not_outlive_it(
    how: str, local_settings: Settings, local_workers: LocalWorkers, base_url: str
) -> None:
    settings, workers = local_settings, local_workers
    state_dir = settings.paths.state_dir
    worker = workers.start(NAME)
    queue_run(settings, base_url, [steps_waiting([120])])
    expected = {"chromedriver", "chromium", "chrome_crashpad_handler"}
    wait_until(
        "the worker's chromedriver, Chromium and crash handlers",
        lambda: expected <= kinds(browser_processes(state_dir)),
        120,
    )

    if how == "SIGKILL":
        worker.send_signal(signal.SIGKILL)
    else:
        worker.send_signal(signal.SIGTERM)
        wait_until("the worker to drain", lambda: "draining" in workers.log(NAME), 60)
        worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=120)

    wait_until(
        "no browser process of the killed worker",
        lambda: not browser_processes(state_dir),
        GONE_S,
    )
