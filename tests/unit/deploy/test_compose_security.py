"""docker-compose.yml keeps the Grid closed and the browsers confined (compose cannot run
here; these checks read the file)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from grid.policy import policy_text
from testfleet.settings import Settings
from tests.conftest import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


@pytest.mark.parametrize("name", ["selenium-hub", "chrome", "egress"])
def test_no_grid_or_browser_port_is_published(name: str) -> None:
    assert "ports" not in SERVICES[name]


def test_the_hub_asks_for_credentials_and_nodes_bring_the_secret() -> None:
    hub = SERVICES["selenium-hub"]["environment"]
    assert {"SE_ROUTER_USERNAME", "SE_ROUTER_PASSWORD", "SE_REGISTRATION_SECRET"} <= set(hub)
    assert ":?" in hub["SE_ROUTER_PASSWORD"], "no default password: compose refuses to start"
    chrome = SERVICES["chrome"]["environment"]
    assert chrome["SE_REGISTRATION_SECRET"] == hub["SE_REGISTRATION_SECRET"]
    worker = SERVICES["worker"]["environment"]
    assert worker["TESTFLEET_SECURITY__GRID_PASSWORD"] == hub["SE_ROUTER_PASSWORD"]


def test_browsers_have_no_way_out_but_the_egress_proxy() -> None:
    assert COMPOSE["networks"]["browsers"]["internal"] is True
    assert SERVICES["chrome"]["networks"] == ["browsers"]
    assert set(SERVICES["egress"]["networks"]) == {"browsers", "default"}
    assert SERVICES["egress"]["command"] == ["grid", "egress"]
    proxy = SERVICES["worker"]["environment"]["TESTFLEET_SECURITY__BROWSER_PROXY"]
    assert proxy == f"http://egress:{Settings().security.egress_port}"
    assert SERVICES["egress"]["environment"]["TESTFLEET_SECURITY__EGRESS_HOST"] == "0.0.0.0"


def test_every_service_is_an_internal_host_of_the_policy() -> None:
    env = SERVICES["worker"]["environment"]
    internal = set(yaml.safe_load(env["TESTFLEET_SECURITY__INTERNAL_HOSTS"]))
    assert internal == set(SERVICES)


def test_the_nodes_policy_file_is_the_one_the_fleet_installs() -> None:
    [mount] = [v for v in SERVICES["chrome"]["volumes"] if "policies/managed" in v]
    source, target, mode = mount.split(":")
    assert target == "/etc/opt/chrome/policies/managed/testfleet.json"
    assert mode == "ro"
    assert (ROOT / source).read_text() == policy_text(), "python -m grid.policy --print"
