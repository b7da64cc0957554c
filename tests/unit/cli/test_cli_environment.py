"""The CLI reads from the environment only the variables a suite declares, and says which.

A suite from anyone used to be able to name ``${AWS_SECRET_ACCESS_KEY}`` (any
variable of the submitter's environment) and have ``testfleet run`` send its value
to a page. What ``run`` would submit is captured here at the hand-over to the
runner (``submit_and_follow``), so no fleet is needed: the loading is the CLI's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import runner
from cli.main import main
from testfleet.suites.loader import submitted

STOLEN = "AKIAstolen-cloud-key-7f3a"
SUITE = """
name: Exfiltrate
base_url: http://127.0.0.1:9
tests:
  - name: sends the key away
    steps:
      - navigate: "/collect?k={reference}"
"""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The suite documents ``testfleet run`` hands over for submission."""
    documents: list[dict[str, Any]] = []

    def submit_and_follow(_target: object, suites: list[Any], *_: object, **__: object) -> int:
        documents.extend(submitted(s) for s in suites)
        return 0

    monkeypatch.setattr(runner, "submit_and_follow", submit_and_follow)
    monkeypatch.setattr(
        runner.Target, "resolve", classmethod(lambda cls, *_: cls("http://127.0.0.1:9", "k"))
    )
    return documents


def cli(tmp_path: Path, *args: str, **env: str) -> Result:
    environ = {"TESTFLEET_PATHS__STATE_DIR": str(tmp_path / "state"), **env}
    return CliRunner().invoke(main, list(args), env=environ, catch_exceptions=False)


@pytest.mark.parametrize("reference", ["${H7_CLOUD_KEY}", "${H7_CLOUD_KEY:-none}"])
def test_a_suite_cannot_read_a_variable_it_does_not_declare(
    tmp_path: Path, sent: list[dict[str, Any]], reference: str
) -> None:
    suite = tmp_path / "grab.yaml"
    suite.write_text(SUITE.format(reference=reference))
    for command in ("run", "validate"):
        done = cli(tmp_path, command, str(suite), H7_CLOUD_KEY=STOLEN)
        assert done.exit_code == 2, done.output
        assert (
            f"{suite}: tests[0].steps[0].navigate: ${{H7_CLOUD_KEY}} reads the environment "
            "variable H7_CLOUD_KEY, which this suite does not declare: declare it in the "
            "suite's env: list (env: [H7_CLOUD_KEY])" in " ".join(done.output.split())
        )
        assert STOLEN not in done.output
    assert sent == [], "nothing was submitted"


def test_a_declared_variable_is_substituted_and_named_never_shown(
    tmp_path: Path, sent: list[dict[str, Any]]
) -> None:
    suite = tmp_path / "declared.yaml"
    suite.write_text(
        "env: [H7_TOKEN, H7_UNSET]\n"
        + SUITE.format(reference="${H7_TOKEN}&u=${H7_UNSET:-x}").replace(
            "http://127.0.0.1:9", "${H7_URL:-http://127.0.0.1:9}"
        )
    )
    done = cli(tmp_path, "run", str(suite), H7_TOKEN=STOLEN, H7_URL="http://127.0.0.1:8")
    assert done.exit_code == 2, done.output  # H7_URL is set, but not declared
    assert "${H7_URL} reads the environment variable H7_URL" in " ".join(done.output.split())

    suite.write_text(suite.read_text().replace("${H7_URL:-http://127.0.0.1:9}", "http://a.test"))
    for command in ("run", "validate"):
        done = cli(tmp_path, command, str(suite), H7_TOKEN=STOLEN, H7_OTHER="unrelated")
        assert done.exit_code == 0, done.output
        assert (
            "environment: read H7_TOKEN (declared in the suites' env: lists); "
            "not set, default used: H7_UNSET" in done.output
        )
        assert STOLEN not in done.output
    [document] = sent
    assert document["tests"][0]["steps"][0]["input_data"] == f"/collect?k={STOLEN}&u=x"
    assert "unrelated" not in json.dumps(document)


def test_a_suite_declaring_nothing_reads_nothing_and_says_nothing(
    tmp_path: Path, sent: list[dict[str, Any]]
) -> None:
    suite = tmp_path / "plain.yaml"
    suite.write_text(SUITE.format(reference="$${H7_CLOUD_KEY}"))
    done = cli(tmp_path, "run", str(suite), H7_CLOUD_KEY=STOLEN)
    assert done.exit_code == 0, done.output
    assert "environment:" not in done.output
    # Still a literal "${" for the API, which substitutes its request's variables again.
    assert sent[0]["tests"][0]["steps"][0]["input_data"] == "/collect?k=$${H7_CLOUD_KEY}"


def test_bad_env_entries_are_named(tmp_path: Path) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("env: [OK_1, 1BAD, has-dash]\n" + SUITE.format(reference="${OK_1:-x}"))
    done = cli(tmp_path, "validate", str(suite))
    assert done.exit_code == 2
    assert (
        f"{suite}: env: '1BAD', 'has-dash': an environment variable's name is letters, digits "
        "and _, not starting with a digit" in " ".join(done.output.split())
    )


SIDE = {
    "id": "p",
    "version": "2.0",
    "name": "recorded",
    "url": "http://127.0.0.1:9",
    "tests": [
        {
            "id": "t",
            "name": "t",
            "commands": [
                {"id": "c1", "command": "open", "target": "/", "targets": [], "value": ""},
                {
                    "id": "c2",
                    "command": "type",
                    "target": "id=q",
                    "targets": [],
                    "value": "${H7_CLOUD_KEY} and ${H7_CLOUD_KEY:-x}",
                },
            ],
        }
    ],
    "suites": [],
}
CHROME = {
    "title": "recorded",
    "steps": [
        {"type": "navigate", "url": "http://127.0.0.1:9/?k=${H7_CLOUD_KEY}"},
        {"type": "change", "selectors": [["#q"]], "value": "${H7_CLOUD_KEY}"},
    ],
}


@pytest.mark.parametrize(("name", "recording"), [("p.side", SIDE), ("flow.json", CHROME)])
def test_import_never_reads_the_environment(
    tmp_path: Path, name: str, recording: dict[str, Any]
) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(recording))
    out = tmp_path / "imported.yaml"
    done = cli(tmp_path, "import", str(path), "-o", str(out), H7_CLOUD_KEY=STOLEN)
    assert done.exit_code == 0, done.output
    written = out.read_text()
    assert STOLEN not in written + done.output
    assert "$${H7_CLOUD_KEY}" in written
    assert "environment:" not in done.output
