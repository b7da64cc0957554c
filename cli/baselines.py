"""``testfleet baselines``: list, show and approve visual baselines, over the API.

Baselines belong to the key's project. ``approve RUN_ID`` makes the run's changed
screenshots (and missing ones under ``--ci``) the new baselines; it needs a key
with ``test:write``. Server text is printed as plain text.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from cli.api_options import api_client, talks_to_api


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def _origin(version: dict[str, Any]) -> str:
    run = f" from run {version['run_id']}" if version.get("run_id") else ""
    step = f" step {version['step']}" if version.get("step") else ""
    by = f" by key {version['approved_by']}" if version.get("approved_by") else ""
    return f"{version['source']}{run}{step}{by}"


@click.group()
def baselines() -> None:
    """Visual baselines of assert_screenshot: list, show, approve."""


@baselines.command("list")
@talks_to_api
def list_(ctx: click.Context, server: str | None, api_key: str | None) -> None:
    """The project's baselines, newest version of each."""
    with api_client(ctx, server, api_key) as api:
        found = api.list_baselines()
    if not found:
        click.echo("no baselines yet: a run's first assert_screenshot records one")
        return
    for b in found:
        click.echo(
            f"{b['id']}  v{b['version']}  {b['suite']} › {b['test']} › {b['name']}  "
            f"{b['viewport']} {b['browser']}  {_when(b['created_ms'])} UTC  {_origin(b)}"
        )


@baselines.command()
@click.argument("baseline_id")
@click.option("--version", type=int, help="The version to write with -o (default: newest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the image here.")
@talks_to_api
def show(
    ctx: click.Context,
    baseline_id: str,
    version: int | None,
    output: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """A baseline's versions (the last is the baseline); -o writes one's image."""
    with api_client(ctx, server, api_key) as api:
        versions = api.baseline_versions(baseline_id)
        image = api.baseline_image(baseline_id, version) if output else None
    first = versions[-1]
    click.echo(
        f"{first['id']}: {first['suite']} › {first['test']} › {first['name']}, "
        f"{first['viewport']} {first['browser']}"
    )
    for v in versions:
        click.echo(
            f"  v{v['version']}  {_when(v['created_ms'])} UTC  "
            f"{v['width_px']}x{v['height_px']} px  {_origin(v)}"
        )
    if output and image is not None:
        Path(output).write_bytes(image)
        click.echo(f"wrote {output} (v{version or first['version']})")


@baselines.command()
@click.argument("run_id")
@click.option("--test", help="Only this test's screenshots (its name).")
@talks_to_api
def approve(
    ctx: click.Context, run_id: str, test: str | None, server: str | None, api_key: str | None
) -> None:
    """Make a run's changed screenshots (and missing ones under --ci) the new baselines."""
    with api_client(ctx, server, api_key) as api:
        answer = api.approve_baselines(run_id, test)
    approved = answer.get("approved") or []
    if not approved:
        which = f" for test {test!r}" if test else ""
        click.echo(
            f"nothing to approve in run {run_id}{which}: no visual or accessibility "
            "assertion failed against its baseline"
        )
        return
    for a in approved:
        click.echo(
            f"approved {a['suite']} › {a['test']} › {a['name']} ({a['viewport']}): "
            f"baseline {a['baselineId']} is now v{a['version']}"
        )
    click.echo(f"{len(approved)} baseline(s) updated")
