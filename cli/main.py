"""The ``testfleet`` command.

User commands talk to the API over HTTP and to the gateway over SSE; component
commands (``api``, ``gateway``, ``worker``, ``grid``, ``demo-site``) run one
process in the foreground, as containers and ``testfleet up`` call them. Those
are imported by name when invoked, so the orchestrator never imports another
component's code. Exit codes: 0 success, 1 a test failed, 2 usage or
infrastructure error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

import click
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from cli.baselines import baselines
from cli.generate import generate
from cli.history import flaky, history, quarantine
from cli.importer import import_
from cli.notify import notify
from cli.traces import show_trace, trace
from testfleet import logs
from testfleet.constants import dashboard_url
from testfleet.errors import SuiteError, TestfleetError, UsageError
from testfleet.results import ORDER_MODES, TRACE_MODES
from testfleet.settings import Settings
from testfleet.targets.policy import TargetPolicy

if TYPE_CHECKING:
    from testfleet.suites.model import Suite

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # The message is often the server's text: printed as text, never as rich markup.
    err_console.print(Text("error:", style="red"), Text(message), soft_wrap=True)
    sys.exit(code)


def _settings(ctx: click.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]  # type: ignore[no-any-return]


def _targets(ctx: click.Context) -> TargetPolicy:
    """The fleet's target policy, as this machine's settings describe the fleet (with
    what the local fleet's ``up --allow`` opened)."""
    from cli.local_targets import with_recorded_allowances

    return TargetPolicy.from_settings(with_recorded_allowances(_settings(ctx)))


def _component_settings(ctx: click.Context) -> Settings:
    """The settings, with the local fleet's Grid credentials when they name none: a
    component started by hand beside `testfleet up`'s joins its Grid."""
    from cli import fleet

    return fleet.with_local_grid_credentials(_settings(ctx))


def _exit_with(code: object) -> None:
    """End with a component's ``main``'s exit code, when it returns a non-zero int."""
    if isinstance(code, int) and code:
        sys.exit(code)


class FleetGroup(click.Group):
    """Turns testfleet errors into one line and exit 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SuiteError as exc:
            for problem in exc.problems:
                err_console.print(problem, markup=False, soft_wrap=True)
            fail(f"{len(exc.problems)} problem(s) in the suites; nothing was queued")
        except TestfleetError as exc:
            fail(str(exc))


@click.group(cls=FleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="testfleet")
@click.pass_context
def main(ctx: click.Context) -> None:
    """testfleet: run browser test suites on a fleet and watch them live."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: "
            f"{str(err['msg']).removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        fail(f"invalid settings (TESTFLEET_<SECTION>__<FIELD> or .env): {problems}")
    # The components' own entry points log at INFO; the CLI's commands only warn.
    logs.configure(settings.log, "cli", default_level="WARNING")
    ctx.ensure_object(dict)["settings"] = settings


# --- the local fleet -------------------------------------------------------------------


@main.command()
@click.option("--workers", default=2, show_default=True, help="Celery worker processes.")
@click.option(
    "--browsers",
    type=int,
    help="Browser slots on the Grid node [default: what the workers' pools hold: workers x "
    "(grid.pool_size + grid.pool_spares), 2 by default].",
)
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="TARGET",
    help="Let the browsers reach TARGET although the policy refuses it (an app on this "
    "machine): host, host:port, http://host:port, *.domain or a CIDR. Repeatable. "
    "The fleet's own services stay refused.",
)
@click.pass_context
def up(ctx: click.Context, workers: int, browsers: int | None, allow: tuple[str, ...]) -> None:
    """Start Redis, a Selenium Grid, workers, the API, the gateway and the demo site."""
    from cli import fleet, local_targets

    settings = _settings(ctx)
    needed = fleet.browser_slots(settings, max(workers, 1))
    browsers = needed if browsers is None else browsers
    if workers < 1 or browsers < 1:
        raise UsageError("--workers and --browsers must be at least 1")
    if browsers < needed:
        err_console.print(
            f"warning: --browsers {browsers} is fewer than the {needed} sessions the workers' "
            "pools may hold (TESTFLEET_GRID__POOL_SIZE + TESTFLEET_GRID__POOL_SPARES per "
            "worker process): tests will wait in the Grid's queue; use --browsers "
            f"{needed} or leave it out",
            markup=False,
            soft_wrap=True,
        )
    allowed = local_targets.parse_allow(allow, settings)
    for broad in local_targets.broad_loopback(allowed):
        err_console.print(
            f"warning: --allow {broad} opens every port of this machine's loopback to the "
            "browsers (chromedriver's and other local services' too; the fleet's own stay "
            "refused): prefer host:port",
            markup=False,
            soft_wrap=True,
        )
    state = fleet.up(
        settings, workers, browsers, say=lambda m: click.echo(f"  up  {m}"), allow=allowed
    )
    if state.allowed_targets:
        click.echo(f"browsers may also reach: {', '.join(state.allowed_targets)}")
    click.echo(f"dashboard: {dashboard_url(state.gateway_url)} (sign in with the admin key)")
    click.echo("testfleet is up. Run a suite: testfleet run examples/suites\nadmin key:")
    click.echo(state.admin_key)


