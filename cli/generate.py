"""``testfleet generate``: a validated suite from plain requirements, written to a file.

The model is called from the CLI's own process (it needs ``OPENAI_API_KEY`` there);
``testfleet.ai.generate`` does the work, as it does for ``POST /api/v1/generate``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from testfleet.ai.generate import generate_suite
from testfleet.settings import Settings


@click.command()
@click.argument("requirements")
@click.option("--url", default=None, help="Base URL of the application under test.")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the suite (YAML).",
)
@click.pass_context
def generate(ctx: click.Context, requirements: str, url: str | None, output: str) -> None:
    """Generate a test suite from plain requirements with the AI model."""
    settings: Settings = ctx.ensure_object(dict)["settings"]
    result = generate_suite(settings, requirements, url)
    Path(output).write_text(result.yaml, encoding="utf-8")
    test = result.suite.tests[0]
    fixed = " (corrected once after validation)" if result.attempts > 1 else ""
    click.echo(
        f"wrote {output}: {test.name!r}, {len(test.steps)} steps{fixed}; "
        f"{result.usage.total} tokens. Run it: testfleet run {output}",
        file=sys.stdout,
    )
