"""The trace view as HTML: the offline ``index.html`` of a trace zip, and the same view
inlined into the HTML report.

One step timeline; choosing a step shows its error, screenshot, DOM snapshots
(after the step; before the action of a failing step), the console lines and the
requests of that step, errors and failed requests highlighted. The view has no
script at all (a radio button per step and CSS show the chosen step), so it works
from the file system and under a policy that forbids every script.

Snapshots are the tested page's HTML and are never trusted: each is shown only in
an ``<iframe sandbox>`` (no ``allow-scripts``, no ``allow-same-origin``: nothing
runs, and it has an opaque origin), and carries ``SNAPSHOT_POLICY`` as its first
element (nothing loads from any network). ``index.html`` carries its own policy:
no script, images and frames from its folder only.
"""

from __future__ import annotations

import base64
import html
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from testfleet.evidence.manifest import INDEX_MEMBER, MANIFEST_MEMBER
from testfleet.evidence.viewer_model import (
    ConsoleLine,
    Request,
    Trace,
    guard_snapshot,
    parse,
)

INDEX_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-src 'self'; base-uri 'none'; form-action 'none'"
)
"""``index.html``'s own policy: no script; screenshots and snapshot frames from its folder."""
MAX_ROWS_PER_STEP = 300
"""Console lines, and requests, listed per step (the rest are in the zip's files)."""
MAX_TEXT_CHARS = 2_000
"""Characters of one console line or URL shown (the rest are in the zip's files)."""

Snapshot = tuple[str, str]
"""How a snapshot frame gets its document: ``("src", path)`` or ``("srcdoc", html)``."""


@dataclass(frozen=True)
class Media:
    """Where the view's pictures and snapshots come from: files beside ``index.html``,
    or data inlined into one page (the report)."""

    image: Callable[[str], str | None]
    """A screenshot's member path -> the ``<img src>``, or None when not available."""
    snapshot: Callable[[str], Snapshot | None]
    """A snapshot's member path -> how its frame loads it, or None when not available."""
    missing: str = "not in this trace"
    """Why a listed screenshot or snapshot is not shown."""
    image_missing: str | None = None
    """Why a listed screenshot is not shown, when not ``missing``."""


def linked_media(members: Mapping[str, bytes] | None = None) -> Media:
    """Members by relative path (``index.html`` inside the trace folder); with ``members``,
    only those present."""

    def present(path: str) -> bool:
        return members is None or path in members

    return Media(
        image=lambda path: path if present(path) else None,
        snapshot=lambda path: ("src", path) if present(path) else None,
    )


def inline_media(trace: Trace, budget_bytes: int, *, screenshots_shown: str = "") -> Media:
    """Members inlined (screenshots as ``data:`` URIs, snapshots as ``srcdoc``), at most
    ``budget_bytes`` of them: the failing steps' first, then the others in order.

    ``screenshots_shown``: where the page already shows the screenshots (the report
    does, each once with its thumbnail); then they are not inlined a second time and
    the view says where they are."""
    chosen: set[str] = set()
    left = budget_bytes
    for path in _by_priority(trace.steps):
        if screenshots_shown and path.endswith(".png"):
            continue
        size = len(trace.members.get(path, b""))
        if 0 < size <= left:
            chosen.add(path)
            left -= size

    def image(path: str) -> str | None:
        if path not in chosen:
            return None
        return "data:image/png;base64," + base64.b64encode(trace.members[path]).decode("ascii")

    def snapshot(path: str) -> Snapshot | None:
        if path not in chosen:
            return None
        return "srcdoc", guard_snapshot(trace.members[path].decode("utf-8", "replace"))

    return Media(
        image,
        snapshot,
        missing=f"left out: the report inlines {budget_bytes} bytes",
        image_missing=screenshots_shown or None,
    )