@main.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop everything `testfleet up` started."""
    from cli import fleet

    if fleet.down(_settings(ctx), say=click.echo):
        click.echo("testfleet is down.")
    else:
        click.echo("no local fleet is recorded as running.")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the local fleet: where it listens, each process, Grid capacity."""
    from cli import fleet

    info = fleet.status(_settings(ctx))
    if info.get("gateway_url"):
        info["dashboard_url"] = dashboard_url(str(info["gateway_url"]))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if not info["processes"]:
        click.echo("no local fleet is running: start one with `testfleet up`")
        sys.exit(EXIT_FAILED)
    for key in ("api_url", "gateway_url", "dashboard_url", "redis_url", "grid_url", "demo_url"):
        click.echo(f"{key:<12} {info[key]}")
    allowed = info.get("allowed_targets") or []
    click.echo(f"{'allowed':<12} {', '.join(allowed) if allowed else 'nothing beyond the policy'}")
    grid = info["grid"]
    click.echo(
        f"{'grid slots':<12} {grid['free_slots']} free of {grid['total_slots']}, "
        f"{grid['queue_size']} request(s) queued"
    )
    for proc in info["processes"]:
        click.echo(f"  {proc['name']:<10} pid {proc['pid']:<8} {proc['state']}")
    if not info["running"]:
        sys.exit(EXIT_FAILED)


# --- suites and runs ------------------------------------------------------------------


_BASE_URL_HELP = "Run the suites against this URL instead of their base_url."


def _load_suites(ctx: click.Context, paths: tuple[str, ...]) -> list[Suite]:
    """The suites in ``paths``, each reading from this process's environment only the
    variables its ``env:`` list declares; says which were read (names, never values)."""
    from testfleet.suites.environment import Environment
    from testfleet.suites.loader import load_paths

    environment = Environment(os.environ)
    suites = load_paths(paths, environment, _settings(ctx).limits, _targets(ctx))
    summary = environment.summary()
    if summary:
        click.echo(summary, err=True)
    return suites


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--base-url", help=_BASE_URL_HELP)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[str, ...], base_url: str | None) -> None:
    """Check suite files (or directories of them) and print every problem."""
    from testfleet.suites.loader import with_base_url

    suites = _load_suites(ctx, paths)
    if base_url:
        suites = with_base_url(suites, base_url, _targets(ctx))
    tests = sum(len(s.tests) for s in suites)
    click.echo(f"ok: {len(suites)} suite(s), {tests} test(s)")


@main.command()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write it to this file, not stdout."
)
def schema(output: str | None) -> None:
    """Print the JSON Schema of suite files (short and canonical form), for editors."""
    from testfleet.suites.schema import suite_schema

    text = json.dumps(suite_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: add `# yaml-language-server: $schema={output}` to a suite")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--server", help="API URL (default: the local fleet's).")
