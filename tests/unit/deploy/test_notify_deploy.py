"""The notifier in the deployments: compose and Kubernetes run it beside the archiver, on
Redis, with the key that seals the targets' secrets shared with the API."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.unit.deploy.test_kubernetes import TREES, objects
from tests.unit.deploy.test_kubernetes_security import may_connect

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
KEY = "TESTFLEET_NOTIFY__SECRET_KEY"


def test_compose_runs_a_notifier_with_the_apis_key() -> None:
    services = COMPOSE["services"]
    assert services["notifier"]["command"] == ["notifier"]
    assert services["notifier"]["environment"][KEY] == services["api"]["environment"][KEY]
    assert "browsers" not in services["notifier"].get("networks", ["default"])


@pytest.mark.parametrize("tree", TREES)
def test_kubernetes_runs_the_notifier_on_redis_and_the_shared_secret(tree: str) -> None:
    pods = {n: d["spec"]["template"]["spec"] for n, d in objects(tree, "Deployment").items()}
    for name in ("notifier", "api"):
        refs = [
            r["name"] for e in pods[name]["containers"][0]["envFrom"] if (r := e.get("secretRef"))
        ]
        assert any(r.startswith("testfleet-secrets") for r in refs), name
    assert pods["notifier"]["containers"][0]["args"] == ["notifier"]
    assert may_connect(tree, "notifier", "redis", 6379)


def test_the_local_overlay_sets_the_key() -> None:
    env = (ROOT / "deploy/kubernetes/overlays/local/local-secrets.env").read_text()
    assert f"{KEY}=" in env
