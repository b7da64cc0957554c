"""Celery's own tools on a real fleet: ``celery -A workers inspect``, plain ``--broker``, Flower.

The workers are ``testfleet up``'s; the tools are the ``celery`` and Flower
commands an operator runs, with the fleet's environment (``celery -A workers``
loads the app the workers run, configured the same way). Every worker answers,
and no remote-control broadcast upsets a worker.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, Fleet
from tests.ports import port_of
from tests.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

CELERY = str(Path(sys.executable).with_name("celery"))


def workers_of(fleet: Fleet) -> dict[str, int]:
    """Node name prefix -> main pid of each worker ``testfleet up`` started."""
    procs: list[dict[str, Any]] = fleet.state["processes"]  # type: ignore[assignment]
    return {
        f"tfworker-{p['name'].removeprefix('worker-')}@": p["pid"]
        for p in procs
        if p["name"].startswith("worker-")
    }


def celery(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CELERY, *args],
        env=fleet.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def destinations(fleet: Fleet) -> tuple[str, str]:
    """``-d`` and every worker's node name: Celery then returns as soon as each has
    replied (a missing one still costs the whole ``--timeout`` and fails the check)
    instead of always waiting out the timeout for replies it cannot count on."""
    host = socket.gethostname()
    return "-d", ",".join(f"{prefix}{host}" for prefix in workers_of(fleet))


def answered(output: str, fleet: Fleet) -> set[str]:
    """The workers whose reply ``celery inspect``/``control`` printed (``->  name@host: ...``)."""
    return {name for name in workers_of(fleet) if re.search(rf"->\s+{re.escape(name)}", output)}


def test_celery_a_workers_inspect_reaches_every_worker(fleet: Fleet) -> None:
    ping = celery(
        fleet, "-A", "workers", "inspect", "ping", "--timeout", "10", *destinations(fleet)
    )
    assert ping.returncode == 0, ping.stderr
    assert answered(ping.stdout, fleet) == set(workers_of(fleet)), ping.stdout
    assert ping.stdout.count("pong") == len(workers_of(fleet))

    for command in ("active", "reserved", "stats", "registered", "active_queues", "conf"):
        result = celery(
            fleet, "-A", "workers", "inspect", command, "--timeout", "10", *destinations(fleet)
        )
        assert result.returncode == 0, (command, result.stderr)
        assert answered(result.stdout, fleet) == set(workers_of(fleet)), (command, result.stdout)
    registered = celery(
        fleet, "-A", "workers", "inspect", "registered", "--timeout", "10", *destinations(fleet)
    )
    assert "testfleet.run_case" in registered.stdout


def test_standard_tools_with_the_plain_broker_url_upset_no_worker(fleet: Fleet) -> None:
    broker = str(fleet.status["redis_url"])
    # Celery's default app, default transport options: what `celery --broker=...` sends.
    env = {k: v for k, v in fleet.env.items() if not k.startswith("TESTFLEET_")}
    for args in (("inspect", "ping"), ("control", "enable_events"), ("inspect", "active")):
        result = subprocess.run(
            [CELERY, f"--broker={broker}", *args, "--timeout", "10", *destinations(fleet)],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        assert answered(result.stdout, fleet) == set(workers_of(fleet)), (args, result.stdout)
    for pid in workers_of(fleet).values():
        os.kill(pid, 0)  # still alive
    for log in (fleet.state_dir / "logs").glob("worker-*.log"):
        text = log.read_text(errors="replace")
        assert "not enough values to unpack" not in text, text[-3000:]
        assert "Control command error" not in text, text[-3000:]


@pytest.fixture
def flower(fleet: Fleet) -> Iterator[str]:
    process = subprocess.Popen(
        # Port 0: Flower binds what the kernel hands out; the kernel then tells us which.
        [CELERY, "-A", "workers", "flower", "--port=0", "--address=127.0.0.1"],
        # Flower 2 serves its HTTP API only with auth, or with this set (a test on loopback).
        env={**fleet.env, "FLOWER_UNAUTHENTICATED_API": "true"},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port_of(process)}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_flower_lists_every_worker(fleet: Fleet, flower: str) -> None:
    def listed() -> set[str] | None:
        answer = httpx.get(f"{flower}/api/workers", params={"refresh": "1"}, timeout=30)
        if answer.status_code != 200:
            return None
        names = set(json.loads(answer.text))
        found = {prefix for prefix in workers_of(fleet) if any(n.startswith(prefix) for n in names)}
        return found if found == set(workers_of(fleet)) else None

    assert wait_until(
        "Flower to list the workers", listed, 90, interval_s=1.0, ignore=(httpx.HTTPError,)
    )
