"""docker-compose.yml keeps the Grid closed and the browsers confined (compose cannot run
here; these checks read the file)."""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Any

import pytest
import yaml

from grid.policy import policy_text
from grid.sandbox import node_image_wrapper_text
from testfleet.settings import Settings
from tests.conftest import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SECCOMP_PROFILE = ROOT / "deploy" / "chrome-node" / "seccomp.json"


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


def networks_of(name: str) -> set[str]:
    """The networks a service is on (compose puts one that names none on ``default``)."""
    return set(SERVICES[name].get("networks", ["default"]))


def test_browsers_have_no_way_out_but_the_egress_proxy() -> None:
    assert COMPOSE["networks"]["browsers"]["internal"] is True
    assert SERVICES["chrome"]["networks"] == ["browsers"]
    assert networks_of("egress") == {"browsers", "outbound"}
    assert SERVICES["egress"]["command"] == ["grid", "egress"]
    proxy = SERVICES["worker"]["environment"]["TESTFLEET_SECURITY__BROWSER_PROXY"]
    assert proxy == f"http://egress:{Settings().security.egress_port}"
    assert SERVICES["egress"]["environment"]["TESTFLEET_SECURITY__EGRESS_HOST"] == "0.0.0.0"


def test_the_proxys_way_out_reaches_no_service_of_the_fleet() -> None:
    # The proxy refuses the fleet by name and address; the networks make sure it could
    # not reach the artifact store or Redis even if it did not: it shares only the
    # browsers' network with anything, and neither is on it.
    on_outbound = {name for name in SERVICES if "outbound" in networks_of(name)}
    assert on_outbound == {"egress"}
    assert "internal" not in COMPOSE["networks"]["outbound"], "the proxy needs the web"
    for name in SERVICES:
        if name != "egress":
            assert networks_of(name) & networks_of("egress") <= {"browsers"}, name
    for store in ("seaweedfs", "redis", "flower"):
        assert "browsers" not in networks_of(store), store


def internal_hosts(name: str) -> list[str]:
    env = SERVICES[name]["environment"]
    hosts: list[str] = yaml.safe_load(env["TESTFLEET_SECURITY__INTERNAL_HOSTS"])
    return hosts


def test_every_service_and_every_bridge_gateway_is_an_internal_host() -> None:
    internal = set(internal_hosts("worker"))
    assert internal_hosts("egress") == internal_hosts("worker"), "the proxy decides with it"
    names = {h for h in internal if not h[0].isdigit()}
    assert names - {"host.docker.internal"} == set(SERVICES)
    # The host answers on each network's gateway (and on Docker's own bridge), with
    # every port compose publishes there: each is refused by address.
    gateways = {
        config["gateway"]
        for network in COMPOSE["networks"].values()
        for config in network["ipam"]["config"]
    }
    assert len(gateways) == len(COMPOSE["networks"]), "every network has a fixed gateway"
    assert gateways | {"172.17.0.1"} <= internal
    for network in COMPOSE["networks"].values():
        (config,) = network["ipam"]["config"]
        assert ipaddress.ip_address(config["gateway"]) in ipaddress.ip_network(config["subnet"])


def test_the_proxy_gets_no_registration_secret_no_grid_password_and_no_store_keys() -> None:
    # The proxy faces hostile pages: it knows the nodes by the service name instead.
    env = SERVICES["egress"]["environment"]
    for secret in ("SECRET", "OPENAI_API_KEY", "ACCESS_KEY", "GRID_PASSWORD", "GRID_USERNAME"):
        assert not [k for k in env if secret in k], secret
    assert "chrome" in json.loads(env["TESTFLEET_SECURITY__INTERNAL_HOSTS"])


def seaweed_command() -> str:
    (script,) = SERVICES["seaweedfs"]["command"]
    return str(script)


def test_only_the_s3_gateway_of_seaweedfs_listens_beyond_its_container() -> None:
    # `weed server` starts a filer whose HTTP API (8888) lists, reads, overwrites and
    # deletes any object without credentials, and a master and volume server beside it;
    # all of them bind the loopback, the S3 gateway (keys required) every address.
    # (tests/integration/deploy runs these flags and tries the ports from another host.)
    flags = seaweed_command().split()
    assert "-ip.bind=127.0.0.1" in flags
    assert "-s3.ip.bind=0.0.0.0" in flags
    assert "-s3.config=/tmp/s3.json" in flags
    for catalog in ("-s3.port.iceberg=0", "-s3.port.lance=0"):
        assert catalog in flags
    assert not [f for f in flags if f.startswith(("-filer.port.public", "-volume.port.public"))]
    assert "ports" not in SERVICES["seaweedfs"]


def test_chrome_runs_with_its_sandbox_and_without_the_secret_in_its_environment() -> None:
    chrome = SERVICES["chrome"]
    mounts = {v.split(":")[1]: v.split(":") for v in chrome["volumes"]}
    source, _, mode = mounts["/opt/google/chrome/google-chrome"]
    assert mode == "ro"
    wrapper = ROOT / source
    assert wrapper.read_text() == node_image_wrapper_text(), (
        "python -m grid.sandbox --print-node-wrapper > deploy/chrome-node/google-chrome"
    )
    assert os.access(wrapper, os.X_OK), "chmod +x deploy/chrome-node/google-chrome"
    options = chrome["security_opt"]
    assert "no-new-privileges:true" in options
    (profile,) = [o.split("=", 1)[1] for o in options if o.startswith("seccomp=")]
    assert (ROOT / profile).resolve() == SECCOMP_PROFILE
    assert chrome["cap_drop"] == ["ALL"]
    assert "cap_add" not in chrome
    assert "privileged" not in chrome
    for key, value in chrome["environment"].items():
        assert "--no-sandbox" not in str(value), key


def test_no_deployed_file_asks_for_no_sandbox() -> None:
    for path in [ROOT / "docker-compose.yml", *sorted((ROOT / "deploy").rglob("*.yaml"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert "--no-sandbox" not in code, f"{path}:{number}"


def test_the_nodes_policy_file_is_the_one_the_fleet_installs() -> None:
    [mount] = [v for v in SERVICES["chrome"]["volumes"] if "policies/managed" in v]
    source, target, mode = mount.split(":")
    assert target == "/etc/opt/chrome/policies/managed/testfleet.json"
    assert mode == "ro"
    assert (ROOT / source).read_text() == policy_text(), "python -m grid.policy --print"