def _by_priority(steps: list[dict[str, Any]]) -> list[str]:
    failing = [s for s in steps if s.get("status") in ("failed", "error")]
    others = [s for s in steps if s not in failing]
    paths = []
    for step in failing + others:
        for key in ("snapshotBefore", "snapshotAfter", "screenshot"):
            if isinstance(step.get(key), str):
                paths.append(step[key])
    return paths


@cache
def viewer_css() -> str:
    """The view's stylesheet (package data)."""
    return files("testfleet.evidence").joinpath("viewer.css").read_text("utf-8")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + " …"


def render_view(trace: Trace, media: Media, view_id: str) -> str:
    """The trace view of one attempt, as an HTML fragment (needs ``viewer_css()``).

    ``view_id`` must be unique in the page (it names the step buttons)."""
    steps = trace.steps
    man = trace.manifest
    found = man.get("counts")
    counts: dict[str, Any] = found if isinstance(found, dict) else {}
    head = (
        f'<p class="tf-head"><b>{_e(man.get("testName", ""))}</b> · attempt '
        f"{_e(man.get('attempt', '?'))} · {_e(man.get('status', ''))} · trace "
        f"{_e(man.get('mode', ''))} · {_e(counts.get('consoleErrors', 0))} console error(s), "
        f"{_e(counts.get('failedRequests', 0))} failed request(s) of "
        f"{_e(counts.get('requests', 0))}</p>"
    )
    chosen = _chosen_step(steps)
    rows = f"grid-template-rows: auto repeat({max(1, len(steps))}, min-content) 1fr"
    parts = [f'<div class="tf-trace" id="{_e(view_id)}" style="{rows}">', head]
    if not steps:
        parts.append('<p class="tf-dim">no step was recorded in this trace</p>')
    for position, step in enumerate(steps):
        button = f"{view_id}-s{position}"
        checked = " checked" if position == chosen else ""
        parts.append(
            f'<input type="radio" class="tf-pick" name="{_e(view_id)}" id="{_e(button)}"{checked}>'
        )
        parts.append(_step_label(trace, step, button))
        parts.append(_step_panel(trace, step, media))
    parts.append("</div>")
    return "\n".join(parts)


def _chosen_step(steps: list[dict[str, Any]]) -> int:
    """The step shown first: the failing one, else the last."""
    for position, step in enumerate(steps):
        if step.get("status") in ("failed", "error"):
            return position
    return max(0, len(steps) - 1)


