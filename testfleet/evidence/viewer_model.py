"""What a trace viewer reads from a trace zip: its members, checked, and the steps' evidence.

A trace zip (format version 1) holds ``trace.json`` (the steps), ``console.jsonl``,
``trace.har``, ``snapshots/*.html`` and ``screenshots/*.png``. Every view of a
trace (the offline ``index.html``, the HTML report, the dashboard, ``testfleet
show-trace``) reads it through here, so each one sees the same console lines and
requests for a step: those the capture tagged with the step's index, or else
those whose time falls in the step's ``[startedAt, endedAt]`` window.

A zip is read with limits (member count, sizes, names that stay inside the
folder it unpacks to): it comes from the artifact store, but a viewer must not
trust that nobody put a zip bomb there.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from testfleet.artifacts import is_trace
from testfleet.errors import UsageError
from testfleet.evidence.manifest import CONSOLE_MEMBER, HAR_MEMBER, MANIFEST_MEMBER
from testfleet.results import CaseResult

SNAPSHOT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
"""What a snapshot may load: nothing from any network; its inline styles and ``data:``
images and fonts only (so it renders, but cannot call out)."""
SNAPSHOT_HEADER_POLICY = f"sandbox; {SNAPSHOT_POLICY}"
"""The ``Content-Security-Policy`` header a served snapshot gets: also sandboxed (no
script, an opaque origin) when opened outside its ``<iframe sandbox>``."""
MAX_MEMBERS = 5_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024
"""Limits on one trace zip as unpacked (a failed demo trace is ~1 MB)."""

_MEMBER = re.compile(
    r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,199}/){0,3}[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
)
_ATTEMPT_IN_NAME = re.compile(r"\.attempt-(\d{1,4})\.trace\.zip$")
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>", re.IGNORECASE)
_LEVELS = {"debug", "info", "warning", "error"}


@dataclass(frozen=True)
class ConsoleLine:
    """One console message or uncaught error of the page."""

    time_ms: int | None
    level: str
    text: str
    source: str
    where: str
    """``url:line:column`` when known, else ``""``."""
    step: int | None


@dataclass(frozen=True)
class Request:
    """One HAR entry: a request the page made, with how it ended."""

    started_ms: int | None
    method: str
    url: str
    status: int
    error: str
    """``net::ERR_*`` (or a blocked reason) when it failed without a response."""
    time_ms: float
    size_bytes: int
    resource_type: str
    step: int | None

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.status == 0 or self.status >= 400


@dataclass
class Trace:
    """One attempt's trace as a viewer shows it."""

    manifest: dict[str, Any]
    console: list[ConsoleLine] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    members: dict[str, bytes] = field(default_factory=dict)

    @property
    def steps(self) -> list[dict[str, Any]]:
        steps = self.manifest.get("steps")
        return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []

    def step_console(self, step: Mapping[str, Any]) -> list[ConsoleLine]:
        """The console lines of ``step``: tagged with its index, or in its time window."""
        index, start, end = _window(step)
        return [c for c in self.console if _belongs(c.step, c.time_ms, index, start, end)]

    def step_requests(self, step: Mapping[str, Any]) -> list[Request]:
        """The requests of ``step``: tagged with its index, or started in its time window."""
        index, start, end = _window(step)
        return [r for r in self.requests if _belongs(r.step, r.started_ms, index, start, end)]

    def errors_before(self, step: Mapping[str, Any]) -> list[ConsoleLine]:
        """Console errors of the attempt before ``step`` (shown with a failing step: the
        error that explains a failure is often logged by the step before it)."""
        index, start, _ = _window(step)
        return [
            c
            for c in self.console
            if c.level == "error" and _before(c.step, c.time_ms, index, start)
        ]

    def failures_before(self, step: Mapping[str, Any]) -> list[Request]:
        """Failed requests of the attempt before ``step`` (see ``errors_before``)."""
        index, start, _ = _window(step)
        return [
            r for r in self.requests if r.failed and _before(r.step, r.started_ms, index, start)
        ]


def _before(tagged: int | None, at_ms: int | None, index: int | None, start: int | None) -> bool:
    if tagged is not None:
        return index is not None and tagged < index
    return at_ms is not None and start is not None and at_ms < start


