"""deploy/kubernetes keeps the Grid closed and the browsers confined, as docker-compose.yml
does: the hub asks for credentials, everything that talks to it has them, and the
NetworkPolicies (evaluated here the way the API server's semantics define them) let
browsers reach only the hub, DNS and the egress proxy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grid.policy import policy_text
from grid.sandbox import node_image_wrapper_text
from testfleet.settings import Settings
from tests.conftest import ROOT
from tests.unit.deploy.test_kubernetes import TREES, objects, render

NAMESPACE = "testfleet"
SECCOMP_PROFILE = ROOT / "deploy" / "chrome-node" / "seccomp.json"
SECRET = "testfleet-secrets"
GRID_KEYS = {
    "SE_ROUTER_USERNAME": "TESTFLEET_SECURITY__GRID_USERNAME",
    "SE_ROUTER_PASSWORD": "TESTFLEET_SECURITY__GRID_PASSWORD",
    "SE_REGISTRATION_SECRET": "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET",
}
GRID_CLIENTS = ("api", "gateway", "worker")
"""Workloads that talk to the Grid router: sessions (worker), capacity (api, gateway)."""


def container(tree: str, name: str) -> dict[str, Any]:
    workloads = {**objects(tree, "Deployment"), **objects(tree, "StatefulSet")}
    containers: list[dict[str, Any]] = workloads[name]["spec"]["template"]["spec"]["containers"]
    return containers[0]


def secret_env(tree: str, name: str) -> dict[str, tuple[str, str]]:
    """A container's env taken from Secrets: variable -> (secret name, key)."""
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container(tree, name).get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def fleet_secrets(tree: str) -> list[dict[str, Any]]:
    """The tree's Secrets named ``SECRET`` (the history database's URL has one of its own)."""
    return [
        d
        for d in render(tree)
        if d["kind"] == "Secret" and d["metadata"]["name"].startswith(SECRET)
    ]


def is_fleet_secret(tree: str, name: str) -> bool:
    if tree == "base":  # the overlay provides it
        return name == SECRET
    (secret,) = fleet_secrets(tree)
    return bool(name == secret["metadata"]["name"])


@pytest.mark.parametrize("tree", TREES)
def test_the_hub_asks_for_credentials_from_the_secret(tree: str) -> None:
    env = secret_env(tree, "selenium-hub")
    for variable, key in GRID_KEYS.items():
        assert variable in env, f"selenium-hub: {variable} is not set from the Secret"
        secret, found = env[variable]
        assert is_fleet_secret(tree, secret), (variable, secret)
        assert found == key, (variable, found)
    hub = container(tree, "selenium-hub")
    for probe in ("readinessProbe", "livenessProbe"):
        command = " ".join(hub[probe]["exec"]["command"])
        assert '-u "$SE_ROUTER_USERNAME:$SE_ROUTER_PASSWORD"' in command, probe


@pytest.mark.parametrize("tree", TREES)
def test_nodes_register_with_the_hubs_secret(tree: str) -> None:
    node = secret_env(tree, "chrome-node")
    assert (
        node["SE_REGISTRATION_SECRET"] == secret_env(tree, "selenium-hub")["SE_REGISTRATION_SECRET"]
    )
    drain = " ".join(container(tree, "chrome-node")["lifecycle"]["preStop"]["exec"]["command"])
    assert "X-REGISTRATION-SECRET: $SE_REGISTRATION_SECRET" in drain, "a drain needs the secret"


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("name", GRID_CLIENTS)
def test_every_grid_client_gets_the_credentials(tree: str, name: str) -> None:
    refs = [r["name"] for e in container(tree, name)["envFrom"] if (r := e.get("secretRef"))]
    assert any(is_fleet_secret(tree, r) for r in refs), f"{name}: no envFrom of the Secret"
    if tree != "base":
        (secret,) = fleet_secrets(tree)
        assert set(GRID_KEYS.values()) <= set(secret["data"]), "the Secret lacks Grid keys"


@pytest.mark.parametrize("tree", TREES)
def test_keda_reads_the_hub_with_the_grid_credentials(tree: str) -> None:
    (trigger,) = objects(tree, "ScaledObject")["chrome-node"]["spec"]["triggers"]
    auth = objects(tree, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"username", "password"}
    assert refs["username"]["key"] == GRID_KEYS["SE_ROUTER_USERNAME"]
    assert refs["password"]["key"] == GRID_KEYS["SE_ROUTER_PASSWORD"]
    for ref in refs.values():
        assert is_fleet_secret(tree, ref["name"]), f"KEDA names a Secret {ref['name']!r}"


