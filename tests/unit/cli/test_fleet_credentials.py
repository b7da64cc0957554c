"""`testfleet up` makes up the Grid's secrets; components started by hand find them."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from cli.fleet import FleetState, with_grid_secrets, with_local_grid_credentials
from testfleet.settings import PathSettings, SecuritySettings, Settings


def test_up_makes_up_what_the_settings_leave_empty(tmp_path: Path) -> None:
    settings, env = with_grid_secrets(Settings())
    user, password = settings.security.grid_credentials or ("", "")
    secret = settings.security.grid_registration_secret.get_secret_value()
    assert (user, len(password), len(secret)) == ("testfleet", 32, 32)
    assert env["TESTFLEET_SECURITY__GRID_PASSWORD"] == password
    assert env["TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET"] == secret
    again, _ = with_grid_secrets(Settings())
    assert again.security.grid_credentials != settings.security.grid_credentials


def test_up_keeps_configured_secrets() -> None:
    security = SecuritySettings(grid_username="ops", grid_password=SecretStr("pw"))
    settings, env = with_grid_secrets(Settings(security=security))
    assert settings.security.grid_credentials == ("ops", "pw")
    assert env["TESTFLEET_SECURITY__GRID_USERNAME"] == "ops"


def test_a_component_started_by_hand_finds_the_local_fleets_credentials(tmp_path: Path) -> None:
    settings = Settings(paths=PathSettings(state_dir=tmp_path))
    assert with_local_grid_credentials(settings).security.grid_credentials is None
    state = FleetState(
        0, "a", "g", "r", "grid", "d", "key", 1, grid_username="testfleet", grid_password="pw"
    )
    state.save(settings.paths.fleet_file)
    found = with_local_grid_credentials(settings)
    assert found.security.grid_credentials == ("testfleet", "pw")
    configured = settings.model_copy(
        update={"security": SecuritySettings(grid_username="u", grid_password=SecretStr("x"))}
    )
    assert with_local_grid_credentials(configured).security.grid_credentials == ("u", "x")
