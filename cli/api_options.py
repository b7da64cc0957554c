"""What the commands that talk to the API share: their ``--server``, ``--key`` and
``--json`` options, the client those name, and the console their tables print on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from cli.runner import Target
from testfleet.client.http import ApiClient
from testfleet.settings import Settings

server_option = click.option("--server", help="API URL (default: the local fleet's).")
key_option = click.option(
    "--key", "api_key", help="API key (default: $TESTFLEET_API_KEY or local)."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the API's answer as JSON."
)


def talks_to_api(command: Callable[..., None]) -> Callable[..., None]:
    """``--server`` and ``--key`` for ``command``, then its click context (the command
    takes ``ctx`` first, ``server`` and ``api_key`` by name): ``api_client`` needs all three."""
    return server_option(key_option(click.pass_context(command)))


def api_client(ctx: click.Context, server: str | None, api_key: str | None) -> ApiClient:
    """A client of the API that ``--server``/``--key`` name (``Target.resolve`` says how
    they default)."""
    settings: Settings = ctx.ensure_object(dict)["settings"]
    target = Target.resolve(settings, server, api_key)
    return ApiClient(target.api_url, target.api_key)


def echo_json(answer: Any) -> None:
    """What ``--json`` prints: the API's answer as it came, indented."""
    click.echo(json.dumps(answer, indent=2))


def console() -> Console:
    """Standard output for tables and answers: no highlighting of numbers or paths in
    server text, long lines wrapped by the terminal rather than cut."""
    return Console(highlight=False, soft_wrap=True)
