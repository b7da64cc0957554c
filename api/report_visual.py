"""The HTML report's view of a visual assertion: baseline, actual and diff side by side,
a compare view with a slider and a toggle, and the model's explanation next to it.

No script and no external asset: the view works under a Content-Security-Policy that
allows no script at all (and images only as ``data:``). The toggle is radio buttons
with ``:checked`` rules; the slider is a box over the actual screenshot showing the
baseline, whose width the reader drags (CSS ``resize``); both images are scaled with
container units so they stay aligned at any width. Each full-size picture is in the
page once; the side-by-side row shows the thumbnails.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from testfleet.artifacts import thumbnail_name
from testfleet.results import Analysis, StepResult, VisualResult

VISUAL_CSS = """
.visual{grid-column:1/-1;border:1px solid var(--line);border-radius:6px;padding:8px 12px;
margin:6px 0;background:#fff}.visual h4{margin:0 0 6px}.vside{display:flex;gap:10px;
flex-wrap:wrap}.vside figure{margin:0}.vside img{max-width:240px;max-height:160px;
border:1px solid var(--line);border-radius:4px}.vcmp{margin-top:8px}.vcmp input{position:absolute;
opacity:0}.vcmp label{display:inline-block;padding:2px 10px;border:1px solid var(--line);
border-radius:12px;margin:0 4px 6px 0;cursor:pointer;font-size:.85em}
.vcmp input:checked+label{background:#1f2328;color:#fff}.vcmp input:focus-visible+label{
outline:2px solid var(--run)}.vstage{position:relative;container-type:inline-size;
max-width:100%;border:1px solid var(--line);line-height:0}.vstage img{width:100cqw;
display:block}.vtop{position:absolute;top:0;left:0;height:100%;width:50%;overflow:hidden;
resize:horizontal;border-right:2px solid #fff;box-shadow:2px 0 0 #0008;min-width:8px;
max-width:100%}.vstage .vdiff{position:absolute;top:0;left:0;display:none}
.vcmp .m-base:checked~.vstage .vtop{width:100%;resize:none;border:0;box-shadow:none}
.vcmp .m-act:checked~.vstage .vtop{display:none}.vcmp .m-diff:checked~.vstage .vdiff{
display:block}.vcmp .m-slide:checked~.vstage::after{content:"drag the corner";position:absolute;
right:4px;bottom:4px;line-height:1.2;font-size:.75em;background:#fffd;padding:1px 4px}
.vfigures{font-variant-numeric:tabular-nums}.explain p{margin:4px 0}
.explain{border-left:4px solid var(--run);padding:4px 10px;margin:8px 0;background:#fbfbff}
.explain .verdict{font-weight:700}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class VisualBlocks:
    """Renders visual assertions, with images read through ``data`` (name -> data URI, or
    None when missing)."""

    def __init__(self, data: Callable[[str], str | None]) -> None:
        self._data = data
        self._count = 0

    def caption(self, visual: VisualResult) -> str:
        """One line: what the assertion found."""
        base = f'"{visual.name}" ({visual.viewport})'
        if visual.outcome == "created":
            return f"{base}: baseline created (v{visual.baseline_version})"
        if visual.outcome == "missing":
            return f"{base}: no baseline (the run required one: approve this screenshot)"
        figures = f"{visual.diff_ratio:.2%} ({visual.changed_px} px) changed"
        if visual.size_change:
            figures = f"size changed {visual.size_change}"
        limit = f"tolerance {visual.max_diff_ratio:.2%}, threshold {visual.threshold:g}"
        verb = "matches" if visual.outcome == "match" else "differs from"
        return f"{base} {verb} baseline v{visual.baseline_version}: {figures} ({limit})"

    def block(self, step: StepResult, explanation: Analysis | None) -> str:
        """The whole view of a mismatch; for other outcomes, the screenshot and a caption."""
        visual = step.visual
        assert visual is not None
        title = f"<h4>visual: {_e(self.caption(visual))}</h4>"
        region = ""
        if visual.region:
            x, y, w, h = visual.region
            region = f'<p class="dim vfigures">changed region: x={x} y={y}, {w}x{h} px</p>'
        if visual.outcome != "mismatch" or not (visual.baseline and visual.diff):
            shot = self._thumb(visual.actual, "screenshot") if visual.actual else ""
            return f'<div class="visual">{title}<div class="vside">{shot}</div></div>'
        pictures = ((visual.baseline, "baseline"), (visual.actual, "actual"), (visual.diff, "diff"))
        side = "".join(self._thumb(name, label) for name, label in pictures if name)
        parts = [
            f'<div class="visual">{title}{region}<div class="vside">{side}</div>',
            self._compare(visual),
        ]
        if explanation is not None:
            parts.append(explain(explanation))
        return "".join(parts) + "</div>"

    def _thumb(self, name: str, label: str) -> str:
        src = self._data(thumbnail_name(name)) or self._data(name)
        if src is None:
            return f"<figure><figcaption>{_e(label)}: {_e(name)} missing</figcaption></figure>"
        caption = f"<figcaption>{_e(label)}</figcaption>"
        return f'<figure><img src="{src}" alt="{_e(label)}">{caption}</figure>'

    def _compare(self, visual: VisualResult) -> str:
        names = [n for n in (visual.baseline, visual.actual, visual.diff) if n]
        if len(names) != 3:
            return '<p class="dim">compare view: a picture is missing</p>'
        baseline, actual, diff = (self._data(n) for n in names)
        if baseline is None or actual is None or diff is None:
            return '<p class="dim">compare view: a picture is missing</p>'
        self._count += 1
        group = f"vcmp{self._count}"
        modes = (
            ("m-slide", "slider"),
            ("m-base", "baseline"),
            ("m-act", "actual"),
            ("m-diff", "diff"),
        )
        radios = "".join(
            f'<input type="radio" class="{cls}" name="{group}" id="{group}-{cls}"'
            f'{" checked" if i == 0 else ""}><label for="{group}-{cls}">{label}</label>'
            for i, (cls, label) in enumerate(modes)
        )
        stage = (
            '<div class="vstage">'
            f'<img src="{actual}" alt="actual">'
            f'<div class="vtop"><img src="{baseline}" alt="baseline"></div>'
            f'<img class="vdiff" src="{diff}" alt="diff"></div>'
        )
        return f'<div class="vcmp">{radios}{stage}</div>'


def explain(analysis: Analysis) -> str:
    """The model's explanation of a diff (or why there is none)."""
    if analysis.status != "completed" or analysis.explanation is None:
        why = analysis.reason or "no explanation"
        return f'<div class="explain dim">AI explanation {_e(analysis.status)}: {_e(why)}</div>'
    e = analysis.explanation
    kind = "cosmetic" if e.cosmetic else "not only cosmetic"
    # Paragraphs, not a list: the report's step timeline styles every <li> inside it.
    items = "".join(
        f'<p class="change"><b>{_e(c.kind)}</b>: {_e(c.description)}'
        f"{' (' + _e(c.location) + ')' if c.location else ''}</p>"
        for c in e.changes
    )
    tokens = analysis.input_tokens + analysis.output_tokens
    cost = "cached (no call)" if analysis.cached else f"{tokens} tokens"
    return (
        f'<div class="explain"><p><span class="verdict">AI: {_e(e.verdict)}</span> '
        f"({_e(kind)}, confidence {e.confidence:.0%}) {_e(analysis.summary)}</p>"
        + items
        + f'<p class="dim">{_e(analysis.model or "model")}: {_e(cost)}; the verdict of the '
        "assertion is the comparison's, not the model's</p></div>"
    )
