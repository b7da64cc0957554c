"""The trace zip: one attempt's members written into one file, and attempts put together.

One attempt's zip (``write_trace``): ``trace.json`` (``manifest.Manifest``), ``trace.har``,
``console.jsonl``, ``snapshots/<iii>-before|after.html``, ``screenshots/<name>.png`` and
``index.html``, the offline viewer (``viewer.render_index``). Several attempts
(``merge_attempts``): each one's members under ``attempt-<N>/``, and a top ``index.html``
listing them.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

from testfleet.evidence.console import ConsoleLine
from testfleet.evidence.manifest import (
    CONSOLE_MEMBER,
    HAR_MEMBER,
    INDEX_MEMBER,
    MANIFEST_MEMBER,
    Manifest,
)
from testfleet.evidence.viewer import bundle_attempts, render_index
from testfleet.evidence.viewer_model import guard_snapshot

__all__ = [
    "attempt_folder",
    "merge_attempts",
    "read_manifest",
    "read_member",
    "read_members",
    "write_trace",
]

_STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".zip")
"""Members already compressed: stored as they are."""


def attempt_folder(attempt: int) -> str:
    """Where an attempt's members go in a zip of several: ``attempt-<N>/``."""
    return f"attempt-{attempt}/"


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str) -> None:
    kind = zipfile.ZIP_STORED if name.lower().endswith(_STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    archive.writestr(name, data, compress_type=kind)


def write_trace(
    manifest: Manifest,
    har: dict[str, Any],
    console: Iterable[ConsoleLine],
    snapshots: Mapping[str, str],
    screenshots: Mapping[str, bytes],
) -> bytes:
    """One attempt's trace zip. ``snapshots`` and ``screenshots``: member name -> content
    (names as the manifest's steps refer to them); every text already masked."""
    document = manifest.dump()
    members: dict[str, bytes] = {
        MANIFEST_MEMBER: json.dumps(document, ensure_ascii=False, indent=1).encode(),
        HAR_MEMBER: json.dumps(har, ensure_ascii=False).encode(),
        CONSOLE_MEMBER: "".join(
            json.dumps(line, ensure_ascii=False) + "\n" for line in console
        ).encode(),
    }
    # The policy again at the very start: whatever the page put before its <head>, it
    # comes after the policy (a viewer opening the file directly relies on it).
    members.update((name, guard_snapshot(text).encode()) for name, text in snapshots.items())
    members.update(screenshots)
    members[INDEX_MEMBER] = render_index(document, members).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            _add(archive, name, data)
    return out.getvalue()


def read_members(trace: bytes) -> dict[str, bytes]:
    """Every member of a trace zip, by name."""
    with zipfile.ZipFile(io.BytesIO(trace)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def read_member(trace: bytes, name: str) -> bytes:
    """One member of a trace zip; ``KeyError`` when it has none of that name."""
    with zipfile.ZipFile(io.BytesIO(trace)) as archive:
        return archive.read(name)


def read_manifest(trace: bytes, folder: str = "") -> dict[str, Any]:
    """The ``trace.json`` of a trace zip (of the attempt in ``folder`` of a merged one)."""
    document = json.loads(read_member(trace, folder + MANIFEST_MEMBER))
    if not isinstance(document, dict):
        raise ValueError(f"{folder}{MANIFEST_MEMBER} is not a JSON object")
    return document


def merge_attempts(traces: Mapping[int, bytes]) -> bytes:
    """One zip of several attempts' trace zips (attempt number -> its zip): each under
    ``attempt-<N>/`` (``attempt_folder``), with a top ``index.html`` listing them."""
    return bundle_attempts({attempt: read_members(data) for attempt, data in traces.items()})
