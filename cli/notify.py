"""``testfleet notify add|list|remove|test|deliveries``: a project's notification targets,
over the API (docs/notifications.md). A key with ``notify:write`` is needed; the
secrets given here are sent once to the API, stored encrypted, and never shown again."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.runner import Target
from testfleet.client.http import ApiClient
from testfleet.errors import UsageError
from testfleet.settings import Settings

_server = click.option("--server", help="API URL (default: the local fleet's).")
_key = click.option("--key", "api_key", help="API key (default: $TESTFLEET_API_KEY or local).")
_project = click.option(
    "--project", help="The project (default: the key's; another needs an admin key)."
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the API's answer as JSON.")


def _client(ctx: click.Context, server: str | None, api_key: str | None) -> ApiClient:
    settings: Settings = ctx.ensure_object(dict)["settings"]
    target = Target.resolve(settings, server, api_key)
    return ApiClient(target.api_url, target.api_key)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@click.group()
def notify() -> None:
    """Where a project's finished runs are announced: GitHub, GitLab, Slack, webhooks."""


@notify.command("add")
@_project
@click.option("--webhook", help="POST a signed JSON body to this URL (with --secret).")
@click.option("--secret", help="The webhook's signing secret (HMAC-SHA256).")
@click.option("--github-token", help="Post commit statuses and a PR comment with this token.")
@click.option("--gitlab-token", help="Post commit statuses and an MR note with this token.")
@click.option("--slack-webhook", help="Post a message to this Slack incoming webhook URL.")
@click.option("--repo", help="GitHub owner/name, or the GitLab project's id or group/name.")
@click.option("--api-url", help="GitHub / GitLab API base URL (for GitHub or GitLab servers).")
@_server
@_key
@click.pass_context
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
    with _client(ctx, server, api_key) as api:
        added = api.notify_add({k: v for k, v in body.items() if v is not None})
    click.echo(f"added {added['kind']} target {added['id']} for project {added['project']}")


@notify.command("list")
@_project
@_json
@_server
@_key
@click.pass_context
def notify_list(
    ctx: click.Context,
    project: str | None,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """The project's targets (never their secrets)."""
    with _client(ctx, server, api_key) as api:
        targets = api.notify_list(project)
    if as_json:
        click.echo(json.dumps(targets, indent=2))
        return
    if not targets:
        click.echo("no notification target: add one with `testfleet notify add`")
        return
    table = Table(title="notification targets", title_justify="left")
    for column in ("id", "kind", "where", "repo"):
        table.add_column(column)
    for t in targets:
        table.add_row(Text(t["id"]), Text(t["kind"]), Text(t["url"]), Text(t.get("repo") or ""))
    _console().print(table)


@notify.command("remove")
@click.argument("target_id")
@_project
@_server
@_key
@click.pass_context
def notify_remove(
    ctx: click.Context,
    target_id: str,
    project: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """Stop notifying TARGET_ID."""
    with _client(ctx, server, api_key) as api:
        api.notify_remove(target_id, project)
    click.echo(f"removed {target_id}")


@notify.command("test")
@click.argument("target_id")
@_project
@_server
@_key
@click.pass_context
def notify_test(
    ctx: click.Context,
    target_id: str,
    project: str | None,
    server: str | None,
    api_key: str | None,
) -> None:
    """Send a made-up run to TARGET_ID now; exit 1 when it was not delivered."""
    with _client(ctx, server, api_key) as api:
        delivery = api.notify_test(target_id, project)
    line = f"{delivery['status']}: {delivery['detail']} ({delivery['attempts']} request(s))"
    _console().print(Text(line))
    if delivery["status"] != "delivered":
        raise SystemExit(1)


@notify.command("deliveries")
@_project
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@_json
@_server
@_key
@click.pass_context
def notify_deliveries(
    ctx: click.Context,
    project: str | None,
    limit: int,
    as_json: bool,
    server: str | None,
    api_key: str | None,
) -> None:
    """The latest deliveries, newest first: run, target, delivered or failed, and why."""
    with _client(ctx, server, api_key) as api:
        found = api.notify_deliveries(project, limit)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    table = Table(title="deliveries", title_justify="left")
    for column in ("run", "target", "kind", "status", "requests", "detail"):
        table.add_column(column)
    for d in found:
        run = d["runId"] + (" (test)" if d.get("test") else "")
        cells = (run, d["targetId"], d["kind"], d["status"], str(d["attempts"]), d["detail"])
        table.add_row(*(Text(c) for c in cells))
    _console().print(table)