def _window(step: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    return _int(step.get("index")), _int(step.get("startedAt")), _int(step.get("endedAt"))


def _belongs(
    tagged: int | None, at_ms: int | None, index: int | None, start: int | None, end: int | None
) -> bool:
    if tagged is not None:
        return tagged == index
    return at_ms is not None and start is not None and end is not None and start <= at_ms <= end


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _ms(iso: object) -> int | None:
    if not isinstance(iso, str) or not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def read_zip(data: bytes) -> dict[str, bytes]:
    """The members of a trace zip by name; ``UsageError`` when it is not one or breaks a
    limit (too many members, too big, a name that would leave its folder)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UsageError(f"this is not a trace zip ({exc}); download it again") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise UsageError(f"trace zip has {len(infos)} members, more than {MAX_MEMBERS}")
        total = 0
        members: dict[str, bytes] = {}
        for info in infos:
            if not _MEMBER.match(info.filename) or ".." in info.filename:
                raise UsageError(f"trace zip member name {info.filename[:100]!r} is not allowed")
            total += info.file_size
            if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                raise UsageError(
                    f"trace zip member {info.filename!r} is too big to open "
                    f"(limits: {MAX_MEMBER_BYTES} bytes a member, {MAX_TOTAL_BYTES} in all)"
                )
            with archive.open(info) as member:
                # The header's size can lie: read one byte past it to know.
                body = member.read(info.file_size + 1)
            if len(body) > info.file_size:
                raise UsageError(f"trace zip member {info.filename!r} is larger than it says")
            members[info.filename] = body
    return members


def parse(members: Mapping[str, bytes]) -> Trace:
    """The trace in one attempt's members (``UsageError`` without a readable trace.json)."""
    raw = members.get(MANIFEST_MEMBER)
    if raw is None:
        raise UsageError("trace zip has no trace.json: it is not a trace, or holds attempt-N/")
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"trace.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise UsageError("trace.json is not a JSON object")
    return Trace(
        manifest=manifest,
        console=_console(members.get(CONSOLE_MEMBER, b"")),
        requests=_requests(members.get(HAR_MEMBER)),
        members=dict(members),
    )


def _console(raw: bytes) -> list[ConsoleLine]:
    lines = []
    for text in raw.decode("utf-8", "replace").splitlines():
        try:
            item = json.loads(text)
        except ValueError:
            continue  # a torn last line: what came before it is still shown
        if not isinstance(item, dict):
            continue
        level = str(item.get("level", "info"))
        where = ":".join(
            str(part) for part in (item.get("url"), item.get("line"), item.get("column")) if part
        )
        lines.append(
            ConsoleLine(
                time_ms=_ms(item.get("time")),
                level=level if level in _LEVELS else "info",
                text=str(item.get("text", "")),
                source=str(item.get("source", "")),
                where=where,
                step=_int(item.get("step")),
            )
        )
    return lines


def _requests(raw: bytes | None) -> list[Request]:
    if not raw:
        return []
    try:
        har = json.loads(raw)
        entries = har["log"]["entries"]
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        request = _object(entry.get("request"))
        response = _object(entry.get("response"))
        error = response.get("_error") or response.get("_blockedReason") or ""
        found.append(
            Request(
                started_ms=_ms(entry.get("startedDateTime")),
                method=str(request.get("method", "")),
                url=str(request.get("url", "")),
                status=_int(response.get("status")) or 0,
                error=str(error),
                time_ms=float(entry.get("time") or 0),
                size_bytes=_int(response.get("_transferSize")) or 0,
                resource_type=str(entry.get("_resourceType") or ""),
                step=_int(entry.get("_step")),
            )
        )
    return found


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def guard_snapshot(html: str) -> str:
    """A snapshot with the snapshot policy as its first element, whatever it holds.

    The capture already puts it there; the viewers add it again because a snapshot is
    the tested page's HTML, and a meta policy only governs what comes after it.
    """
    meta = f'<meta http-equiv="Content-Security-Policy" content="{SNAPSHOT_POLICY}">'
    doctype = _DOCTYPE.match(html)
    if doctype is None:
        return meta + html
    return html[: doctype.end()] + meta + html[doctype.end() :]


def kept_traces(case: CaseResult) -> dict[int, str]:
    """The artifact names of a case's kept traces, by attempt number."""
    found: dict[int, str] = {}
    for attempt in case.history:
        if attempt.trace:
            found[attempt.attempt] = attempt.trace
    # A result written before its attempt's summary still lists the zip as an artifact.
    for name in case.artifacts:
        if is_trace(name):
            match = _ATTEMPT_IN_NAME.search(name)
            if match is not None:
                found.setdefault(int(match.group(1)), name)
    return dict(sorted(found.items()))
