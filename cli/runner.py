"""What ``testfleet run`` and ``watch`` do: submit, follow live, summarise, write reports.

Everything the server says (run ids, suite and test names, step labels, errors,
page text) is printed as plain ``rich.text.Text``, never parsed as rich markup:
``Press [/] to search`` must print as it is, not raise, and ``[link=...]`` must not
become a terminal hyperlink. Only the status marks below are markup. The reports
asked for are written before the summary is printed, so a terminal problem
cannot cost them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from api import report_markdown, report_quality, reports
from cli import fleet, junit_attachments, quarantined, rerun
from cli.interrupt import Interrupted, Interrupts
from cli.walltime import wall_time_lines
from testfleet import payloads
from testfleet.artifacts import artifact_url
from testfleet.client.http import ApiClient
from testfleet.client.ws import follow_link
from testfleet.constants import AI_NO_KEY, report_path
from testfleet.errors import InfrastructureError, NotFoundError, TestfleetError, UsageError
from testfleet.payloads import CaseEvent, CaseFinished, CaseProgress, CaseStarted, RunLabels
from testfleet.results import GOOD_STATUSES, SETTLED_RUN_STATUSES, RunMetadata, RunResult
from testfleet.settings import Settings
from testfleet.stream import CORRELATION_ID
from testfleet.suites.loader import submitted
from testfleet.suites.model import Suite

EXIT_OK, EXIT_FAILED = 0, 1
LABELS_POLL_S = 0.25
"""How often a finished run's labels are asked for while the archiver writes it."""
LABELLED_STATUSES = frozenset({"failed", "error", "flaky"})
"""Final statuses of the tests the archiver labels (a flaky test failed once)."""

_MARKS = {
    "passed": "[green]✓ passed[/]",
    "flaky": "[yellow]~ flaky[/]",
    "failed": "[red]✗ failed[/]",
    "error": "[red]! error[/]",
    "cancelled": "[dim]- cancelled[/]",
}


def _mark(status: str) -> Text:
    """A test status as printed: our own markup for the known ones, else the text as is."""
    mark = _MARKS.get(status)
    return Text.from_markup(mark) if mark is not None else Text(status)


class _StateColumn(ProgressColumn):
    """A bar's state: a ``Text`` (a status mark or server text), never parsed as markup."""

    def render(self, task: Task) -> Text:
        state = task.fields.get("state", "")
        return state if isinstance(state, Text) else Text(str(state))


@dataclass(frozen=True)
class Target:
    """Which server and key a command talks to."""

    api_url: str
    api_key: str | None

    @classmethod
    def resolve(cls, settings: Settings, server: str | None, api_key: str | None) -> Target:
        """--server/--key, else settings (TESTFLEET_SERVER / TESTFLEET_API_KEY), else the
        local fleet recorded by ``testfleet up``."""
        state = fleet.FleetState.load(settings.paths.fleet_file)
        url = server or settings.server or (state.api_url if state else None)
        key = api_key or settings.api_key
        if key is None and state is not None and (server is None or server == state.api_url):
            key = state.admin_key
        if url is None:
            raise UsageError(
                "no testfleet server to talk to: start the local fleet with `testfleet up`, "
                "or pass --server URL (and --key KEY)"
            )
        return cls(api_url=url.rstrip("/"), api_key=key)


@dataclass(frozen=True)
class Outputs:
    junit: str | None = None
    html: str | None = None
    json: str | None = None
    summary: str | None = None
    """Write the Markdown summary here (``--summary markdown FILE``)."""
    labels_wait_s: float = 0.0
    """How long to wait for the failures' labels once the run finished (0: not at all)."""
    a11y: str | None = None
    """Where to write the accessibility report (GitLab's format, ``api.report_quality``)."""

    @classmethod
    def chosen(
        cls,
        settings: Settings,
        junit: str | None,
        html: str | None,
        json: str | None,
        summary: tuple[str, str] | None,
        a11y: str | None = None,
    ) -> Outputs:
        """What ``--junit``, ``--html``, ``--json`` and ``--summary markdown FILE`` name;
        the labels are waited for as long as ``history.labels_wait_s`` says."""
        return cls(
            junit=junit,
            html=html,
            json=json,
            summary=summary[1] if summary else None,
            labels_wait_s=settings.history.labels_wait_s,
            a11y=a11y,
        )


