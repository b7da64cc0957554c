"""Secrets through the whole fleet: a real worker on the real Grid types and asserts
secrets; every form the page and the URL show them in (as typed, whitespace collapsed,
URL-encoded with %20 and with +, HTML-escaped) is masked in the events, the API, the
step log and the JSON, JUnit and HTML reports. The CLI prints page text with rich
markup in it as text and still writes every report.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pytest
import redis

from testfleet import keys
from testfleet.stream import Entry
from tests.conftest import Fleet, start_fleet
from tests.fixtures_pages import page_server

pytestmark = [pytest.mark.redis, pytest.mark.grid, pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Zq7pw  a&b<c>d"
TOKEN = "Tk9-only-on-the-assert"
MARKUP = "Press [/] to search [link=http://evil.test]here[/link]"


def forms(secret: str) -> list[str]:
    return [
        secret,
        " ".join(secret.split()),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
        "Zq7pw",
        "Tk9-only",
    ]


PAGES = {
    "/login": "<!doctype html><html><body><form action='/echo' method='get'>"
    "<input id='p' name='p'><button type='submit'>Go</button></form></body></html>",
    "/echo": "<!doctype html><html><body><h1>Echo</h1></body></html>",
    "/show": "<!doctype html><html><body><p id='all'>"
    f"A {quote(PASSWORD, safe='')} B {html.escape(html.escape(PASSWORD))} "
    f"C {html.escape(PASSWORD)} D {MARKUP}</p><p id='tok'>no token here</p></body></html>",
}

SUITE = f"""
name: Secret forms
env: [PAGES_URL, SECRET_PASSWORD, SECRET_TOKEN]
base_url: ${{PAGES_URL}}
tests:
  - name: "log in [/] with button[type=submit]"
    steps:
      - navigate: /show
      - assert_text: {{selector: "#all", contains: "{MARKUP} nope", timeout: 1}}
        continue_on_failure: true
      - navigate: /login
      - type: {{selector: "#p", text: "${{SECRET_PASSWORD}}", secret: true}}
      - click: "button[type=submit]"
      - assert_url: {{contains: /nowhere, timeout: 1}}
        continue_on_failure: true
      - assert_text: {{selector: "#tok", contains: "${{SECRET_TOKEN}}", secret: true, timeout: 1}}
"""


@pytest.fixture(scope="module")
def pages_url() -> Iterator[str]:
    with page_server(PAGES) as url:
        yield url


@pytest.fixture(scope="module")
def fleet(pages_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A fleet of this module's own whose operator allows the page server: it listens
    on the node's loopback, which a fleet's browsers may not reach unless allowed."""
    allowed = json.dumps([urlsplit(pages_url).netloc])
    yield from start_fleet(
        tmp_path_factory.mktemp("secrets-fleet"), TESTFLEET_SECURITY__ALLOWED_TARGETS=allowed
    )


def test_every_form_of_a_secret_is_masked_everywhere_and_the_cli_prints_text(
    fleet: Fleet, pages_url: str, tmp_path: Path
) -> None:
    suite = tmp_path / "secret.yaml"
    suite.write_text(SUITE)
    out = {name: tmp_path / f"out.{name}" for name in ("json", "xml", "html")}
    fleet.env.update(PAGES_URL=pages_url, SECRET_PASSWORD=PASSWORD, SECRET_TOKEN=TOKEN)
    try:
        reports = ("--json", out["json"], "--junit", out["xml"], "--html", out["html"])
        done = fleet.run("run", str(suite), *map(str, reports))
    finally:
        for name in ("PAGES_URL", "SECRET_PASSWORD", "SECRET_TOKEN"):
            fleet.env.pop(name)
    printed = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert done.returncode == 1, printed
    assert "Traceback" not in printed
    assert "Press [/] to search" in printed, "page text printed as text"
    assert "button[type=submit]" in printed

    result = json.loads(out["json"].read_text())
    run_id = result["runId"]
    [test] = result["tests"]
    errors = [s["error"] or "" for s in test["steps"]]
    assert [s["status"] for s in test["steps"]] == [
        "passed",
        "failed",
        "passed",
        "passed",
        "passed",
        "failed",
        "failed",
    ]
    assert all("***" in errors[i] for i in (1, 5, 6)), errors

    api = str(fleet.status["api_url"])
    auth = {"Authorization": f"Bearer {fleet.admin_key}"}
    served = {
        "API run": httpx.get(f"{api}/api/v1/runs/{run_id}", headers=auth).text,
        "step log": httpx.get(
            f"{api}/api/v1/runs/{run_id}/artifacts/{test['case_id']}.log", headers=auth
        ).text,
        "events": json.dumps(_events(fleet, run_id)),
        **{f"report .{name}": path.read_text() for name, path in out.items()},
    }
    assert "***" in served["step log"]
    for where, text in served.items():
        for form in forms(PASSWORD) + forms(TOKEN):
            assert form not in text, f"{form!r} leaked into the {where}"
    specs = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    assert specs.hget(keys.run_specs(run_id), test["case_id"]) is None, "the final case's spec"


def _events(fleet: Fleet, run_id: str) -> list[dict[str, object]]:
    client = redis.Redis.from_url(str(fleet.status["redis_url"]), decode_responses=True)
    return [Entry.of(i, f).message() for i, f in client.xrange(keys.run_events(run_id))]
