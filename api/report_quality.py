"""Reports of accessibility and page-speed assertions: their view in the HTML report, their
JUnit properties, and the GitLab accessibility report (``testfleet run --a11y-report``).

The GitLab report is the pa11y-ci JSON GitLab reads from
``artifacts:reports:accessibility`` (its merge request widget compares it with the
target branch's): ``total``, ``passes``, ``errors`` and per page URL the issues, each
with pa11y's fields (``code``: the axe-core rule, ``type`` ``error``/``typeCode`` 1,
``message``, ``context``: the element's HTML, ``selector``, ``runner: axe``,
``runnerExtras``: impact, description, help URL). Every violation is an error there,
accepted or not (GitLab shows what the page has); a page checked without any counts as
a pass.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from testfleet.results import AccessibilityResult, PerformanceResult, RunResult, StepResult

QUALITY_CSS = """
.a11y,.perf{grid-column:1/-1;border:1px solid var(--line);border-radius:6px;padding:8px 12px;
margin:6px 0;background:#fff}.a11y h4,.perf h4{margin:0 0 6px}.a11y details{margin:4px 0}
.a11y .imp{font-size:.75em;font-weight:700;padding:1px 7px;border-radius:10px;color:#fff}
.i-critical{background:#a40e26}.i-serious{background:var(--bad)}.i-moderate{background:var(--flaky)}
.i-minor{background:var(--muted)}.a11y code{word-break:break-all}.n-new{color:var(--bad)}
.n-accepted,.n-reported{color:var(--muted)}.a11y figure{margin:4px 0}.a11y img{max-width:320px;
border:1px solid var(--line)}.perf .over{color:var(--bad);font-weight:700}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def caption(found: AccessibilityResult) -> str:
    """One line: what the check found."""
    nodes = [n for v in found.violations for n in v.nodes]
    counts = {s: sum(n.status == s for n in nodes) for s in ("new", "accepted", "reported")}
    base = f"baseline v{found.baseline_version}" if found.baseline_version else "no baseline yet"
    fixed = f", {len(found.fixed)} fixed" if found.fixed else ""
    return (
        f'"{found.name}": {len(found.violations)} rule(s) broken; {counts["new"]} new, '
        f"{counts['accepted']} accepted, {counts['reported']} below {found.fail_on} "
        f"({base}{fixed}; axe-core {found.axe_version})"
    )


def a11y_block(found: AccessibilityResult, figure: Callable[[str, str], str]) -> str:
    """The violations, most severe first, each with its elements (``figure(name,
    caption)``: a screenshot as the report shows one)."""
    items = []
    for v in found.violations:
        nodes = []
        for n in v.nodes:
            shot = figure(n.screenshot, f"{v.rule}: {n.target}") if n.screenshot else ""
            nodes.append(
                f'<li><span class="n-{n.status}">{_e(n.status)}</span> '
                f"<code>{_e(n.target)}</code><br><code>{_e(n.html)}</code>"
                f"<pre>{_e(n.summary)}</pre>{shot}</li>"
            )
        items.append(
            f"<details{' open' if any(n.status == 'new' for n in v.nodes) else ''}><summary>"
            f'<span class="imp i-{v.impact}">{_e(v.impact)}</span> <b>{_e(v.rule)}</b>: '
            f'{_e(v.help)} <a href="{_e(v.help_url)}">how to fix</a></summary>'
            f'<p class="dim">{_e(v.description)}</p><ul>{"".join(nodes)}</ul></details>'
        )
    fixed = (
        f'<p class="dim">fixed since the baseline: {_e(", ".join(found.fixed))}</p>'
        if found.fixed
        else ""
    )
    return (
        f'<div class="a11y"><h4>Accessibility: {_e(caption(found))}</h4>'
        f'<p class="dim">{_e(found.url)}</p>{"".join(items)}{fixed}</div>'
    )


def perf_block(measured: PerformanceResult) -> str:
    """The metrics (medians), each beside its budget."""
    runs = len(measured.runs)
    rows = []
    for metric, value in measured.metrics.items():
        budget = measured.budgets.get(metric)
        over = ' class="over"' if metric in measured.over else ""
        limit = f"{budget:g}" if budget is not None else ""
        rows.append(f"<tr{over}><td>{_e(metric)}</td><td>{value:g}</td><td>{limit}</td></tr>")
    missing = [m for m in measured.over if m not in measured.metrics]
    note = f'<p class="over">not measured: {_e(", ".join(missing))}</p>' if missing else ""
    what = f"median of {runs} loads" if runs > 1 else "one load"
    return (
        f'<div class="perf"><h4>Performance ({what})</h4><p class="dim">{_e(measured.url)}</p>'
        "<table><tr><th>metric</th><th>value</th><th>budget</th></tr>"
        f"{''.join(rows)}</table>{note}</div>"
    )


def junit_properties(step: StepResult) -> list[tuple[str, str]]:
    """``a11y.step<N>.*`` and ``performance.step<N>.<metric>`` properties of a step."""
    out: list[tuple[str, str]] = []
    if step.accessibility is not None:
        key = f"a11y.step{step.index}"
        found = step.accessibility
        out += [
            (f"{key}.name", found.name),
            (f"{key}.new", str(found.new)),
            (f"{key}.rules", " ".join(f"{v.rule}:{v.impact}" for v in found.violations)),
        ]
    if step.performance is not None:
        key = f"performance.step{step.index}"
        out += [(f"{key}.{m}", f"{v:g}") for m, v in step.performance.metrics.items()]
        if step.performance.over:
            out.append((f"{key}.over", " ".join(step.performance.over)))
    return out


def gitlab_a11y_report(run: RunResult) -> dict[str, Any]:
    """Every accessibility check of the run as GitLab's accessibility report (see the
    module docstring)."""
    results: dict[str, list[dict[str, Any]]] = {}
    checked: set[str] = set()
    for case in run.tests:
        for step in case.steps:
            found = step.accessibility
            if found is None:
                continue
            checked.add(found.url)
            issues = results.setdefault(found.url, [])
            for v in found.violations:
                for n in v.nodes:
                    issues.append(
                        {
                            "code": v.rule,
                            "type": "error",
                            "typeCode": 1,
                            "message": f"{v.help} ({v.impact})",
                            "context": n.html,
                            "selector": n.target,
                            "runner": "axe",
                            "runnerExtras": {
                                "description": v.description,
                                "impact": v.impact,
                                "help": v.help,
                                "helpUrl": v.help_url,
                                "status": n.status,
                                "test": f"{case.suite} › {case.name}",
                            },
                        }
                    )
    errors = sum(len(issues) for issues in results.values())
    return {
        "total": errors,
        "passes": sum(1 for url in checked if not results.get(url)),
        "errors": errors,
        "results": results,
    }