@dataclass(frozen=True)
class Scheduling:
    """``--order``, ``--max-failures``, ``--last-failed``."""

    order: str | None = None
    max_failures: int | None = None
    last_failed: bool = False


def submit_and_follow(
    target: Target,
    suites: list[Suite],
    tags: set[str],
    name: str,
    outputs: Outputs,
    follow: bool = True,
    keep_running: bool = False,
    require_baselines: bool = False,
    trace: str | None = None,
    metadata: RunMetadata | None = None,
    scheduling: Scheduling | None = None,
) -> int:
    """Submit, follow and report; interrupted (SIGINT/SIGTERM), cancel the run unless
    ``keep_running``, write the reports so far and return 130/143. ``require_baselines``
    (``--ci``): a missing visual baseline fails its step. ``trace`` (``--trace``): every
    test's trace mode. ``metadata``: branch, commit, CI build... of the code tested, kept
    with the run."""
    body: dict[str, Any] = {
        "name": name,
        "tags": sorted(tags),
        "suites": [submitted(s) for s in suites],
    }
    if require_baselines:
        body["require_baselines"] = True
    if trace:
        body["trace"] = trace
    described = metadata.model_dump(exclude_none=True) if metadata is not None else {}
    if described:
        body["metadata"] = described
    console = Console(highlight=False)
    scheduling = scheduling or Scheduling()
    if scheduling.order:
        body["order"] = scheduling.order
    if scheduling.max_failures:
        body["max_failures"] = scheduling.max_failures
    if scheduling.last_failed:
        picked = rerun.pick(target.api_url, target.api_key, suites, metadata)
        console.print(Text(picked.said), soft_wrap=True)
        if picked.run_id is None or not picked.tests:
            return EXIT_OK
        body["only"] = picked.tests
        body["picked_from"] = picked.run_id
    run_id: str | None = None
    with Interrupts() as interrupts:
        try:
            # A signal during the submission waits for the answer: the run it creates
            # must be known to be cancelled.
            with interrupts.deferred():
                with ApiClient(target.api_url, target.api_key) as api:
                    answer = api.submit(body)
                run_id = str(answer["runId"])
                queued = f": {answer.get('total', '?')} test(s) queued"
                console.print(Text.assemble("run ", (run_id, "bold"), queued))
            if answer.get("links", {}).get("dashboard"):
                console.print(Text.assemble("watch it live: ", str(answer["links"]["dashboard"])))
            if not follow:
                console.print(Text(f"follow it with: testfleet watch {run_id}"))
                return EXIT_OK
            events_url = answer.get("links", {}).get("events")
            return follow_and_report(target, run_id, outputs, events_url=events_url)
        except Interrupted as stop:
            if run_id is None:
                _say_interrupted("interrupted before the run was submitted")
                return stop.exit_code
            return stop_following(target, run_id, outputs, stop, cancel=not keep_running)


def watch(target: Target, run_id: str, outputs: Outputs) -> int:
    """Follow a run to its end; interrupted, stop following (the run goes on): 130/143."""
    with Interrupts():
        try:
            # Inside the try: a signal right after this line is printed stops following
            # like any other (outside, it would reach click, which says "Aborted!", exit 1).
            Console(highlight=False).print(
                Text(f"following run {run_id} (Ctrl-C stops following; the run goes on)")
            )
            return follow_and_report(target, run_id, outputs)
        except Interrupted as stop:
            return stop_following(target, run_id, outputs, stop, cancel=False, watching=True)