@pytest.mark.parametrize("tree", TREES)
def test_no_grid_browser_or_store_port_leaves_the_cluster(tree: str) -> None:
    for name, service in objects(tree, "Service").items():
        if name in ("api", "gateway"):
            continue  # the fleet's public face; an Ingress or port-forward exposes them
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert not any("nodePort" in p for p in service["spec"]["ports"]), name


def test_browsers_go_through_the_egress_proxy() -> None:
    config = objects("base", "ConfigMap")["testfleet-config"]["data"]
    service = objects("base", "Service")["egress"]
    port = service["spec"]["ports"][0]["port"]
    assert port == Settings().security.egress_port
    assert config["TESTFLEET_SECURITY__BROWSER_PROXY"] == f"http://egress:{port}"
    proxy = container("base", "egress")
    assert proxy["args"] == ["grid", "egress"]
    assert {"name": "TESTFLEET_SECURITY__EGRESS_HOST", "value": "0.0.0.0"} in proxy["env"]
    refs = [r for e in proxy["envFrom"] for r in e]
    assert refs == ["configMapRef"], "the proxy needs no secret, so it gets none"


@pytest.mark.parametrize("tree", TREES)
def test_the_proxy_refuses_every_service_of_the_fleet(tree: str) -> None:
    config = objects(tree, "ConfigMap")["testfleet-config"]["data"]
    internal = set(json.loads(config["TESTFLEET_SECURITY__INTERNAL_HOSTS"]))
    assert set(objects(tree, "Service")) <= internal


# --- NetworkPolicy semantics (networking.k8s.io/v1), for pods of this namespace ---------


def pods(tree: str) -> dict[str, dict[str, str]]:
    workloads = {**objects(tree, "Deployment"), **objects(tree, "StatefulSet")}
    return {n: d["spec"]["template"]["metadata"]["labels"] for n, d in workloads.items()}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels is evaluated here: {selector}"
    return bool(selector.get("matchLabels", {}).items() <= labels.items())


