"""Dogfood: the fleet tests its own dashboard, while another run streams.

On a real local fleet (``testfleet up``: Redis, Grid, workers, API, gateway,
demo site), this submits the demo login suite (the run to watch) and a run of
slow tests (the run to cancel), then runs ``tests/dashboard/dogfood.yaml`` with
``testfleet run``: the fleet's own Chromium opens ``/dashboard`` and checks the
fleet view, the streaming run to ``passed`` with its screenshot, cancel with its
confirmation, the connection panel through a gateway restart (this test
restarts the gateway when the suite says so) and that project beta's key sees
none of project alpha's runs. Afterwards the docs' screenshots of the three
views are taken with Playwright on those real runs (written to
``docs/img/``, shown by ``docs/dashboard.md``, when ``TESTFLEET_DOCS_SHOTS=1``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from testfleet.store import RunReader
from tests.conftest import ROOT, Fleet, free_port, start_fleet
from tests.dashboard.browser import chromium, open_page, sign_in
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

DOGFOOD = ROOT / "tests" / "dashboard" / "dogfood.yaml"
SHOTS = ROOT / "docs" / "img"
MARK = "restart the gateway now"
SLOW = """name: Slow bulk
env: [DEMO_URL]
base_url: ${DEMO_URL}
priority: low
tests:
""" + "".join(
    f"  - name: slow {i}\n    steps:\n      - navigate: /\n      - wait: 3\n      - wait: 3\n"
    for i in range(16)
)


def _key(fleet: Fleet, project: str, scopes: str) -> str:
    made = fleet.run("keys", "create", "--project", project, "--scopes", scopes)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def _submit(fleet: Fleet, key: str, path: Path) -> str:
    done = fleet.run("run", str(path), "--no-follow", "--key", key)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"run (\S+): ", done.stdout)
    assert found, done.stdout
    return found.group(1)


class GatewayRestarter:
    """Restarts the fleet's gateway once the dogfood run reaches ``MARK``; the new
    gateway (same port, same settings) is stopped at the end."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.replacement: subprocess.Popen[bytes] | None = None
        self.error: BaseException | None = None
        self.restarted = threading.Event()

    def watch(self, run_id: str) -> threading.Thread:
        thread = threading.Thread(target=self._watch, args=(run_id,), daemon=True)
        thread.start()
        return thread

    def _watch(self, run_id: str) -> None:
        try:
            client = redis.Redis.from_url(
                str(self.fleet.status["redis_url"]), decode_responses=True
            )
            reader = RunReader(client)

            def marked() -> bool:
                # The restart waits for the suite's other tests to end: they load the page
                # from this gateway too, and a refused load would fail them.
                run = reader.get_run(run_id)
                tests = run.tests if run else []
                waiting = [t for t in tests if any(s.label == MARK for s in t.steps)]
                others = [t for t in tests if t not in waiting]
                return bool(waiting) and all(t.is_final for t in others)

            wait_until(f"the dogfood run to reach {MARK!r}", marked, 600, interval_s=0.2)
            self._restart()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _restart(self) -> None:
        state = self.fleet.state
        old = next(p for p in state["processes"] if p["name"] == "gateway")  # type: ignore[attr-defined]
        os.kill(int(old["pid"]), signal.SIGTERM)

        def gone() -> bool:
            try:
                os.kill(int(old["pid"]), 0)
            except ProcessLookupError:
                return True
            return False

        wait_until("the old gateway to exit", gone, 30)
        self.replacement = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "gateway"],
            env=self.fleet.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = str(self.fleet.status["gateway_url"])
        wait_until(
            "the new gateway",
            lambda: httpx.get(f"{url}/ready").status_code == 200,
            30,
            ignore=(httpx.HTTPError,),
        )
        self.restarted.set()

    def stop(self) -> None:
        if self.replacement is not None:
            self.replacement.terminate()
            try:
                self.replacement.wait(15)
            except subprocess.TimeoutExpired:
                self.replacement.kill()
                self.replacement.wait()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A fleet of this module's own: the test stops its gateway and starts another, which
    the session's shared fleet must never see. Its browsers are confined like any fleet's;
    the gateway (one of the fleet's own services) is the suite's target, so this fleet's
    operator allows exactly that host and port, as docs/dashboard.md tells an operator to."""
    gateway = free_port()
    yield from start_fleet(
        tmp_path_factory.mktemp("dogfood-fleet"),
        TESTFLEET_GATEWAY__PORT=str(gateway),
        TESTFLEET_SECURITY__ALLOWED_TARGETS=json.dumps([f"127.0.0.1:{gateway}"]),
    )


@pytest.fixture
def restarter(fleet: Fleet) -> Iterator[GatewayRestarter]:
    restarter = GatewayRestarter(fleet)
    yield restarter
    restarter.stop()


def test_the_fleet_tests_its_own_dashboard(
    fleet: Fleet, restarter: GatewayRestarter, tmp_path: Path
) -> None:
    alpha = _key(fleet, "alpha", "test:read,test:write,dashboard:read,priority:critical")
    beta = _key(fleet, "beta", "test:read,test:write,dashboard:read")
    stream = _submit(fleet, alpha, ROOT / "examples" / "suites" / "login.yaml")
    slow = tmp_path / "slow.yaml"
    slow.write_text(SLOW)
    cancel = _submit(fleet, alpha, slow)
    gateway = str(fleet.status["gateway_url"])
    env = {
        **fleet.env,
        "DASHBOARD_URL": gateway,
        "DASHBOARD_KEY": alpha,
        "OTHER_KEY": beta,
        "STREAM_RUN": stream,
        "CANCEL_RUN": cancel,
    }
    out = tmp_path / "dogfood.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run", str(DOGFOOD), "--key", alpha, "--json", str(out)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    first, found = "", None
    while found is None:  # the run's line comes after the one naming the variables read
        line = process.stdout.readline()
        assert line, first
        first += line
        found = re.search(r"run (\S+): ", line)
    watcher = restarter.watch(found.group(1))
    rest, _ = process.communicate(timeout=900)
    watcher.join(5)
    printed = first + rest
    assert restarter.error is None, f"{restarter.error}\n{printed}"
    assert restarter.restarted.is_set(), printed
    assert out.exists(), f"testfleet run wrote no result (exit {process.returncode}):\n{printed}"
    result = json.loads(out.read_text())
    statuses = {t["name"]: t["status"] for t in result["tests"]}
    assert process.returncode == 0, f"{statuses}\n{printed}"
    assert set(statuses.values()) <= {"passed", "flaky"}, printed
    assert len(statuses) == 5
    _readme_screenshots(gateway, alpha, stream, tmp_path)


def _readme_screenshots(gateway: str, key: str, run_id: str, tmp_path: Path) -> None:
    """The three views on the real runs above, as docs/dashboard.md shows them."""
    target = SHOTS if os.environ.get("TESTFLEET_DOCS_SHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    with chromium() as browser, open_page(browser, width=1280, height=800) as tab:
        page = tab.page
        sign_in(page, gateway, key, "#/fleet")
        page.locator("#fleet-tiles .tile").first.wait_for()
        page.locator("[data-worker]").first.wait_for()
        page.screenshot(path=str(target / "dashboard-fleet.png"))
        page.goto(f"{gateway}/dashboard#/runs")
        page.locator("#runs-table").wait_for()
        page.screenshot(path=str(target / "dashboard-runs.png"))
        page.goto(f"{gateway}/dashboard#/runs/{run_id}")
        page.locator("#run-status").filter(has_text="passed").wait_for()
        page.locator("article.case summary").first.click()
        page.locator("[data-shot] img[src^='blob:']").first.wait_for()
        page.screenshot(path=str(target / "dashboard-run.png"))
        tab.assert_no_errors()
    for name in ("fleet", "runs", "run"):
        assert (target / f"dashboard-{name}.png").stat().st_size > 10_000