def stop_following(
    target: Target,
    run_id: str,
    outputs: Outputs,
    stop: Interrupted,
    *,
    cancel: bool,
    watching: bool = False,
) -> int:
    """After an interrupt: cancel the run (or not), write the reports so far, say so in
    one line; returns the exit code (130 for SIGINT, 143 for SIGTERM)."""
    if watching:
        what = f"stopped following run {run_id}; it goes on (testfleet watch {run_id})"
    elif not cancel:
        what = f"interrupted: run {run_id} goes on; follow it again with: testfleet watch {run_id}"
    else:
        what = f"interrupted: cancelled run {run_id}"
    progress = ""
    written: list[str] = []
    try:
        with ApiClient(target.api_url, target.api_key) as api:
            if cancel and not watching:
                try:
                    api.cancel(run_id)
                except TestfleetError as exc:
                    what = (
                        f"interrupted: could not cancel run {run_id} ({exc}); "
                        f"cancel it with: testfleet cancel {run_id}"
                    )
            final = api.get_run(run_id)
            result = RunResult.model_validate(final)
            done = sum(1 for t in result.tests if t.is_final)
            progress = f"; {done} of {len(result.tests)} test(s) had finished"
            links = summary_links(target.api_url, run_id, final)
            written = [path for _, path in _write_outputs(api, result, outputs, links=links)]
    except TestfleetError as exc:
        progress = f"; no reports written ({exc})"
    reports = f"; reports so far: {', '.join(written)}" if written else ""
    _say_interrupted(what + progress + reports)
    return stop.exit_code


def _say_interrupted(line: str) -> None:
    Console(stderr=True, highlight=False).print(Text(line), soft_wrap=True)


def follow_and_report(
    target: Target, run_id: str, outputs: Outputs, events_url: str | None = None
) -> int:
    console = Console(highlight=False)
    with ApiClient(target.api_url, target.api_key) as api:
        run = api.get_run(run_id)
        url = events_url or run.get("links", {}).get("events")
        if url is None:
            raise UsageError(f"the server did not say where run {run_id}'s events are")
        if run.get("status") not in SETTLED_RUN_STATUSES:
            _follow(console, url, target.api_key, run)
        final = api.get_run(run_id)
        result = RunResult.model_validate(final)
        labels = wait_for_labels(api, result, outputs.labels_wait_s)
        spared = quarantined.fetch(api, result)
        links = summary_links(target.api_url, run_id, final)
        written = _write_outputs(api, result, outputs, labels, spared, links)
    _summary(console, result, labels, spared)
    for what, path in written:
        console.print(Text(f"{what}: {path}"))
    return quarantined.exit_code(result, spared)


def _follow(console: Console, url: str, api_key: str | None, run: dict[str, Any]) -> None:
    """Progress bars per test on a terminal; one line per finished test otherwise."""
    tests = {t["case_id"]: t for t in run.get("tests", [])}
    live = console.is_terminal
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}", markup=False),
        _StateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not live,
    )
    bars: dict[str, TaskID] = {}
    for case_id, test in tests.items():
        bars[case_id] = progress.add_task(
            f"{test['suite']} › {test['name']}",
            total=max(1, test.get("total_steps") or 1),
            state=Text("queued"),
            start=False,
        )
    with progress:
        for event in follow_link(url, api_key):
            payload = _case_payload(event)
            case_id = event.get(CORRELATION_ID) or (payload.testId if payload else "")
            bar = bars.get(case_id or "")
            if payload is None or bar is None:
                continue
            if isinstance(payload, CaseStarted):
                progress.start_task(bar)
                progress.update(bar, state=Text(f"running (attempt {payload.attempt})"))
            elif isinstance(payload, CaseProgress):
                p = payload.progress
                progress.update(
                    bar, total=p.totalSteps, completed=p.stepNumber, state=Text(p.currentStep)
                )
            elif isinstance(payload, CaseFinished):
                status, error = payload.result.status, payload.result.error
                task = progress.tasks[bar]
                progress.update(bar, completed=task.total, state=_mark(status))
                progress.stop_task(bar)
                if not live:
                    test = tests[case_id or ""]
                    line = Text.assemble(_mark(status), f" {test['suite']} › {test['name']}")
                    console.print(line + Text(f" — {error}" if error else ""), soft_wrap=True)


def wait_for_labels(api: ApiClient, run: RunResult, wait_s: float) -> RunLabels | None:
    """The labels of the finished run's failures, once the archiver wrote them, waiting
    up to ``wait_s``; None when no test failed, when they did not come in time, or when
    the server has no history database (it answers 503, or 404 for an older server):
    the reports are then made without them."""
    if wait_s <= 0 or not any(t.status in LABELLED_STATUSES for t in run.tests):
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            answer = api.run_labels(run.runId)
        except (InfrastructureError, NotFoundError):
            return None
        if answer.get("archived"):
            return RunLabels.model_validate(answer)
        if time.monotonic() >= deadline:
            return None
        time.sleep(LABELS_POLL_S)