def peer_matches(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    if "ipBlock" in peer:
        return True  # whether an ipBlock covers pod addresses depends on the CNI: assume so
    if "namespaceSelector" in peer:
        ours = {"kubernetes.io/metadata.name": NAMESPACE}
        if not selects(peer["namespaceSelector"], ours):
            return False
    return selects(peer.get("podSelector", {}), labels)


def rule_allows(rule: dict[str, Any], side: str, labels: dict[str, str], port: int) -> bool:
    peers = rule.get(side)
    ports = rule.get("ports")
    peer_ok = peers is None or any(peer_matches(p, labels) for p in peers)
    port_ok = ports is None or any(p.get("port") == port for p in ports)
    return peer_ok and port_ok


def may_connect(tree: str, source: str, target: str, port: int) -> bool:
    """Whether a pod of workload ``source`` may open a TCP connection to ``target:port``."""
    labels = pods(tree)
    policies = objects(tree, "NetworkPolicy").values()
    for direction, own, other, side in (
        ("Egress", source, target, "to"),
        ("Ingress", target, source, "from"),
    ):
        key = direction.lower()
        applying = [
            p["spec"]
            for p in policies
            if selects(p["spec"]["podSelector"], labels[own])
            and direction in p["spec"]["policyTypes"]
        ]
        if applying and not any(
            rule_allows(r, side, labels[other], port) for p in applying for r in p.get(key, [])
        ):
            return False
    return True


def listening(tree: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name in pods(tree):
        found[name] = [p["containerPort"] for p in container(tree, name).get("ports", [])]
    return found


@pytest.mark.parametrize("tree", TREES)
def test_browsers_reach_only_the_hub_and_the_egress_proxy(tree: str) -> None:
    reachable = {
        (name, port)
        for name, ports in listening(tree).items()
        if name != "chrome-node"
        for port in ports
        if may_connect(tree, "chrome-node", name, port)
    }
    hub_ports = {4442, 4443, 4444}
    assert reachable == {("selenium-hub", p) for p in hub_ports} | {("egress", 8703)}
    for service in ("redis", "api", "gateway", "worker"):
        assert not any(name == service for name, _ in reachable), service


@pytest.mark.parametrize("tree", TREES)
def test_only_the_hub_and_workers_reach_the_nodes(tree: str) -> None:
    allowed = {
        name
        for name in pods(tree)
        if name != "chrome-node" and may_connect(tree, name, "chrome-node", 5555)
    }
    assert allowed == {"selenium-hub", "worker"}


@pytest.mark.parametrize("tree", TREES)
def test_the_proxy_cannot_reach_the_grid_redis_or_the_store(tree: str) -> None:
    for target, port in (("selenium-hub", 4444), ("selenium-hub", 4442), ("redis", 6379)):
        assert not may_connect(tree, "egress", target, port), target
    if "seaweedfs" in pods(tree):
        assert not may_connect(tree, "egress", "seaweedfs", 8333)
        assert not may_connect(tree, "chrome-node", "seaweedfs", 8333)
    for client in GRID_CLIENTS:  # and the fleet still works
        assert may_connect(tree, client, "selenium-hub", 4444), client
        assert may_connect(tree, client, "redis", 6379), client


def test_the_policy_check_can_fail() -> None:
    # Without the chrome-node policy, a browser would reach Redis: the evaluator sees it.
    labels = pods("base")
    assert may_connect("base", "chrome-node", "redis", 6379) is False
    policies = objects("base", "NetworkPolicy")
    assert selects(policies["chrome-node"]["spec"]["podSelector"], labels["chrome-node"])
    assert not selects({"matchLabels": {"app.kubernetes.io/name": "x"}}, labels["chrome-node"])
    wide_open = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}
    assert rule_allows(wide_open, "to", labels["redis"], 6379)
    assert not rule_allows(
        {"to": [{"podSelector": {}}], "ports": [{"port": 53}]}, "to", labels["redis"], 6379
    )


@pytest.mark.parametrize("tree", TREES)
def test_nodes_run_under_the_managed_url_policy(tree: str) -> None:
    node = objects(tree, "Deployment")["chrome-node"]["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in node["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in node["volumes"]}
    (name,) = [n for n, path in mounts.items() if path == "/etc/opt/chrome/policies/managed"]
    config_map = objects(tree, "ConfigMap")[volumes[name]["configMap"]["name"]]
    assert config_map["data"] == {"testfleet.json": policy_text()}, (
        "python -m grid.policy --print > deploy/kubernetes/base/chromium-policy.json"
    )


# --- Chrome's sandbox in the nodes ----------------------------------------------------


def pod_spec(tree: str, name: str) -> dict[str, Any]:
    workloads = {**objects(tree, "Deployment"), **objects(tree, "DaemonSet")}
    spec: dict[str, Any] = workloads[name]["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("tree", TREES)
def test_nodes_start_chrome_through_the_sandboxed_wrapper(tree: str) -> None:
    # The image's own wrapper adds --no-sandbox to every start; ours is mounted over it.
    spec = pod_spec(tree, "chrome-node")
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    mount = mounts["/opt/google/chrome/google-chrome"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["defaultMode"] == 0o555
    config_map = objects(tree, "ConfigMap")[volume["configMap"]["name"]]
    assert config_map["data"] == {mount["subPath"]: node_image_wrapper_text()}, (
        "cp deploy/chrome-node/google-chrome deploy/kubernetes/base/chrome-node-wrapper.sh"
    )
    for container in spec["containers"]:
        text = json.dumps([container.get("args"), container.get("command"), container["env"]])
        assert "--no-sandbox" not in text


@pytest.mark.parametrize("tree", TREES)
def test_nodes_run_under_the_seccomp_profile_with_no_privileges(tree: str) -> None:
    spec = pod_spec(tree, "chrome-node")
    assert spec["securityContext"]["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": "testfleet/chrome-node.json",
    }
    (chrome,) = spec["containers"]
    context = chrome["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True
    assert "seccompProfile" not in context, "the pod's profile holds for the container"
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    profile = objects(tree, "ConfigMap")
    (seccomp,) = [c for n, c in profile.items() if n.startswith("chrome-node-seccomp")]
    assert json.loads(seccomp["data"]["chrome-node.json"]) == json.loads(
        SECCOMP_PROFILE.read_text()
    ), "cp deploy/chrome-node/seccomp.json deploy/kubernetes/base/chrome-node-seccomp.json"


def test_the_local_overlay_installs_the_profile_where_the_kubelet_reads_it() -> None:
    spec = pod_spec("overlays/local", "seccomp-installer")
    volumes = {v["name"]: v for v in spec["volumes"]}
    (install,) = spec["initContainers"]
    mounts = {m["name"]: m["mountPath"] for m in install["volumeMounts"]}
    host = [n for n, v in volumes.items() if "hostPath" in v]
    assert [volumes[n]["hostPath"]["path"] for n in host] == ["/var/lib/kubelet/seccomp"]
    script = " ".join(install["command"])
    assert f"{mounts[host[0]]}/testfleet/chrome-node.json" in script
    (source,) = [v["configMap"]["name"] for v in volumes.values() if "configMap" in v]
    assert source.startswith("chrome-node-seccomp")


def test_the_local_stores_filer_listens_on_its_loopback_only() -> None:
    seaweedfs = container("overlays/local", "seaweedfs")
    flags = " ".join(seaweedfs["command"]).split()
    assert "-ip.bind=127.0.0.1" in flags
    assert "-s3.ip.bind=0.0.0.0" in flags
    assert {"-s3.port.iceberg=0", "-s3.port.lance=0"} <= set(flags)
