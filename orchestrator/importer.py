"""``testfleet import``: a Chrome Recorder flow or a Selenium IDE project as the suite it runs as.

The file is converted and loaded exactly as ``testfleet run`` would load it (so
every problem is reported, at the recording's own places, and nothing is
written), then written as short-form YAML: the suite to edit by hand from now
on, which runs as the recording did.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from testfleet.errors import SuiteError, UsageError
from testfleet.limits import RunLimits
from testfleet.loader import load_document, with_base_url
from testfleet.recordings import recognise, suite_yaml
from testfleet.settings import Settings
from testfleet.targets import TargetPolicy
from testfleet.yamltext import parse_yaml


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
    limits = RunLimits(settings.limits)
    recording = recognise(parse_yaml(text, limits.limits, file), file)
    if recording is None:
        raise SuiteError(
            [
                f"{file}: is not a recording: a Chrome Recorder flow has a title and steps with "
                "a type, a Selenium IDE project has tests with commands (a suite needs no import)"
            ]
        )
    targets = TargetPolicy.from_settings(settings)
    suite = recording.load(
        lambda doc: load_document(
            doc, os.environ, file, path.parent, limits=limits, targets=targets
        )
    )
    if base_url:
        with_base_url([suite], base_url, targets)  # refuses what run would refuse
    written = suite_yaml(recording, path.name, base_url)
    if output:
        Path(output).write_text(written, encoding="utf-8")
        click.echo(f"wrote {output}: {len(suite.tests)} test(s) from {file}")
    else:
        click.echo(written, nl=False)