@click.option(
    "--key", "api_key", help="API key (default: $TESTFLEET_API_KEY or the local admin key)."
)
@click.option("--tags", default="", help="Run only tests with any of these tags (comma-separated).")
@click.option("--name", help="A name for the run.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--html", type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON result.")
@click.option(
    "--summary",
    "summary",
    type=(click.Choice(["markdown"]), click.Path(dir_okay=False)),
    default=None,
    help="Write a summary for the CI's job page: --summary markdown FILE.",
)
@click.option("--no-follow", is_flag=True, help="Submit, print the run id and return.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="On Ctrl-C or SIGTERM, leave the run going (default: cancel it).",
)
@click.option(
    "--ci", is_flag=True, help="Baselines must exist: a missing one fails its assert_screenshot."
)
@click.option("--base-url", help=_BASE_URL_HELP)
@click.option(
    "--trace",
    "trace_mode",
    type=click.Choice(TRACE_MODES),
    help="Trace mode of every test of the run (default: each test's own, else its suite's, "
    "else retain-on-failure).",
)
@click.option(
    "--branch", help="The branch tested (default: the CI's, else local git's), for its history."
)
@click.option("--commit", help="The commit tested, hex (default: the CI's, else git's HEAD).")
@click.option(
    "--a11y-report",
    type=click.Path(dir_okay=False),
    help="Write the accessibility checks' violations here (GitLab's accessibility report).",
)
@click.option(
    "--order",
    type=click.Choice(ORDER_MODES),
    help="Dispatch order within each priority: suite, duration (longest expected first, "
    "from history) or failed-first (default: the suites' `order`, else duration).",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    help="Stop the run at this many failed tests: queued tests are cancelled, running ones "
    "stop at their next step (flaky tests do not count).",
)
@click.option(
    "--last-failed",
    is_flag=True,
    help="Run only the tests that failed in the latest run of these suites on this branch.",
)
@click.pass_context
def run(
    ctx: click.Context,
    paths: tuple[str, ...],
    server: str | None,
    api_key: str | None,
    tags: str,
    name: str | None,
    junit: str | None,
    html: str | None,
    json_path: str | None,
    summary: tuple[str, str] | None,
    no_follow: bool,
    ci: bool,
    keep_running: bool,
    base_url: str | None,
    trace_mode: str | None,
    branch: str | None,
    commit: str | None,
    a11y_report: str | None,
    order: str | None,
    max_failures: int | None,
    last_failed: bool,
) -> None:
    """Submit suites, follow them live, write reports; exit 0 if all passed, 1 if not.

    Ctrl-C (or SIGTERM) cancels the run, writes the reports so far and exits 130 (143);
    a second one exits at once."""
    from cli import local_targets, runner
    from cli.run_metadata import run_metadata
    from testfleet.suites.loader import with_base_url

    suites = _load_suites(ctx, paths)
    # The CI's variables and the suites' git checkout say what code is tested.
    first = Path(paths[0]).resolve()
    metadata = run_metadata(os.environ, first if first.is_dir() else first.parent, branch, commit)
    if base_url:
        suites = with_base_url(suites, base_url, _targets(ctx))
    target = runner.Target.resolve(_settings(ctx), server, api_key)
    # The local fleet's node is this machine: a target on it that the egress proxy would
    # refuse is known now, not at the first navigate.
    refused = local_targets.refused_loopback(_settings(ctx), target.api_url, suites)
    if refused is not None:
        raise UsageError(refused)
    tag_set = {t.strip() for t in tags.split(",") if t.strip()}
    run_name = name or ", ".join(Path(p).name for p in paths)
    outputs = runner.Outputs.chosen(_settings(ctx), junit, html, json_path, summary, a11y_report)
    code = runner.submit_and_follow(
        target,
        suites,
        tag_set,
        run_name,
        outputs,
        follow=not no_follow,
        keep_running=keep_running,
        require_baselines=ci,
        trace=trace_mode,
        metadata=metadata,
        scheduling=runner.Scheduling(order, max_failures, last_failed),
    )
    sys.exit(code)


@main.command()
@click.argument("run_id")
@click.option("--server")
@click.option("--key", "api_key")
@click.option("--junit", type=click.Path(dir_okay=False))
@click.option("--html", type=click.Path(dir_okay=False))
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
@click.option("--summary", "summary", type=(click.Choice(["markdown"]), click.Path(dir_okay=False)))
@click.pass_context
def watch(
    ctx: click.Context,
    run_id: str,
    server: str | None,
    api_key: str | None,
    junit: str | None,
    html: str | None,
    json_path: str | None,
    summary: tuple[str, str] | None,
) -> None:
    """Follow a run live (from its start) until it completes; Ctrl-C stops following
    (the run goes on)."""
    from cli import runner

    target = runner.Target.resolve(_settings(ctx), server, api_key)
    outputs = runner.Outputs.chosen(_settings(ctx), junit, html, json_path, summary)
    sys.exit(runner.watch(target, run_id, outputs))


@main.command()
@click.argument("run_id")
@click.option("--server")
@click.option("--key", "api_key")
@click.pass_context
def cancel(ctx: click.Context, run_id: str, server: str | None, api_key: str | None) -> None:
    """Cancel a run: queued tests never start, running ones stop at their next step."""
    from cli import runner
    from testfleet.client.http import ApiClient

    target = runner.Target.resolve(_settings(ctx), server, api_key)
    with ApiClient(target.api_url, target.api_key) as api:
        answer = api.cancel(run_id)
    click.echo(json.dumps(answer))


@main.command()
@click.option("--server")
@click.option("--key", "api_key")
@click.option("--limit", default=20, show_default=True)
@click.pass_context
def runs(ctx: click.Context, server: str | None, api_key: str | None, limit: int) -> None:
    """List recent runs."""
    from cli import runner
    from testfleet.client.http import ApiClient

    target = runner.Target.resolve(_settings(ctx), server, api_key)
    with ApiClient(target.api_url, target.api_key) as api:
        for item in api.list_runs(limit):
            click.echo(
                f"{item.get('runId', item.get('run_id'))}  {item.get('status', ''):<10} "
                f"{item.get('name', '')}"
            )


# --- API keys --------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Manage API keys (straight in Redis: run where Redis is reachable)."""


def _key_store(ctx: click.Context) -> Any:
    from testfleet.fleet import redisconn
    from testfleet.fleet.auth import KeyStore

    return KeyStore(redisconn.connect(_settings(ctx).redis))


def _redis_errors(fn: Callable[..., None]) -> Callable[..., None]:
    import functools

    import redis

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except redis.ConnectionError as exc:
            fail(
                f"cannot reach Redis ({exc}): start the fleet with `testfleet up` "
                "or set TESTFLEET_REDIS__URL"
            )

    return wrapper


@keys.command("create")
@click.option("--project", required=True)
@click.option("--scopes", default="test:read,test:write", show_default=True)
@click.option("--name")
@click.pass_context
@_redis_errors
def keys_create(ctx: click.Context, project: str, scopes: str, name: str | None) -> None:
    """Create a key; the key itself is printed alone on the last line."""
    record, key = _key_store(ctx).create(project, [s.strip() for s in scopes.split(",")], name)
    click.echo(f"created key {record.id} for project {record.project} ({', '.join(record.scopes)})")
    click.echo(key)


@keys.command("list")
@click.pass_context
@_redis_errors
def keys_list(ctx: click.Context) -> None:
    """List keys (never the keys themselves)."""
    for record in _key_store(ctx).list():
        click.echo(
            f"{record.id}  {record.project:<16} {','.join(record.scopes):<32} {record.name or ''}"
        )


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
@_redis_errors
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key by id."""
    _key_store(ctx).revoke(key_id)
    click.echo(f"revoked {key_id}")


# --- components (what containers and `testfleet up` run) ----------------------------------


@main.command()
@click.pass_context
def api(ctx: click.Context) -> None:
    """Run the REST API in the foreground."""
    from api import app as api_app

    api_app.main(_component_settings(ctx))


@main.command()
@click.pass_context
def gateway(ctx: click.Context) -> None:
    """Run the streaming gateway in the foreground."""
    from gateway import app as gateway_app

    gateway_app.main(_component_settings(ctx))


@main.command()
@click.option("--concurrency", type=int, help="Test cases at once (default from settings).")
@click.option("--name", help="Worker node name.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None, name: str | None) -> None:
    """Run a Celery worker in the foreground (SIGTERM drains it)."""
    from workers import main as worker_main

    worker_main.main(_component_settings(ctx), concurrency, name)


@main.command()
@click.argument("role", type=click.Choice(["hub", "node", "standalone", "egress"]))
@click.option("--max-sessions", type=int, help="Browser slots (node, standalone).")
@click.pass_context
def grid(ctx: click.Context, role: str, max_sessions: int | None) -> None:
    """Run a Selenium Grid role from the server jar in the foreground (``egress``: the
    browsers' egress proxy alone; a node starts its own)."""
    settings = _component_settings(ctx)
    if max_sessions is not None:
        settings.grid.max_sessions = max_sessions
    from grid import launcher

    _exit_with(launcher.main(cast(Literal["hub", "node", "standalone", "egress"], role), settings))


@main.command()
@click.option("--name", help="Consumer name (default: archiver-<host>).")
@click.pass_context
def archiver(ctx: click.Context, name: str | None) -> None:
    """Write every finished run into the history database, in the foreground."""
    from cli import archiver as archiver_main

    archiver_main.main(_settings(ctx), name)


@main.group()
def db() -> None:
    """The history database (PostgreSQL, ``TESTFLEET_DATABASE__URL``)."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the history database's schema to this testfleet's (a no-op when current)."""
    from sqlalchemy.exc import SQLAlchemyError

    from testfleet.history import db as history_db
    from testfleet.history import migrate

    bound = history_db.engine(_settings(ctx))
    try:
        before = migrate.current(bound)
        migrate.upgrade(bound)
    except SQLAlchemyError as exc:
        fail(
            f"cannot migrate the history database {history_db.describe(bound)}: {exc}; "
            "start it (`testfleet up` starts the local one) or set TESTFLEET_DATABASE__URL"
        )
    after = migrate.current(bound)
    said = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    click.echo(f"history database {history_db.describe(bound)}: {said} revision {after}")


@db.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Keep this many days of history (default: TESTFLEET_HISTORY__RETENTION_DAYS; 0: all).",
)
@click.pass_context
def db_prune(ctx: click.Context, days: int | None) -> None:
    """Delete archived runs older than the history's retention, now (archivers also do it
    every TESTFLEET_HISTORY__PRUNE_INTERVAL_S)."""
    from sqlalchemy.exc import SQLAlchemyError

    from testfleet.history import db as history_db
    from testfleet.history import migrate, retention

    settings = _settings(ctx)
    keep_days = settings.history.retention_days if days is None else days
    before = retention.cutoff(keep_days)
    if before is None:
        click.echo("history retention is 0 days: history is kept forever, nothing pruned")
        return
    bound = history_db.engine(settings)
    try:
        migrate.require_current(bound)
        pruned = retention.prune(
            history_db.sessions(bound), before, settings.history.prune_batch_runs
        )
    except SQLAlchemyError as exc:
        fail(
            f"cannot prune the history database {history_db.describe(bound)}: {exc}; "
            "start it (`testfleet up` starts the local one) or set TESTFLEET_DATABASE__URL"
        )
    click.echo(
        f"history database {history_db.describe(bound)}: pruned {pruned.runs} runs "
        f"({pruned.attempts} attempts) and {pruned.cases} tests last run before "
        f"{before.isoformat(timespec='seconds')} (keeping {keep_days} days)"
    )


@main.command("demo-site")
@click.option("--host")
@click.option("--port", type=int)
@click.pass_context
def demo_site(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the bundled demo web app that the example suites test."""
    demo = _settings(ctx).demo
    from demosite import app as demo_app

    demo_app.main(host or demo.host, port or demo.port)


main.add_command(generate)
main.add_command(baselines)
main.add_command(import_)
main.add_command(trace)
main.add_command(show_trace)
main.add_command(quarantine)
main.add_command(history)
main.add_command(flaky)

main.add_command(notify)


@main.command()
@click.option("--name", help="Consumer name (default: notifier-<host>).")
@click.pass_context
def notifier(ctx: click.Context, name: str | None) -> None:
    """Announce finished runs to each project's targets, in the foreground."""
    from cli import notifier as notifier_main

    notifier_main.main(_settings(ctx), name)


if __name__ == "__main__":
    main()
