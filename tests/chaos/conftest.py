"""The fault table: every chaos test records its figures; the session prints them as one table.

``make chaos`` sets ``CHAOS_REPORT=tests/chaos/results/latest`` and the table is
also written there (``.json`` with the machine it ran on, ``.txt`` as printed).
Also the fixtures of the faults run on local workers (``localworkers``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testfleet.settings import Settings
from tests.chaos.evidence import RECORDED, RECOVERY_MARGIN_S
from tests.chaos.fleetops import STARTED
from tests.chaos.localworkers import LocalWorkers, settings_for
from tests.fixtures_redis import redis_server

COLUMNS = (
    ("fault", "fault", 36),
    ("submitted", "cases", 6),
    ("completed", "done", 6),
    ("lost", "lost", 5),
    ("twice_at_once", "twice", 6),
    ("duplicate_finals", "dup", 4),
    ("affected", "hit", 4),
    ("recovery_s", "max recovery", 13),
)


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as the text table ``make chaos`` prints."""
    lease_s = Settings().worker.lease_s
    head = " ".join(f"{title:<{width}}" for _, title, width in COLUMNS)
    lines = [head, "-" * len(head)]
    for row in rows:
        cells = []
        for key, _, width in COLUMNS:
            value = row[key]
            if key == "recovery_s":
                value = "-" if value is None else f"{value:.1f} s"
            cells.append(f"{value!s:<{width}}")
        lines.append(" ".join(cells) + (f"  {row['note']}" if row.get("note") else ""))
    goal = f"{lease_s:g} + {RECOVERY_MARGIN_S:g} s"
    lines.append(f"goals: 0 lost, 0 twice at once, 0 duplicate finals; recovery <= {goal}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_1m": round(os.getloadavg()[0], 2),
        "settings": "shipped defaults (worker.lease_s, restore_interval_s, drain_grace_s)",
    }


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECORDED:
        return
    rows = [f.row() for f in RECORDED]
    text = table(rows)
    terminalreporter.write_sep("=", "chaos: faults at the shipped settings")
    terminalreporter.write_line(text)
    target = os.environ.get("CHAOS_REPORT")
    if target:
        base = Path(target)
        base.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        base.with_suffix(".txt").write_text(f"{stamp} on {machine()}\n{text}\n")
        report = {"when": stamp, "machine": machine(), "faults": rows}
        base.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        terminalreporter.write_line(f"written to {base}.json and {base}.txt")


@pytest.fixture
def local_settings(tmp_path: Path) -> Iterator[Settings]:
    """The shipped settings on a Redis of the test's own, with local chromedriver."""
    with redis_server() as url:
        yield settings_for(url, tmp_path)


@pytest.fixture
def local_workers(local_settings: Settings, tmp_path: Path) -> Iterator[LocalWorkers]:
    """Workers the test starts; always stopped."""
    workers = LocalWorkers(local_settings, tmp_path / "logs")
    try:
        yield workers
    finally:
        workers.stop_all()


@pytest.fixture(autouse=True)
def _stop_commands() -> Iterator[None]:
    """Every ``testfleet`` command a test started is stopped at its end, whatever happened."""
    yield
    while STARTED:
        STARTED.pop().close()
