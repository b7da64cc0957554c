"""``make bench``: run every benchmark side by side with its baseline, write the figures.

Each ``bench/bench_<name>.py`` module is one benchmark. It defines::

    TITLE: str                                  # one line for the table
    def run(settings: Settings) -> dict         # its figures, baseline included
    def rows(figures: dict) -> list[tuple[str, str, str]]   # (figure, value, target)

``python -m bench [NAME ...]`` runs the named ones (default: all, in name order),
merges their figures into ``bench/results/latest.json`` under each module's name
(``bench_gateway`` -> ``"gateway"``), adds the machine and settings it ran on,
prints a readable table and writes the table of every benchmark in ``latest.json`` to
``bench/results/latest.txt`` (a partial run keeps the others' figures and rows). A
benchmark that raises is reported and makes the exit status 1; the others still run.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from testfleet.settings import Settings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def available() -> list[str]:
    """The benchmark names, from the ``bench_*.py`` files present."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    """What the figures were measured on (absolute numbers only mean something here)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def table(results: dict[str, Any], modules: dict[str, ModuleType]) -> str:
    lines: list[str] = []
    for name, module in modules.items():
        figures = results.get(name)
        lines.append(f"\n{module.TITLE}")
        if not isinstance(figures, dict) or "error" in figures:
            lines.append(f"  FAILED: {(figures or {}).get('error', 'no figures')}")
            continue
        rows: list[tuple[str, str, str]] = module.rows(figures)
        width = max((len(r[0]) for r in rows), default=10)
        for label, value, target in rows:
            lines.append(f"  {label:<{width}}  {value:>14}  {target}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    names = argv or available()
    if not names:
        print("no benchmark modules (bench/bench_*.py) found", file=sys.stderr)
        return 2
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(available())}",
            file=sys.stderr,
        )
        return 2
    settings = Settings()
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    results: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    modules: dict[str, ModuleType] = {}
    status = 0
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        modules[name] = module
        print(f"== {name}: {module.TITLE}", flush=True)
        started = time.monotonic()
        try:
            figures = module.run(settings)
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            traceback.print_exc()
            figures = {"error": f"{type(exc).__name__}: {exc}"}
            status = 1
        figures["wall_s"] = round(time.monotonic() - started, 1)
        # Per benchmark too: a partial run merges into figures measured at other times.
        figures["machine"] = machine()
        results[name] = figures
    results["machine"] = machine()
    latest.write_text(json.dumps(results, indent=2) + "\n")
    # The table covers every benchmark in the file, so a partial run keeps the others' rows.
    everything = {
        n: modules.get(n) or importlib.import_module(f"bench.bench_{n}")
        for n in available()
        if n in results
    }
    text = table(results, everything)
    (RESULTS / "latest.txt").write_text(text)
    print(text)
    print(f"figures written to {latest}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
