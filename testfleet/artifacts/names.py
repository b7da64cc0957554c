"""Artifact names and keys: the one place that decides what an artifact is called.

Every producer (the executor's screenshots and thumbnails, the case's step log,
a stored report) and every reader (the reports, the API, retention) asks here,
so a thumbnail the worker saves is the thumbnail the report looks for.

Two levels:

- a **name** is flat (letters, digits, ``._-``; never ``..``): what a run's result
  lists and what ``GET /runs/{id}/artifacts/{name}`` takes from a client;
- a **key** is where the store keeps it: ``/``-separated segments, each a valid
  name. A run's artifacts live under ``runs/<run id>/``; other owners (visual
  baselines) take their own top-level prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from testfleet.constants import run_path
from testfleet.errors import NotFoundError, UsageError

RUNS_PREFIX = "runs/"
"""Where every run's artifacts live in a store: ``runs/<run id>/<name>``."""

THUMBNAIL_SUFFIX = ".thumb.png"
"""A screenshot ``x.png``'s thumbnail is ``x.thumb.png``."""

BASELINES_PREFIX = "baselines/"
"""Where visual baselines live: ``baselines/p-<project>/<baseline id>/v<NNNNNN>.png``,
each version's facts beside it in ``v<NNNNNN>.json`` (written last: a version without
it is incomplete). Under a prefix of their own: the retention sweep (``runs/``) never
touches them."""

REPORT_NAME = "report.html"
"""A finished run's stored HTML report."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
    ".log": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".zip": "application/zip",
}
_LOG_SUFFIXES = (".log", ".txt")


def safe_name(text: str) -> str:
    """``text`` made into a valid artifact name part (letters, digits, ``._-``)."""
    cleaned = _UNSAFE_CHARS.sub("-", text).strip("-.")[:80]
    return cleaned or "artifact"


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a plain artifact name (never a path, never ``..``)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def check_name(name: str) -> str:
    """``name`` itself; raises ``UsageError`` when it is not a plain artifact name."""
    if not is_valid_name(name):
        raise UsageError(
            f"artifact name {name!r} is not valid: use the names listed in the run's result"
        )
    return name


def check_key(key: str) -> str:
    """``key`` itself when every ``/``-separated segment is a valid name; else ``UsageError``."""
    if not key or not all(is_valid_name(part) for part in key.split("/")):
        raise UsageError(
            f"artifact key {key!r} is not valid: use '/'-separated segments of letters, "
            "digits and '._-' (no empty segment, no '..')"
        )
    return key


def run_prefix(run_id: str) -> str:
    """The key prefix of one run's artifacts (``runs/<run id>/``); an id that cannot be a
    run's is simply not found."""
    if not is_valid_name(run_id):
        raise NotFoundError(f"run {run_id!r} does not exist")
    return f"{RUNS_PREFIX}{run_id}/"


def run_key(run_id: str, name: str) -> str:
    """Where a run's artifact ``name`` is kept."""
    return run_prefix(run_id) + check_name(name)


def run_of_key(key: str) -> str | None:
    """The run id a key belongs to, or None for a key outside ``runs/``."""
    if not key.startswith(RUNS_PREFIX):
        return None
    run_id, sep, _ = key[len(RUNS_PREFIX) :].partition("/")
    return run_id if sep and run_id else None


def case_artifact_name(case_id: str, attempt: int, name: str) -> str:
    """What one attempt's artifact is stored as: ``<case id>-a<attempt>-<name>``, so
    attempts and cases of a run never overwrite each other."""
    return check_name(f"{safe_name(case_id)}-a{attempt}-{name}")


def screenshot_name(step_number: int, label: str) -> str:
    """A step's screenshot: ``step<NN>-<label>.png``."""
    return f"step{step_number:02d}-{safe_name(label)}.png"


def thumbnail_name(name: str) -> str:
    """The thumbnail's name for a screenshot named ``name`` (``x.png`` -> ``x.thumb.png``)."""
    return name.removesuffix(".png") + THUMBNAIL_SUFFIX


def visual_names(step_number: int, label: str) -> tuple[str, str, str]:
    """An ``assert_screenshot`` step's artifacts: the screenshot taken, the baseline it was
    compared with and the diff (``step<NN>-<label>-actual.png``, ``-baseline``, ``-diff``)."""
    stem = f"step{step_number:02d}-{safe_name(label)}"
    return f"{stem}-actual.png", f"{stem}-baseline.png", f"{stem}-diff.png"


def baselines_prefix(project: str) -> str:
    """The key prefix of one project's baselines (``baselines/p-<project>/``): the fixed
    ``p-`` keeps every project name (letters, digits, ``-``, ``_``) a valid segment."""
    return f"{BASELINES_PREFIX}{check_name(f'p-{project}')}/"


def baseline_key(project: str, baseline_id: str, version: int, suffix: str) -> str:
    """Where version ``version`` of a baseline keeps its image (``.png``; an accessibility
    baseline's accepted violations: ``.a11y.json``) or facts (``.json``)."""
    return f"{baselines_prefix(project)}{check_name(baseline_id)}/v{version:06d}{suffix}"


def baseline_version_of_key(key: str) -> tuple[str, int, str] | None:
    """(baseline id, version, suffix) of a key under a project's prefix, else None."""
    match = _BASELINE_KEY.search(key)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), match.group(3)


_BASELINE_KEY = re.compile(r"([^/]+)/v(\d{6})(\.png|\.a11y\.json|\.json)$")
"""``.a11y.json``: an accessibility baseline's accepted violations, in place of an image."""


TRACE_SUFFIX = ".trace.zip"
"""How a trace zip's artifact name ends."""


def trace_name(case_id: str, attempt: int) -> str:
    """The artifact name of one attempt's trace zip: ``<case id>.attempt-<N>.trace.zip``."""
    return check_name(f"{safe_name(case_id)}.attempt-{attempt}{TRACE_SUFFIX}")


def is_trace(name: str) -> bool:
    """A trace zip (``trace_name``)."""
    return name.endswith(TRACE_SUFFIX)


def step_log_name(case_id: str) -> str:
    """The artifact name of a case's step log: ``<case id>.log``."""
    return f"{safe_name(case_id)}.log"


def is_log(name: str) -> bool:
    """A text log the reports embed."""
    return name.endswith(_LOG_SUFFIXES)


def screenshots(names: Iterable[str]) -> list[str]:
    """The screenshots among a case's artifacts: PNGs that are not the thumbnail of
    another one listed (a screenshot whose own label ends in ``.thumb`` stays one)."""
    listed = list(names)
    thumbs = {thumbnail_name(n) for n in listed if n.endswith(".png")}
    return [n for n in listed if n.endswith(".png") and n not in thumbs]


def media_type(name: str) -> str:
    """The media type of a file named ``name`` (by suffix; bytes otherwise): what an
    artifact is stored and served with, and what an image is sent to the model as (the
    one map of suffix -> media type)."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return _MEDIA_TYPES.get(suffix, "application/octet-stream")


def artifact_url(run_id: str, name: str) -> str:
    """The API path that serves an artifact."""
    return f"{run_path(run_id)}/artifacts/{name}"
