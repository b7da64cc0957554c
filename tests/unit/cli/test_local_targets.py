"""`testfleet up --allow`: checked, handed to the fleet's processes, recorded; `run`
names the command that opens a refused target on this machine (issue 25, item 1).

No fleet is needed: ``fleet.json`` is written by hand, and ``run``'s hand-over to the
runner is captured (``submit_and_follow``).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import fleet, runner
from cli.local_targets import (
    allow_command,
    broad_loopback,
    parse_allow,
    refused_loopback,
)
from cli.main import main
from testfleet.errors import UsageError
from testfleet.settings import PathSettings, SecuritySettings, Settings
from testfleet.suites.loader import load_text
from testfleet.targets.policy import TargetPolicy

API_URL = "http://127.0.0.1:9"
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


def settings_in(tmp_path: Path, *allowed: str) -> Settings:
    return Settings(
        paths=PathSettings(state_dir=tmp_path),
        security=SecuritySettings(allowed_targets=allowed),
    )


def record(settings: Settings, allowed: list[str], workers: int = 2, browsers: int = 2) -> None:
    state = fleet.FleetState(
        0,
        API_URL,
        "g",
        "r",
        "grid",
        "d",
        "key",
        workers,
        allowed_targets=allowed,
        browsers=browsers,
    )
    state.save(settings.paths.fleet_file)


def suite_at(url: str) -> Any:
    text = f"name: App\nbase_url: {url}\ntests:\n  - name: opens\n    steps:\n      - navigate: /\n"
    return load_text(text, {})


@pytest.mark.parametrize(
    "raw", ["localhost:3000", "http://localhost:3000", "127.0.0.1", "10.0.0.0/8", "*.test"]
)
def test_every_form_the_setting_takes_is_an_allowance(tmp_path: Path, raw: str) -> None:
    assert parse_allow([raw, raw], settings_in(tmp_path)) == (raw,)


@pytest.mark.parametrize("raw", ["localhost:99999", "10.0.0.0/33", "http://", " "])
def test_a_malformed_allowance_says_what_to_write(tmp_path: Path, raw: str) -> None:
    with pytest.raises(UsageError, match=r"--allow .*write host, host:port"):
        parse_allow([raw], settings_in(tmp_path))


@pytest.mark.parametrize(
    ("raw", "service"),
    [
        ("localhost:6390", "Redis"),
        ("127.0.0.1:8700", "API"),
        ("localhost:4444", "Grid"),
        ("http://localhost:8701", "gateway"),
        ("[::1]:8703", "egress proxy"),
    ],
)
def test_an_allowance_naming_a_fleet_service_is_refused(
    tmp_path: Path, raw: str, service: str
) -> None:
    with pytest.raises(UsageError, match=f"{service}.*own services stay refused"):
        parse_allow([raw], settings_in(tmp_path))


@pytest.mark.parametrize("broad", ["localhost", "127.0.0.0/8", "0.0.0.0/0", "::1"])
def test_a_broad_loopback_allowance_leaves_the_fleet_refused(tmp_path: Path, broad: str) -> None:
    settings = settings_in(tmp_path, broad)
    policy = TargetPolicy.from_settings(settings)
    ports = {"Redis": 6390, "API": 8700, "gateway": 8701, "Grid": 4444, "egress proxy": 8703}
    for service, port in ports.items():
        refusal = policy.check_address("localhost", port, LOOPBACK)
        assert refusal is not None, (broad, port)
        assert service in refusal.reason, (broad, port)
    assert broad_loopback([broad]) == [broad]
    assert broad_loopback(["localhost:3000", "10.0.0.0/8"]) == []


def test_the_allowances_reach_the_processes_and_the_record(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, "app.test")
    allowed, env = fleet.with_allowed_targets(settings, ("localhost:3000",))
    assert allowed.security.allowed_targets == ("app.test", "localhost:3000")
    assert json.loads(env["TESTFLEET_SECURITY__ALLOWED_TARGETS"]) == ["app.test", "localhost:3000"]
    assert fleet.with_allowed_targets(settings, ()) == (settings, {})
    record(settings, ["app.test", "localhost:3000"])
    state = fleet.FleetState.load(settings.paths.fleet_file)
    assert state is not None
    assert state.allowed_targets == ["app.test", "localhost:3000"]


def test_a_fleet_recorded_before_allowances_loads_with_none(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    record(settings_in(tmp_path), [])
    data = json.loads(path.read_text())
    del data["allowed_targets"], data["browsers"]
    path.write_text(json.dumps(data))
    state = fleet.FleetState.load(path)
    assert state is not None
    assert (state.allowed_targets, state.browsers) == ([], 0)


def test_status_shows_what_the_browsers_may_reach(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    record(settings, ["localhost:3000"])
    assert fleet.status(settings)["allowed_targets"] == ["localhost:3000"]


def test_the_command_restarts_the_fleet_as_it_was_with_the_target_added(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, "from-env.test")
    record(settings, ["from-env.test", "localhost:5000"], workers=3, browsers=4)
    state = fleet.FleetState.load(settings.paths.fleet_file)
    assert state is not None
    assert allow_command(state, settings, ["localhost:3000"]) == (
        "testfleet down && testfleet up --workers 3 --browsers 4 "
        "--allow localhost:5000 --allow localhost:3000"
    )


def test_a_refused_app_on_this_machine_is_named_with_its_command(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    record(settings, [])
    found = refused_loopback(settings, API_URL, [suite_at("http://localhost:3000")])
    assert found is not None
    assert found.endswith("Allow it with: testfleet down && testfleet up --allow localhost:3000")
    # The loopback in any spelling is the same target.
    found = refused_loopback(settings, API_URL, [suite_at("http://127.0.0.1:3000/x")])
    assert found is not None
    assert found.endswith("--allow 127.0.0.1:3000")


def test_an_allowed_or_remote_target_needs_no_command(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    record(settings, ["localhost:3000"])
    assert refused_loopback(settings, API_URL, [suite_at("http://127.0.0.1:3000")]) is None
    assert refused_loopback(settings, API_URL, [suite_at("http://app.example")]) is None
    record(settings, [])
    # Another fleet's node is not this machine: its proxy decides.
    other = "http://fleet.example:8700"
    assert refused_loopback(settings, other, [suite_at("http://localhost:3000")]) is None


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What `testfleet run` hands to the runner (nothing is submitted)."""
    calls: list[object] = []

    def submit_and_follow(_target: object, suites: list[Any], *_: object, **__: object) -> int:
        calls.append(suites)
        return 0

    monkeypatch.setattr(runner, "submit_and_follow", submit_and_follow)
    return calls