def _case_payload(event: dict[str, Any]) -> CaseEvent | None:
    """A case event's payload through its model (``testfleet.payloads``); None for other
    events and for a payload this CLI cannot read (a server of another version: that
    test's bar waits for the run's result instead)."""
    try:
        payload = payloads.parse(str(event.get("type")), event.get("payload") or {})
    except payloads.PayloadError:
        return None
    return payload if isinstance(payload, CaseEvent) else None


def _summary(
    console: Console,
    run: RunResult,
    labels: RunLabels | None = None,
    spared: quarantined.Quarantined | None = None,
) -> None:
    labelled = {t.testId: t.labels for t in labels.tests} if labels is not None else {}
    table = Table(title=Text(f"run {run.runId}: {run.status}"), title_justify="left")
    columns = ("suite", "test", "status", "attempts", "time", "failure")
    for column in columns + (("labels",) if labels is not None else ()):
        table.add_column(column)
    for case in run.tests:
        failure = ""
        if case.error:
            failure = f"step {case.failed_step}: {case.error}" if case.failed_step else case.error
        cells = [
            Text(case.suite),
            Text(case.name),
            _mark(case.status),
            Text(str(case.attempts)),
            Text(f"{case.duration_ms / 1000:.1f}s"),
            Text(failure),
        ]
        if labels is not None:
            cells.append(Text(", ".join(labelled.get(case.case_id, []))))
        table.add_row(*cells)
    console.print(table)
    if labels is not None:
        _clusters(console, run, labels)
    _visual_checks(console, run)
    _quality_checks(console, run)
    _ai_findings(console, run)
    quarantined.print_forgiven(console, run, spared or {})
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
    good = sum(n for s, n in run.counts.items() if s in GOOD_STATUSES)
    console.print(Text(f"{good}/{len(run.tests)} passed ({counts})"))
    for line in wall_time_lines(run):
        console.print(Text(line), soft_wrap=True)


def _clusters(console: Console, run: RunResult, labels: RunLabels) -> None:
    """ "N failures, M causes", and a line per cause shared by several tests."""
    failures = sum(c.count for c in labels.clusters)
    if not failures:
        return
    console.print(Text(f"{failures} failure(s), {len(labels.clusters)} cause(s)"))
    names = {c.case_id: f"{c.suite} › {c.name}" for c in run.tests}
    for cluster in labels.clusters:
        if cluster.count > 1:
            tests = ", ".join(names.get(t, t) for t in cluster.tests)
            line = f"  {cluster.count} × {cluster.error or cluster.signature}: {tests}"
            console.print(Text(line), soft_wrap=True)


def _visual_checks(console: Console, run: RunResult) -> None:
    """A line per visual assertion that created a baseline, lacked one or differed."""
    for case in run.tests:
        for step in case.steps:
            v = step.visual
            if v is None or v.outcome == "match":
                continue
            head = f'visual › {case.suite} › {case.name} › step {step.index} "{v.name}": '
            if v.outcome == "created":
                text = f"baseline created (v{v.baseline_version}, {v.viewport})"
            elif v.outcome == "missing":
                text = f"no baseline (--ci); approve: testfleet baselines approve {run.runId}"
            else:
                where = f" at {v.region}" if v.region else ""
                text = (
                    f"{v.diff_ratio:.2%} of pixels differ{where} ({step.status}); "
                    f"diff: {artifact_url(run.runId, v.diff) if v.diff else '-'}"
                )
            console.print(head + text, markup=False, soft_wrap=True)


def _quality_checks(console: Console, run: RunResult) -> None:
    """A line per accessibility check that found new violations (and how to accept them),
    and per performance check over budget."""
    for case in run.tests:
        for step in case.steps:
            head = f"{case.suite} › {case.name} › step {step.index}"
            found = step.accessibility
            if found is not None and found.new:
                rules = ", ".join(
                    f"{v.rule} ({v.impact})"
                    for v in found.violations
                    if any(n.status == "new" for n in v.nodes)
                )
                text = (
                    f'accessibility › {head} "{found.name}": {found.new} new: {rules}; '
                    f"accept: testfleet baselines approve {run.runId}"
                )
                console.print(text, markup=False, soft_wrap=True)
            measured = step.performance
            if measured is not None and measured.over:
                over = ", ".join(
                    f"{m} {measured.metrics[m]:g} > {measured.budgets[m]:g}"
                    if m in measured.metrics
                    else f"{m} not measured"
                    for m in measured.over
                )
                console.print(f"performance › {head}: {over}", markup=False, soft_wrap=True)


