"""``testfleet import`` and ``--base-url``: a recording written as the suite it runs as
(``testfleet.suites.recordings.suite_yaml``, ``cli.importer``); the runs of both on a
real fleet are in ``tests/integration/fleet/test_recordings_fleet.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from testfleet.errors import SuiteError, UsageError
from testfleet.settings import Settings
from testfleet.suites.loader import load_document, load_paths, load_text, submitted, with_base_url
from testfleet.suites.recordings import recognise, suite_yaml
from testfleet.targets.policy import TargetPolicy

RECORDINGS = Path(__file__).resolve().parents[2] / "data" / "recordings"
NAMES = sorted(p.name for p in RECORDINGS.iterdir() if p.suffix in (".json", ".side"))


@pytest.mark.parametrize("name", NAMES)
def test_the_written_suite_loads_as_the_recording_does(name: str) -> None:
    path = RECORDINGS / name
    recording = recognise(json.loads(path.read_text(encoding="utf-8")), name)
    assert recording is not None
    written = suite_yaml(recording, name)
    assert written.startswith(f"# Imported by `testfleet import` from {name} (")
    [original] = load_paths([path], {})
    assert load_text(written, {}, "imported.yaml") == original
    moved = suite_yaml(recording, name, "https://staging.test:8443")
    assert (
        load_text(moved, {}, "moved.yaml")
        == with_base_url([original], "https://staging.test:8443")[0]
    )


def test_steps_are_written_name_first_with_their_bodies_on_one_line() -> None:
    recording = recognise(json.loads((RECORDINGS / "chrome-shadow.json").read_text()), "s.json")
    assert recording is not None
    lines = suite_yaml(recording, "s.json").splitlines()
    at = lines.index("  - name: Set viewport 1280 x 720")
    assert lines[at + 1] == "    set_viewport: {width: 1280, height: 720}"


def test_base_url_must_be_http() -> None:
    [suite] = load_paths([RECORDINGS / "chrome-login.json"], {})
    with pytest.raises(UsageError, match="--base-url must start with http:// or https://"):
        with_base_url([suite], "ftp://files.test")


def test_import_writes_the_suite_or_says_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo.yaml"
    done = runner.invoke(main, ["import", str(RECORDINGS / "demo.side"), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "test(s) from" in done.output
    [original] = load_paths([RECORDINGS / "demo.side"], {})
    assert load_paths([out], {}) == [original]

    printed = runner.invoke(main, ["import", str(RECORDINGS / "chrome-login.json")])
    assert printed.exit_code == 0
    assert "name: Sign in and filter the orders" in printed.output

    suite = tmp_path / "suite.yaml"
    suite.write_text("name: S\ntests: []\n")
    for args, said in [
        ([str(suite)], "is not a recording"),
        (
            [str(tmp_path / "missing.json")],
            "missing.json: cannot be read (No such file or directory)",
        ),
        ([str(RECORDINGS / "demo.side"), "--base-url", "nowhere"], "--base-url must start"),
    ]:
        done = runner.invoke(main, ["import", *args])
        assert done.exit_code == 2, done.output
        assert said in done.output
        assert "Traceback" not in done.output


def test_what_run_sends_keeps_literal_text_literal_when_the_api_loads_it_again() -> None:
    [suite] = load_paths([RECORDINGS / "demo.side"], {})
    labels = [s.label for t in suite.tests for s in t.steps]
    assert "select window handle=${root}" in labels
    again = load_document(submitted(suite), {}, "suites[0]")  # as the API loads it
    assert again == suite
    text = load_text(
        "name: S\ntests:\n  - name: $${HOME} and ${HOME}\n    steps: [reload]\n", {"HOME": "/h"}
    )
    assert load_document(submitted(text), {}, "s").tests[0].name == "${HOME} and /h"


def test_recordings_and_base_url_are_held_to_the_target_policy() -> None:
    policy = TargetPolicy.from_settings(Settings())
    [suite] = load_paths([RECORDINGS / "chrome-shadow.json"], {}, targets=policy)
    with pytest.raises(SuiteError) as refused:
        with_base_url([suite], f"http://127.0.0.1:{Settings().grid.port}", policy)
    [problem] = refused.value.problems
    assert problem.startswith(f"--base-url: http://127.0.0.1:{Settings().grid.port} is refused")
    assert "is the fleet's Selenium Grid" in problem
    flow = json.loads((RECORDINGS / "chrome-shadow.json").read_text())
    flow["steps"][1]["url"] = "file:///etc/passwd"
    with pytest.raises(SuiteError) as caught:
        load_document(flow, {}, "f.json", targets=policy)
    assert next(p for p in caught.value.problems if "file:///etc/passwd" in p).startswith(
        "f.json: steps[1].navigate: "
    )