def cli(tmp_path: Path, *args: str) -> Result:
    environ = {"TESTFLEET_PATHS__STATE_DIR": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=environ, catch_exceptions=False)


def test_run_against_a_refused_local_app_ends_with_the_command(
    tmp_path: Path, submitted: list[object]
) -> None:
    record(settings_in(tmp_path), [])
    suite = tmp_path / "app.yaml"
    suite.write_text(
        "name: App\nbase_url: http://localhost:3000\ntests:\n"
        "  - name: opens\n    steps:\n      - navigate: /\n"
    )
    result = cli(tmp_path, "run", str(suite))
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert "testfleet down && testfleet up --allow localhost:3000" in last
    assert submitted == []
    record(settings_in(tmp_path), ["localhost:3000"])
    assert cli(tmp_path, "run", str(suite)).exit_code == 0
    assert len(submitted) == 1


@pytest.mark.parametrize(
    ("raw", "says"), [("localhost:0", "invalid port"), ("localhost:6390", "Redis")]
)
def test_up_refuses_a_bad_allowance_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str, says: str
) -> None:
    started: list[object] = []
    monkeypatch.setattr(fleet, "up", lambda *a, **k: started.append(a))
    result = cli(tmp_path, "up", "--allow", "localhost:3000", "--allow", raw)
    assert result.exit_code == 2
    assert says in result.output
    assert started == []


def test_the_cli_checks_a_suite_with_what_the_local_fleet_allows(tmp_path: Path) -> None:
    suite = tmp_path / "lan.yaml"
    suite.write_text(
        "name: Lan\nbase_url: http://169.254.10.10\ntests:\n"
        "  - name: opens\n    steps:\n      - navigate: /\n"
    )
    record(settings_in(tmp_path), [])
    assert cli(tmp_path, "validate", str(suite)).exit_code == 2
    record(settings_in(tmp_path), ["169.254.10.10"])
    assert cli(tmp_path, "validate", str(suite)).exit_code == 0
