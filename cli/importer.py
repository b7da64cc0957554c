"""``testfleet import``: a Chrome Recorder flow or a Selenium IDE project as the suite it runs as.

The file is converted and loaded exactly as ``testfleet run`` would load it (so
every problem is reported, at the recording's own places, and nothing is
written), then written as short-form YAML: the suite to edit by hand from now
on, which runs as the recording did. Converting and loading run in a child process
within the plan limits (``max_plan_cpu_s``, ``max_plan_memory_bytes``;
``testfleet.suites.bounded``), as the API plans a submission.
"""

from __future__ import annotations

from pathlib import Path

import click

from testfleet.errors import SuiteError, UsageError
from testfleet.settings import LimitSettings, Settings
from testfleet.suites.bounded import Bounds, run_bounded
from testfleet.suites.limits import RunLimits
from testfleet.suites.loader import load_document, with_base_url
from testfleet.suites.recordings import recognise, suite_yaml
from testfleet.suites.yamltext import parse_yaml
from testfleet.targets.policy import TargetPolicy


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write it to this file, not stdout."
)
@click.option("--base-url", help="Run it against this URL instead of the recorded one.")
@click.pass_context
def import_(ctx: click.Context, file: str, output: str | None, base_url: str | None) -> None:
    """Convert a Chrome Recorder flow (.json) or a Selenium IDE project (.side) into a suite."""
    settings: Settings = ctx.ensure_object(dict)["settings"]
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{file}: cannot be read ({reason})") from None
    targets = TargetPolicy.from_settings(settings)
    arguments = (text, file, path.parent, base_url, settings.limits, targets)
    written, tests = run_bounded(
        Bounds.of(settings.limits), f"converting {file}", convert_text, *arguments
    )
    if output:
        Path(output).write_text(written, encoding="utf-8")
        click.echo(f"wrote {output}: {tests} test(s) from {file}")
    else:
        click.echo(written, nl=False)


def convert_text(
    text: str,
    file: str,
    base_dir: Path,
    base_url: str | None,
    limits: LimitSettings,
    targets: TargetPolicy,
) -> tuple[str, int]:
    """The recording ``text`` (read from ``file``) as suite YAML, and its number of tests;
    loaded as ``testfleet run`` would load it, within ``limits``."""
    run_limits = RunLimits(limits)
    try:
        recording = recognise(parse_yaml(text, limits, file), file, run_limits)
    except RecursionError:
        raise SuiteError([f"{file}: nested too deeply to be a recording"]) from None
    if recording is None:
        raise SuiteError(
            [
                f"{file}: is not a recording: a Chrome Recorder flow has a title and steps with "
                "a type, a Selenium IDE project has tests with commands (a suite needs no import)"
            ]
        )
    # Recorded text is data: nothing in it is read from the environment (no variables).
    suite = recording.load(
        lambda doc: load_document(doc, {}, file, base_dir, limits=run_limits, targets=targets)
    )
    if base_url:
        with_base_url([suite], base_url, targets)  # refuses what run would refuse
    return suite_yaml(recording, Path(file).name, base_url), len(suite.tests)