def _step_label(trace: Trace, step: Mapping[str, Any], button: str) -> str:
    status = str(step.get("status", ""))
    failed = status in ("failed", "error")
    errors = _int(step.get("consoleErrors"))
    failures = _int(step.get("failedRequests"))
    if trace.console or trace.requests:
        errors = sum(1 for c in trace.step_console(step) if c.level == "error")
        failures = sum(1 for r in trace.step_requests(step) if r.failed)
    marks = []
    if errors:
        marks.append(f'<span class="tf-bad">{errors} console error(s)</span>')
    if failures:
        marks.append(f'<span class="tf-bad">{failures} failed request(s)</span>')
    took = _duration(step)
    return (
        f'<label for="{_e(button)}" class="tf-step{" tf-failed" if failed else ""}" '
        f'data-step="{_e(step.get("index", ""))}">'
        f"{_e(step.get('index', ''))}. {_e(step.get('name', ''))} "
        f'<span class="tf-dim">{_e(step.get("type", ""))} · '
        f'<span class="{"tf-bad" if failed else ""}">{_e(status)}</span>{took}</span>'
        f'<span class="tf-marks">{" · ".join(marks)}</span></label>'
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _duration(step: Mapping[str, Any]) -> str:
    start, end = step.get("startedAt"), step.get("endedAt")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return f" · {int(end - start)} ms"
    return ""


def _step_panel(trace: Trace, step: Mapping[str, Any], media: Media) -> str:
    index = _e(step.get("index", ""))
    out = [f'<section class="tf-panel" data-step="{index}">']
    out.append(f"<h4>step {index}: {_e(step.get('name', ''))}</h4>")
    if step.get("error"):
        out.append(f'<pre class="tf-error">{_e(_clip(str(step["error"])))}</pre>')
    shot = step.get("screenshot")
    if isinstance(shot, str):
        src = media.image(shot)
        if src is None:
            why = media.image_missing or media.missing
            out.append(f'<p class="tf-dim">screenshot {_e(shot)}: {_e(why)}</p>')
        else:
            out.append(f'<img class="tf-shot" src="{_e(src)}" alt="step {index} screenshot">')
    frames = [
        _frame(media, step.get(key), caption, index)
        for key, caption in (("snapshotBefore", "DOM before"), ("snapshotAfter", "DOM after"))
        if isinstance(step.get(key), str)
    ]
    if frames:
        out.append(f'<div class="tf-doms">{"".join(frames)}</div>')
    out.append(_console_table(trace, step))
    out.append(_network_table(trace, step))
    if step.get("status") in ("failed", "error"):
        out.append(_earlier(trace, step))
    out.append("</section>")
    return "\n".join(out)


def _frame(media: Media, path: object, caption: str, index: str) -> str:
    found = media.snapshot(str(path))
    if found is None:
        return f'<p class="tf-dim">{_e(caption)} ({_e(path)}): {_e(media.missing)}</p>'
    attribute, value = found
    # sandbox="" : no script, no same origin, no forms, no popups, no top navigation.
    return (
        f'<figure class="tf-dom"><figcaption>{_e(caption)}</figcaption>'
        f'<iframe sandbox="" referrerpolicy="no-referrer" loading="lazy" '
        f'title="step {index}: {_e(caption)}" {attribute}="{_e(value)}"></iframe></figure>'
    )


def _console_table(trace: Trace, step: Mapping[str, Any]) -> str:
    if not trace.console:
        n = _int(step.get("consoleErrors"))
        return f'<p class="tf-dim">console: {n} error(s); the lines are in console.jsonl</p>'
    lines = trace.step_console(step)
    if not lines:
        return '<p class="tf-dim">console: nothing in this step</p>'
    rows = "".join(_console_row(c) for c in lines[:MAX_ROWS_PER_STEP])
    more = _more(len(lines), "console.jsonl")
    return (
        f'<table class="tf-table tf-console"><caption>console ({len(lines)})</caption>'
        '<tr><th class="tf-narrow">level</th><th>message</th><th class="tf-narrow">source'
        f"</th></tr>{rows}</table>{more}"
    )


def _console_row(line: ConsoleLine) -> str:
    kind = {"error": ' class="tf-row-bad"', "warning": ' class="tf-row-warn"'}.get(line.level, "")
    where = f'<br><span class="tf-dim">{_e(_clip(line.where))}</span>' if line.where else ""
    return (
        f"<tr{kind}><td>{_e(line.level)}</td><td>{_e(_clip(line.text))}{where}</td>"
        f"<td>{_e(line.source)}</td></tr>"
    )


def _network_table(trace: Trace, step: Mapping[str, Any]) -> str:
    if not trace.requests:
        n = _int(step.get("failedRequests"))
        return (
            f'<p class="tf-dim">network: {n} failed request(s); the requests are in trace.har</p>'
        )
    requests = trace.step_requests(step)
    if not requests:
        return '<p class="tf-dim">network: no request in this step</p>'
    rows = "".join(_request_row(r) for r in requests[:MAX_ROWS_PER_STEP])
    more = _more(len(requests), "trace.har")
    return (
        f'<table class="tf-table tf-network"><caption>network ({len(requests)})</caption>'
        '<tr><th class="tf-narrow">method</th><th class="tf-narrow">status</th><th>URL</th>'
        f'<th class="tf-narrow">time</th><th class="tf-narrow">size</th></tr>{rows}</table>{more}'
    )


def _request_row(request: Request) -> str:
    status = str(request.status or "") + (f" {request.error}" if request.error else "")
    kind = ' class="tf-row-bad"' if request.failed else ""
    return (
        f"<tr{kind}><td>{_e(request.method)}</td><td>{_e(status or 'no response')}</td>"
        f"<td>{_e(_clip(request.url))}</td><td>{request.time_ms:.0f} ms</td>"
        f"<td>{request.size_bytes} B</td></tr>"
    )


def _earlier(trace: Trace, step: Mapping[str, Any]) -> str:
    """A failing step's view of what went wrong before it in the attempt."""
    errors = trace.errors_before(step)[-MAX_ROWS_PER_STEP:]
    failures = trace.failures_before(step)[-MAX_ROWS_PER_STEP:]
    out = []
    if errors:
        rows = "".join(_console_row(c) for c in errors)
        out.append(
            '<table class="tf-table tf-console tf-earlier"><caption>console errors earlier in '
            f"this attempt ({len(errors)})</caption>{rows}</table>"
        )
    if failures:
        rows = "".join(_request_row(r) for r in failures)
        out.append(
            '<table class="tf-table tf-network tf-earlier"><caption>failed requests earlier in '
            f"this attempt ({len(failures)})</caption>{rows}</table>"
        )
    return "".join(out)


def _more(n: int, where: str) -> str:
    if n <= MAX_ROWS_PER_STEP:
        return ""
    return f'<p class="tf-dim">{n - MAX_ROWS_PER_STEP} more in {where}</p>'


def _json_data(value: object) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _page(title: str, body: str, data: object | None = None) -> str:
    embedded = ""
    if data is not None:
        embedded = f'<script type="application/json" id="trace-data">{_json_data(data)}</script>\n'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{INDEX_POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{viewer_css()}</style>\n"
        f"{embedded}</head><body>\n{body}\n</body></html>\n"
    )


def render_index(manifest: Mapping[str, Any], members: Mapping[str, bytes] | None = None) -> str:
    """A trace's offline viewer (its ``index.html``): one self-contained page, no script,
    ``trace.json`` embedded as ``<script type="application/json" id="trace-data">``,
    screenshots and snapshots loaded by relative path.

    ``members``, when given, are the zip's other members: the console lines and requests
    are then listed per step (without them, the view gives the counts only)."""
    trace = parse({**(members or {}), MANIFEST_MEMBER: json.dumps(dict(manifest)).encode()})
    title = f"trace · {manifest.get('testName', '')} · attempt {manifest.get('attempt', '?')}"
    body = render_view(trace, linked_media(members), "trace")
    return _page(title, body, data=dict(manifest))


def render_attempts_index(manifests: Iterable[Mapping[str, Any]]) -> str:
    """The top ``index.html`` of a zip with several attempts (``attempt-<N>/`` folders)."""
    items = []
    name = ""
    for manifest in manifests:
        n = _e(manifest.get("attempt", "?"))
        name = str(manifest.get("testName", name))
        items.append(
            f'<li><a href="attempt-{n}/{INDEX_MEMBER}">attempt {n}</a> · '
            f"{_e(manifest.get('status', ''))} · {len(manifest.get('steps') or [])} step(s)</li>"
        )
    body = f'<h1>{_e(name)}</h1><ul class="tf-attempts">{"".join(items)}</ul>'
    return _page(f"traces · {name}", body)


def bundle_attempts(zips: Mapping[int, Mapping[str, bytes]]) -> bytes:
    """One zip with every attempt's members under ``attempt-<N>/`` and a top index."""
    buffer = io.BytesIO()
    manifests = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for attempt, members in sorted(zips.items()):
            manifests.append(parse(members).manifest)
            for path, body in members.items():
                out.writestr(f"attempt-{attempt}/{path}", body)
        out.writestr(INDEX_MEMBER, render_attempts_index(manifests))
    return buffer.getvalue()


def render_trace(members: Mapping[str, bytes]) -> str:
    """``index.html`` for one attempt's members, with its console lines and requests."""
    return render_index(parse(members).manifest, members)
