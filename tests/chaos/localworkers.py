"""Real workers on a throwaway Redis, driving this machine's chromedriver (no Grid).

For the faults that are about the worker itself (a long case, a drain, a pool
child killed): ``testfleet worker`` processes at the shipped settings, each in
its own process group, with cases queued exactly as the API queues them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.dispatch import Dispatcher, plan_run
from testfleet.events import Event
from testfleet.settings import GridSettings, PathSettings, RedisSettings, Settings
from testfleet.store import RunStore
from testfleet.suites.loader import load_document
from tests.chaos.evidence import run_events
from tests.conftest import ROOT
from tests.fixtures_pages import page_server
from tests.waiting import wait_until

READY_S = 120
"""How long a worker may take to say it is ready (a loaded 2-core machine starts slowly)."""

PAGES = {
    "/": "<!doctype html><html><head><title>Home</title></head><body><h1>Home</h1></body></html>",
    "/next": "<!doctype html><html><body><h1 id='done'>Next</h1></body></html>",
}


@contextlib.contextmanager
def site() -> Iterator[str]:
    with page_server(PAGES) as url:
        yield url


def settings_for(redis_url: str, state_dir: Path) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis_url),
        grid=GridSettings(provider="local"),
        paths=PathSettings(state_dir=state_dir, artifacts_dir=state_dir / "artifacts"),
    )


def steps_waiting(seconds: list[int]) -> list[dict[str, Any]]:
    """Open a page, wait ``seconds`` step by step (a progress event after each), assert."""
    return [{"navigate": "/"}, *({"wait": s} for s in seconds), {"navigate": "/next"},
            {"assert_visible": "#done"}]  # fmt: skip


def queue_run(settings: Settings, base_url: str, tests: list[list[dict[str, Any]]]) -> str:
    """Record and queue a run of one suite (one test per steps list), as the API does."""
    cases_doc = [{"name": f"case {i}", "steps": steps} for i, steps in enumerate(tests)]
    document = {"name": "Local", "base_url": base_url, "tests": cases_doc}
    suite = load_document(document, {})
    run_id = "r" + uuid.uuid4().hex[:12]
    record, cases, specs = plan_run(run_id, "proj", [suite], set(), "chaos")
    store = RunStore.connect(settings, source="chaos")
    payload = {"runId": run_id, "total": len(cases)}
    started = Event("run_started", run_id, "proj", payload, correlation_id=run_id)
    store.create_run(record, cases, specs, started)
    store.redis.close()
    dispatcher = Dispatcher(settings)
    try:
        dispatcher.dispatch(cases)
    finally:
        dispatcher.close()
    return run_id


@dataclass
class LocalWorkers:
    """``testfleet worker`` processes on ``settings``' Redis; always stopped at the end."""

    settings: Settings
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for var in [v for v in env if v.startswith("TESTFLEET_")]:
            env.pop(var)
        env.update({
            "TESTFLEET_REDIS__URL": self.settings.redis.url,
            "TESTFLEET_GRID__PROVIDER": "local",
            "TESTFLEET_PATHS__STATE_DIR": str(self.settings.paths.state_dir),
        })  # fmt: skip
        return env

    def start(self, name: str) -> subprocess.Popen[bytes]:
        popen = self.component(name, "worker", "--name", name)
        try:
            wait_until(f"worker {name} to be ready", lambda: self._ready(name), READY_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {name}.log\n{self.log(name)[-3000:]}") from exc
        return popen

    def component(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """``testfleet ARGS`` as its own process group, logging to ``logs/NAME.log``."""
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *args],
                env={**self.env(), **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.procs[name] = popen
        return popen

    def _ready(self, name: str) -> bool:
        popen = self.procs[name]
        assert popen.poll() is None, f"worker {name} exited: {self.log(name)}"
        return " ready." in self.log(name)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def signal(self, name: str, sig: int) -> None:
        """``sig`` to the worker's main process (what ``docker stop`` signals)."""
        self.procs[name].send_signal(sig)

    def stop_all(self) -> None:
        for popen in self.procs.values():
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=30)


def events(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    store = RunStore.connect(settings, source="chaos")
    try:
        return run_events(store.redis, run_id)
    finally:
        store.redis.close()
