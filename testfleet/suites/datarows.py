"""A test's ``data:`` rows: inline mappings, or a CSV or JSON file beside the suite.

Each row turns the test into one test of its own, named by the row, whose steps
read the row's values as ``{{ column }}`` (``testfleet.suites.compose``)::

    data:                               data: users.csv      # header row: the columns
      - {name: admin, user: alice}      data: users.json     # a list of objects
      - {name: guest, user: bob}
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

MAX_DATA_ROWS = 500
"""Rows one test may expand into (the run's limits on tests apply on top)."""
MAX_DATA_FILE_BYTES = 1024 * 1024
"""Largest data file read."""

Row = dict[str, str]


def read_rows(value: Any, where: str, base_dir: Path | None, problems: list[str]) -> list[Row]:
    """The rows ``data:`` gives (an empty list after adding to ``problems``)."""
    if isinstance(value, str):
        rows = _from_file(value, where, base_dir, problems)
    elif isinstance(value, list):
        rows = value
    else:
        problems.append(f"{where}: is a list of rows ({{column: value}}) or a .csv/.json file")
        return []
    if rows is None:
        return []
    if not rows:
        problems.append(f"{where}: has no rows")
        return []
    if len(rows) > MAX_DATA_ROWS:
        problems.append(
            f"{where}: {len(rows)} rows is more than the {MAX_DATA_ROWS} a test may "
            "expand into; split the data"
        )
        return []
    out: list[Row] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not row:
            problems.append(f"{where}[{i}]: a row is a mapping of column to value")
            continue
        bad = [k for k in row if not isinstance(row[k], str | int | float | bool) or row[k] is None]
        if bad:
            problems.append(f"{where}[{i}].{bad[0]}: a value is text or a number")
            continue
        out.append({str(k): _text(v) for k, v in row.items()})
    return out if len(out) == len(rows) else []


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _from_file(
    name: str, where: str, base_dir: Path | None, problems: list[str]
) -> list[Any] | None:
    if base_dir is None:
        problems.append(
            f"{where}: data files are read relative to the suite file, and this suite has none:"
            " run it from a file (testfleet run), or give the rows inline"
        )
        return None
    path = base_dir / name
    if path.suffix.lower() not in (".csv", ".json"):
        problems.append(f"{where}: {name} is neither a .csv nor a .json file")
        return None
    try:
        if path.stat().st_size > MAX_DATA_FILE_BYTES:
            problems.append(f"{where}: {name} is larger than {MAX_DATA_FILE_BYTES:,} bytes")
            return None
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{where}: cannot read {name} ({getattr(exc, 'strerror', None) or exc})")
        return None
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{where}: {name} is not valid JSON: {exc}")
        return None
    if not isinstance(rows, list):
        problems.append(f"{where}: {name} must hold a list of objects")
        return None
    return rows


def row_label(row: Row, index: int) -> str:
    """How a row names its test: its ``name`` column, else its first values."""
    if row.get("name"):
        return row["name"]
    shown = ", ".join(f"{k}={v}" for k, v in list(row.items())[:3])
    return shown or f"row {index + 1}"
