"""``testfleet quarantine``, ``history`` and ``flaky``: a project's test history and
quarantine, over the API (the history database is the server's).

A test is named ``SUITE/TEST NAME``, as the run's summary shows it (``Checkout/pays by
card``). ``--json`` prints the API's answer as it is. Server text is printed as plain
text, never as rich markup.
"""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from cli.api_options import api_client, console, echo_json, json_option, talks_to_api


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f}s"


def _when(value: str | None) -> str:
    return (value or "-")[:19].replace("T", " ")


@click.group()
def quarantine() -> None:
    """Tests whose failures do not fail a run, until they expire: add, list, remove."""


@quarantine.command("add")
@click.argument("test")
@click.option("--reason", required=True, help="Why it is quarantined.")
@click.option("--owner", required=True, help="Who is to fix it.")
@click.option(
    "--expires", default="14d", show_default=True, help="Lifted by itself after: 30m, 12h, 14d, 2w."
)
@talks_to_api
def quarantine_add(
    ctx: click.Context,
    test: str,
    reason: str,
    owner: str,
    expires: str,
    server: str | None,
    api_key: str | None,
) -> None:
    """Quarantine TEST (SUITE/TEST NAME): it still runs and is reported, but its failure
    does not fail the run. Needs a key with quarantine:write."""
    with api_client(ctx, server, api_key) as api:
        entry = api.quarantine_add(test, reason, owner, expires)
    console().print(
        Text(
            f"quarantined {entry['test']} until {_when(entry['expiresAt'])} UTC "
            f"(owner {entry['owner']}: {entry['reason']})"
        )
    )


@quarantine.command("list")
@json_option
@talks_to_api
def quarantine_list(
    ctx: click.Context, as_json: bool, server: str | None, api_key: str | None
) -> None:
    """The project's quarantined tests, soonest expiry first."""
    with api_client(ctx, server, api_key) as api:
        entries = api.quarantine_list()
    if as_json:
        echo_json(entries)
        return
    if not entries:
        click.echo("no test is in quarantine")
        return
    table = Table(title="quarantine", title_justify="left")
    for column in ("test", "owner", "expires (UTC)", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(Text(e["test"]), Text(e["owner"]), _when(e["expiresAt"]), Text(e["reason"]))
    console().print(table)


@quarantine.command("remove")
@click.argument("test")
@talks_to_api
def quarantine_remove(
    ctx: click.Context, test: str, server: str | None, api_key: str | None
) -> None:
    """Lift TEST's quarantine now (SUITE/TEST NAME). Needs a key with quarantine:write."""
    with api_client(ctx, server, api_key) as api:
        answer = api.quarantine_remove(test)
    console().print(Text(f"{answer['test']} is out of quarantine"))


@click.command()
@click.argument("test")
@click.option("--limit", default=20, show_default=True, help="Attempts to list.")
@json_option
@talks_to_api
def history(
    ctx: click.Context,
    test: str,
    limit: int,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """TEST's history (SUITE/TEST NAME): pass and flake rates, durations and their trend,
    and its last attempts."""
    with api_client(ctx, server, api_key) as api:
        answer = api.test_history(test, limit)
    if as_json:
        echo_json(answer)
        return
    out = console()
    trend = answer.get("trend")
    trend_text = (
        f"{trend['direction']} ({trend['changeRatio']:+.0%} over {trend['windowAttempts']} "
        "attempts)"
        if trend
        else "-"
    )
    out.print(Text(answer["test"], style="bold"))
    out.print(
        Text(
            f"{answer['runs']} run(s): pass rate {_rate(answer['passRate'])}, flake rate "
            f"{_rate(answer['flakeRate'])} ({answer['flakyRuns']} flaky); duration P50 "
            f"{_ms(answer['p50Ms'])}, P95 {_ms(answer['p95Ms'])}, trend {trend_text}; "
            f"first seen {_when(answer['firstSeen'])} UTC"
        )
    )
    last = answer.get("lastFailure")
    if last:
        out.print(
            Text(f"last failure: {_when(last['startedAt'])} UTC in run {last['runId']}: ")
            + Text(last["error"] or last["status"])
        )
    table = Table(title_justify="left")
    for column in (
        "started (UTC)",
        "run",
        "attempt",
        "status",
        "time",
        "branch",
        "commit",
        "error",
    ):
        table.add_column(column)
    for a in answer["attempts"]:
        table.add_row(
            _when(a["startedAt"]),
            Text(a["runId"]),
            str(a["attempt"]),
            Text(a["status"]),
            _ms(a["durationMs"]),
            Text(a["branch"] or "-"),
            Text((a["commit"] or "-")[:10]),
            Text(a["error"] or ""),
        )
    out.print(table)


@click.command()
@click.option("--days", default=30, show_default=True, help="Runs of the last this many days.")
@click.option("--limit", default=20, show_default=True, help="Tests to list.")
@json_option
@talks_to_api
def flaky(
    ctx: click.Context,
    days: int,
    limit: int,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """The project's flaky tests, the most time lost to failed attempts first."""
    with api_client(ctx, server, api_key) as api:
        answer = api.flaky_tests(days, limit)
    if as_json:
        echo_json(answer)
        return
    tests = answer["tests"]
    if not tests:
        click.echo(f"no flaky test in the last {days} day(s)")
        return
    table = Table(title=f"flaky tests, last {days} day(s)", title_justify="left")
    for column in ("test", "flake rate", "flaky runs", "runs", "retries", "time lost"):
        table.add_column(column)
    for t in tests:
        table.add_row(
            Text(t["test"]),
            _rate(t["flakeRate"]),
            str(t["flakyRuns"]),
            str(t["runs"]),
            str(t["retries"]),
            _ms(t["lostMs"]),
        )
    console().print(table)
