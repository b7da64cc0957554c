"""``testfleet notify add|list|remove|test|deliveries``: a project's notification targets,
over the API (docs/notifications.md). A key with ``notify:write`` is needed; the
secrets given here are sent once to the API, stored encrypted, and never shown again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from cli.api_options import api_client, console, echo_json, json_option, talks_to_api
from testfleet.errors import UsageError

_project = click.option(
    "--project", help="The project (default: the key's; another needs an admin key)."
)


@click.group()
def notify() -> None:
    """Where a project's finished runs are announced: GitHub, GitLab, Slack, webhooks."""


def _target_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """A ``notify`` command on one target: its TARGET_ID, then --project, --server, --key."""

    def register(command: Callable[..., None]) -> click.Command:
        with_target = click.argument("target_id")(_project(talks_to_api(command)))
        return notify.command(name)(with_target)

    return register


@notify.command("add")
@_project
@click.option("--webhook", help="POST a signed JSON body to this URL (with --secret).")
@click.option("--secret", help="The webhook's signing secret (HMAC-SHA256).")
@click.option("--github-token", help="Post commit statuses and a PR comment with this token.")
@click.option("--gitlab-token", help="Post commit statuses and an MR note with this token.")
@click.option("--slack-webhook", help="Post a message to this Slack incoming webhook URL.")
@click.option("--repo", help="GitHub owner/name, or the GitLab project's id or group/name.")
@click.option("--api-url", help="GitHub / GitLab API base URL (for GitHub or GitLab servers).")
@talks_to_api
def notify_add(
    ctx: click.Context,
    project: str | None,
    webhook: str | None,
    secret: str | None,
    github_token: str | None,
    gitlab_token: str | None,
    slack_webhook: str | None,
    repo: str | None,
    api_url: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """Add a target: --webhook URL --secret S, --github-token T --repo O/N, --gitlab-token T
    --repo G/N, or --slack-webhook URL. Each finished run is sent to it once."""
    given = {
        "webhook": webhook,
        "github": github_token,
        "gitlab": gitlab_token,
        "slack": slack_webhook,
    }
    kinds = [kind for kind, value in given.items() if value]
    if len(kinds) != 1:
        raise UsageError(
            "name one target: --webhook URL --secret S, --github-token T --repo OWNER/NAME, "
            "--gitlab-token T --repo GROUP/NAME, or --slack-webhook URL"
        )
    kind = kinds[0]
    body: dict[str, Any] = {"kind": kind, "project": project, "repo": repo}
    if kind == "webhook":
        if not secret:
            raise UsageError("a webhook target needs --secret S (what its bodies are signed with)")
        body.update(secret=secret, url=webhook)
    else:
        body.update(secret=given[kind], url=api_url)
    with api_client(ctx, server, api_key) as api:
        added = api.notify_add({k: v for k, v in body.items() if v is not None})
    click.echo(f"added {added['kind']} target {added['id']} for project {added['project']}")


@notify.command("list")
@_project
@json_option
@talks_to_api
def notify_list(
    ctx: click.Context,
    project: str | None,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """The project's targets (never their secrets)."""
    with api_client(ctx, server, api_key) as api:
        targets = api.notify_list(project)
    if as_json:
        echo_json(targets)
        return
    if not targets:
        click.echo("no notification target: add one with `testfleet notify add`")
        return
    table = Table(title="notification targets", title_justify="left")
    for column in ("id", "kind", "where", "repo"):
        table.add_column(column)
    for t in targets:
        table.add_row(Text(t["id"]), Text(t["kind"]), Text(t["url"]), Text(t.get("repo") or ""))
    console().print(table)


@_target_command("remove")
def notify_remove(
    ctx: click.Context, target_id: str, project: str | None, server: str | None, api_key: str | None
) -> None:
    """Stop notifying TARGET_ID."""
    with api_client(ctx, server, api_key) as api:
        api.notify_remove(target_id, project)
    click.echo(f"removed {target_id}")


@_target_command("test")
def notify_test(
    ctx: click.Context, target_id: str, project: str | None, server: str | None, api_key: str | None
) -> None:
    """Send a made-up run to TARGET_ID now; exit 1 when it was not delivered."""
    with api_client(ctx, server, api_key) as api:
        delivery = api.notify_test(target_id, project)
    line = f"{delivery['status']}: {delivery['detail']} ({delivery['attempts']} request(s))"
    console().print(Text(line))
    if delivery["status"] != "delivered":
        raise SystemExit(1)


@notify.command("deliveries")
@_project
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@json_option
@talks_to_api
def notify_deliveries(
    ctx: click.Context,
    project: str | None,
    limit: int,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """The latest deliveries, newest first: run, target, delivered or failed, and why."""
    with api_client(ctx, server, api_key) as api:
        found = api.notify_deliveries(project, limit)
    if as_json:
        echo_json(found)
        return
    table = Table(title="deliveries", title_justify="left")
    for column in ("run", "target", "kind", "status", "requests", "detail"):
        table.add_column(column)
    for d in found:
        run = d["runId"] + (" (test)" if d.get("test") else "")
        cells = (run, d["targetId"], d["kind"], d["status"], str(d["attempts"]), d["detail"])
        table.add_row(*(Text(c) for c in cells))
    console().print(table)