def _ai_findings(console: Console, run: RunResult) -> None:
    """A line per AI analysis under its test, and one per issue the model found; analyses
    skipped for want of a key are said once for the whole run."""
    no_key = 0
    for case in run.tests:
        shown = [a for a in case.ai if not (a.status == "skipped" and a.reason == AI_NO_KEY)]
        no_key += len(case.ai) - len(shown)
        if not shown:
            continue
        console.print(f"AI › {case.suite} › {case.name}", markup=False)
        for a in shown:
            where = f"step {a.step} " if a.step else ""
            head = f"  {a.analysis_type} ({where}{a.screenshot}): "
            if a.status != "completed":
                console.print(f"{head}{a.status}: {a.reason}", markup=False, soft_wrap=True)
                continue
            note = "cached" if a.cached else f"{a.input_tokens + a.output_tokens} tokens"
            console.print(f"{head}{a.summary} [{note}]", markup=False, soft_wrap=True)
            if a.explanation is not None:
                e = a.explanation
                kind = "cosmetic" if e.cosmetic else "not cosmetic"
                console.print(
                    f"    = {e.verdict} ({kind}, confidence {e.confidence:.0%})", markup=False
                )
                for change in e.changes:
                    at = f" at {change.location}" if change.location else ""
                    console.print(f"    - {change.kind}: {change.description}{at}", markup=False)
            for issue in a.issues:
                at = f" at {issue.location}" if issue.location else ""
                console.print(f"    - {issue.severity}: {issue.description}{at}", markup=False)
            for rec in a.recommendations:
                console.print(f"    > {rec.title} ({rec.confidence:.0%})", markup=False)
    if no_key:
        console.print(
            f"AI analysis skipped for {no_key} screenshot(s) of this run: {AI_NO_KEY}",
            markup=False,
            soft_wrap=True,
        )


def summary_links(api_url: str, run_id: str, run: dict[str, Any]) -> dict[str, str]:
    """The summary's links: the run's dashboard view (as the server gave it) and its
    HTML report on the API (absolute)."""
    links = {"dashboard": str(run.get("links", {}).get("dashboard") or "")}
    links["report"] = api_url.rstrip("/") + report_path(run_id)
    return {what: url for what, url in links.items() if url}


def _write_outputs(
    api: ApiClient,
    run: RunResult,
    outputs: Outputs,
    labels: RunLabels | None = None,
    spared: quarantined.Quarantined | None = None,
    links: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Write the reports asked for (with the failures' ``labels`` when known, and each
    test marked ``quarantined`` in the JSON result; JUnit with the screenshots of the
    tests that did not pass written beside it); returns (what, path) of each, to be
    announced."""
    written: list[tuple[str, str]] = []
    if outputs.junit:
        shots = junit_attachments.save_screenshots(api, run, outputs.junit)
        xml = reports.junit_xml(run, labels, shots)
        Path(outputs.junit).write_text(xml, encoding="utf-8")
        written.append(("JUnit XML", outputs.junit))
        if shots:
            written.append(("screenshots", junit_attachments.screenshots_dir(outputs.junit)))
    if outputs.summary:
        text = report_markdown.markdown_summary(run, labels, links)
        Path(outputs.summary).write_text(text, encoding="utf-8")
        written.append(("Markdown summary", outputs.summary))
    if outputs.json:
        import json

        result = quarantined.mark(reports.json_result(run, labels), run, spared or {})
        Path(outputs.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
        written.append(("JSON result", outputs.json))
    if outputs.html:
        Path(outputs.html).write_bytes(api.get_bytes(report_path(run.runId)))
        written.append(("HTML report", outputs.html))
    if outputs.a11y:
        import json

        report = report_quality.gitlab_a11y_report(run)
        Path(outputs.a11y).write_text(json.dumps(report, indent=2), encoding="utf-8")
        written.append(("accessibility report", outputs.a11y))
    return written
