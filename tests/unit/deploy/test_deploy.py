"""The many-machines deployment (docker-compose.yml, Dockerfile) agrees with the code.

Compose cannot run here (no Docker engine); these checks catch what breaks a
deployment silently: a setting name the code does not know, a package missing
from the image, a service that cannot scale.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from testfleet.settings import Settings
from tests.conftest import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_every_component_and_its_backing_service_is_there() -> None:
    assert {"redis", "seaweedfs", "selenium-hub", "chrome", "api", "gateway", "worker"} <= set(
        SERVICES
    )
    assert SERVICES["api"]["command"] == ["api"]
    assert SERVICES["gateway"]["command"] == ["gateway"]
    assert SERVICES["worker"]["command"] == ["worker"]


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in redis["volumes"])


@pytest.mark.parametrize("name", ["worker", "chrome"])
def test_scaled_services_have_no_fixed_name_or_host_port(name: str) -> None:
    service = SERVICES[name]
    assert "container_name" not in service
    assert "ports" not in service


def test_workers_get_time_to_finish_their_test_on_stop() -> None:
    grace = SERVICES["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+m", grace)
    assert int(grace[:-1]) * 60 >= Settings().worker.case_timeout_s
    # The worker hands back what is left before compose kills it.
    assert int(grace[:-1]) * 60 > Settings().worker.drain_grace_s


def test_flower_is_an_optional_service_on_the_plain_broker_url() -> None:
    flower = SERVICES["flower"]
    assert flower["profiles"] == ["flower"]
    assert "--broker=redis://redis:6379/0" in flower["command"]
    assert "flower" in flower["command"]


@pytest.mark.parametrize("name", ["api", "gateway", "worker"])
def test_every_testfleet_variable_is_a_real_setting(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env: dict[str, Any] = SERVICES[name]["environment"]
    names = [k for k in env if k.startswith("TESTFLEET_")]
    assert names
    for key in names:
        section, _, field = key.removeprefix("TESTFLEET_").lower().partition("__")
        model = getattr(Settings(), section)
        assert field in type(model).model_fields, f"{key}: no setting {section}.{field}"
    for key in names:
        monkeypatch.setenv(key, interpolate(str(env[key])))
    settings = Settings()
    assert settings.redis.url == "redis://redis:6379/0"
    assert settings.grid.url == "http://selenium-hub:4444"
    assert settings.artifacts.url.startswith("s3://")
    assert settings.artifacts.s3_endpoint_url == "http://seaweedfs:8333"


def interpolate(value: str, secret: str = "a-secret") -> str:
    """``value`` as compose makes it: ``${X:-default}`` -> default, ``${X:?why}`` -> set."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", secret, value)


def test_api_and_workers_share_no_volume_the_object_store_holds_artifacts() -> None:
    for name in ("api", "gateway", "worker"):
        assert "volumes" not in SERVICES[name], f"{name} mounts nothing"
    store = SERVICES["seaweedfs"]
    assert "ports" not in store, "the store is reached by the fleet only"
    assert any(v.endswith(":/data") for v in store["volumes"])
    command = " ".join(store["command"])
    assert "-s3 -s3.port=8333" in command
    store_env = {k: interpolate(str(v)) for k, v in store["environment"].items()}
    fleet_env = {k: interpolate(str(v)) for k, v in SERVICES["api"]["environment"].items()}
    assert fleet_env["TESTFLEET_ARTIFACTS__S3_ACCESS_KEY_ID"] == store_env["S3_ACCESS_KEY"]
    assert fleet_env["TESTFLEET_ARTIFACTS__S3_SECRET_ACCESS_KEY"] == store_env["S3_SECRET_KEY"]
    # No default secret: compose refuses to start until one is set.
    assert ":?" in str(SERVICES["api"]["environment"]["TESTFLEET_ARTIFACTS__S3_SECRET_ACCESS_KEY"])
    for name in ("api", "gateway", "worker"):
        assert SERVICES[name]["depends_on"]["seaweedfs"]["condition"] == "service_healthy"


def test_the_image_holds_every_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile
