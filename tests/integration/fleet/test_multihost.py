"""The fleet on separate hosts: network namespaces on this machine, joined by a bridge.

    core    Redis, the API, the gateway (and the demo site the suite tests)
    work    two Celery workers
    grid    the Selenium Grid hub and a Chrome node
    s3      SeaweedFS: the artifact store (S3)
    client  the `testfleet run` a CI job would do

Every part is told the others' addresses (10.x.y.N), listens on its own only, and
has its own state directory: no shared filesystem, no 127.0.0.1 between parts. A
suite with screenshots runs; its report and artifacts are served by the API from
the object store. Needs root (CI runs as root); fails, never skips, without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_s3 import weed_command, write_s3_config
from tests.netns import PREFIX, Host, LabError, NetworkLab, ip, sweep_stale
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.multihost,
    pytest.mark.redis,
    pytest.mark.grid,
    pytest.mark.browser,
    pytest.mark.s3,
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 120.0
"""How long a part may take to answer once started (JVMs on a loaded 2-core machine)."""
S3_KEY, S3_SECRET = "multihost", "multihost-secret-not-for-production"
BUCKET = "testfleet-multihost"
GRID_USER, GRID_PASSWORD, GRID_SECRET = "multihost", "grid-pw-not-for-production", "reg-secret"
PORTS = {"redis": 6379, "api": 8700, "gateway": 8701, "demo": 8702, "hub": 4444, "node": 5555}

SUITE = """
name: Across hosts
base_url: DEMO
tests:
""" + "".join(
    f"""
  - name: sign in {i}
    steps:
      - navigate: /login
      - assert_title: Sign in
      - screenshot: {{name: login-{i}}}
"""
    for i in range(4)
)


@dataclass
class Fleet:
    lab: NetworkLab
    core: Host
    work: Host
    grid: Host
    s3: Host
    client: Host
    env: dict[str, str]
    state: dict[str, Path]

    @property
    def api(self) -> str:
        return f"http://{self.core.address}:{PORTS['api']}"


def fetch(host: Host, url: str, args: tuple[str, ...] = ()) -> bytes:
    """``url``'s body, fetched from ``host`` (curl; the test process is on no test network)."""
    done = subprocess.run(
        host.command("curl", "-sS", "--fail", "--max-time", "20", *args, url),
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"curl {url} from {host.name}: {done.stderr.decode()}")
    return done.stdout


def answers(host: Host, url: str) -> bool:
    return host.run("curl", "-sf", "--max-time", "2", "-o", "/dev/null", url).returncode == 0


def status_code(host: Host, url: str) -> str:
    return host.run(
        "curl", "-s", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", url
    ).stdout


def grid_ready(host: Host, url: str) -> bool:
    """The hub answers /status with ``ready: true`` (a node has registered)."""
    auth = f"{GRID_USER}:{GRID_PASSWORD}"
    body = host.run("curl", "-s", "--max-time", "2", "-u", auth, url).stdout
    try:
        return bool(json.loads(body)["value"]["ready"])
    except (ValueError, KeyError, TypeError):
        return False


def part_env(base: dict[str, str], state: Path, **extra: str) -> dict[str, str]:
    return {**base, "TESTFLEET_PATHS__STATE_DIR": str(state), **extra}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    if shutil.which("ip") is None:
        pytest.fail(
            "iproute2's `ip` is missing: `make setup` installs it (apt-get install iproute2)"
        )
    work_dir = tmp_path_factory.mktemp("multihost")
    lab = NetworkLab(work_dir / "logs")
    try:
        lab.__enter__()
    except LabError as exc:
        pytest.fail(str(exc))
    try:
        yield _start(lab, work_dir)
    except BaseException:
        print(lab.logs())  # shown with the failure
        raise
    finally:
        lab.close()


def _start(lab: NetworkLab, work_dir: Path) -> Fleet:
    core, work, grid, s3, client = (
        lab.add_host(r) for r in ("core", "work", "grid", "s3", "client")
    )
    state = {h: work_dir / h for h in ("core", "work", "grid", "client")}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TESTFLEET_")},
        "TESTFLEET_REDIS__URL": f"redis://{core.address}:{PORTS['redis']}/0",
        "TESTFLEET_GRID__URL": f"http://{grid.address}:{PORTS['hub']}",
        "TESTFLEET_GRID__HOST": grid.address,
        "TESTFLEET_GRID__NODE_HOST": grid.address,
        "TESTFLEET_GRID__NODE_PORT": str(PORTS["node"]),
        "TESTFLEET_API__HOST": core.address,
        "TESTFLEET_API__PORT": str(PORTS["api"]),
        "TESTFLEET_GATEWAY__HOST": core.address,
        "TESTFLEET_GATEWAY__PORT": str(PORTS["gateway"]),
        "TESTFLEET_ARTIFACTS__URL": f"s3://{BUCKET}/fleet",
        "TESTFLEET_ARTIFACTS__S3_ENDPOINT_URL": f"http://{s3.address}:8333",
        "TESTFLEET_ARTIFACTS__S3_ACCESS_KEY_ID": S3_KEY,
        "TESTFLEET_ARTIFACTS__S3_SECRET_ACCESS_KEY": S3_SECRET,
        "TESTFLEET_ARTIFACTS__S3_CREATE_BUCKET": "true",
        # The Grid is closed: its hub, node, the workers and the API share these.
        "TESTFLEET_SECURITY__GRID_USERNAME": GRID_USER,
        "TESTFLEET_SECURITY__GRID_PASSWORD": GRID_PASSWORD,
        "TESTFLEET_SECURITY__GRID_REGISTRATION_SECRET": GRID_SECRET,
    }
    testfleet = [sys.executable, "-m", "cli.main"]

    (work_dir / "s3").mkdir()
    write_s3_config(work_dir / "s3" / "s3.json", S3_KEY, S3_SECRET)
    # SeaweedFS puts a Unix socket per gRPC port in /tmp (/tmp/seaweedfs-master-grpc-<port>.sock),
    # which network namespaces share: on its default ports this lab's filer met the
    # compose test's master through it. Ports of its own keep the two apart.
    ports = [9433, 19433, 8180, 18180, 8988, 18988, 8333, 18433]
    s3.spawn(
        "weed", weed_command(work_dir / "s3", s3.address, ports, work_dir / "s3" / "s3.json"), env
    )
    redis_options = {
        "--bind": core.address,
        "--port": str(PORTS["redis"]),
        "--save": "",
        "--appendonly": "no",
        "--protected-mode": "no",  # the lab network reaches only the test hosts
    }
    core.spawn("redis", ["redis-server", *(p for pair in redis_options.items() for p in pair)], env)

    def redis_up() -> bool:
        return client.run("redis-cli", "-h", core.address, "ping").stdout.strip() == "PONG"

    def s3_up() -> bool:  # the S3 gateway refuses an unsigned request (403) once it is up
        return status_code(client, f"http://{s3.address}:8333/") in ("200", "403")

    wait_until("Redis on the core host", redis_up, START_TIMEOUT_S, interval_s=0.3)
    wait_until("SeaweedFS S3 on the s3 host", s3_up, START_TIMEOUT_S, interval_s=0.5)
    core_env = part_env(env, state["core"])
    core.spawn("api", [*testfleet, "api"], core_env)
    core.spawn("gateway", [*testfleet, "gateway"], core_env)
    core.spawn(
        "demo",
        [*testfleet, "demo-site", "--host", core.address, "--port", str(PORTS["demo"])],
        core_env,
    )
    grid_env = part_env(env, state["grid"])
    grid.spawn("hub", [*testfleet, "grid", "hub"], grid_env)
    grid.spawn("node", [*testfleet, "grid", "node", "--max-sessions", "2"], grid_env)
    work_env = part_env(env, state["work"])
    for name in ("a", "b"):
        work.spawn(
            f"worker-{name}", [*testfleet, "worker", "--name", f"worker-{name}@work"], work_env
        )
    api = f"http://{core.address}:{PORTS['api']}"
    wait_until(
        "the API to be ready (Redis, S3 bucket)",
        lambda: answers(client, f"{api}/ready"),
        START_TIMEOUT_S,
        interval_s=0.5,
    )
    hub = f"http://{grid.address}:{PORTS['hub']}/status"
    wait_until(
        "the Grid to have a node ready",
        lambda: grid_ready(client, hub),
        START_TIMEOUT_S,
        interval_s=0.5,
    )
    return Fleet(lab, core, work, grid, s3, client, env, state)


def admin_key(fleet: Fleet) -> str:
    command = ["keys", "create", "--project", "multihost", "--scopes", "admin"]
    core_env = part_env(fleet.env, fleet.state["core"])
    made = fleet.core.run(sys.executable, "-m", "cli.main", *command, env=core_env)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def test_a_suite_runs_across_hosts_and_its_artifacts_come_from_the_object_store(
    fleet: Fleet, tmp_path: Path
) -> None:
    key = admin_key(fleet)
    headers = ("-H", f"X-API-Key: {key}")

    def workers() -> int:
        answer = json.loads(fetch(fleet.client, f"{fleet.api}/api/v1/fleet", headers))
        return len(answer["workers"])

    wait_until("both workers to report in", lambda: workers() == 2, START_TIMEOUT_S, interval_s=0.5)

    suite = tmp_path / "across.yaml"
    suite.write_text(SUITE.replace("DEMO", f"http://{fleet.core.address}:{PORTS['demo']}"))
    out = tmp_path / "result.json"
    client_env = part_env(fleet.env, fleet.state["client"])
    command = ["run", str(suite), "--server", fleet.api, "--key", key, "--json", str(out)]
    done = fleet.client.run(
        sys.executable, "-m", "cli.main", *command, env=client_env, timeout_s=300
    )
    assert done.returncode == 0, done.stdout + done.stderr + fleet.lab.logs()
    result = json.loads(out.read_text())
    assert result["status"] == "passed"
    assert len(result["tests"]) == 4
    assert {t["worker"].split(":")[0] for t in result["tests"]} <= {
        "worker-a@work",
        "worker-b@work",
    }
    run_id = result["runId"]

    # The report, rendered by the API on the core host, inlines screenshots it reads
    # from S3 on the s3 host; an artifact comes from there too.
    report = fetch(fleet.client, f"{fleet.api}/api/v1/runs/{run_id}/report.html", headers)
    shots = [a for t in result["tests"] for a in t["artifacts"] if a.endswith(".thumb.png")]
    assert len(shots) == 4
    assert report.count(b'src="data:image/png;base64,') >= 8, "thumbnails and full size"
    assert b"missing" not in report
    name = shots[0].removesuffix(".thumb.png") + ".png"
    png = fetch(fleet.client, f"{fleet.api}/api/v1/runs/{run_id}/artifacts/{name}", headers)
    assert png.startswith(b"\x89PNG")

    # The bytes are objects in the bucket, and no part kept a file of its own.
    listing = fleet.client.run(sys.executable, "-c", LIST_OBJECTS, env=client_env)
    assert listing.returncode == 0, listing.stderr
    keys = listing.stdout.split()
    assert f"fleet/runs/{run_id}/{name}" in keys
    assert sum(k.startswith(f"fleet/runs/{run_id}/") for k in keys) == 4 * 2 + 4  # shots, logs
    for part, path in fleet.state.items():
        assert not list((path / "artifacts").rglob("*")), f"{part} wrote artifacts locally"


def test_parts_listen_on_their_own_address_only(fleet: Fleet) -> None:
    # Nothing between parts goes through 127.0.0.1: on its own host, the API is not
    # there, and from another host it answers on its address.
    assert not answers(fleet.core, f"http://127.0.0.1:{PORTS['api']}/health")
    assert answers(fleet.client, f"{fleet.api}/health")
    assert not answers(fleet.client, f"http://127.0.0.1:{PORTS['api']}/health")
    ping = fleet.core.run("redis-cli", "-h", "127.0.0.1", "-p", str(PORTS["redis"]), "ping")
    assert "PONG" not in ping.stdout


LIST_OBJECTS = f"""
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["TESTFLEET_ARTIFACTS__S3_ENDPOINT_URL"],
                  aws_access_key_id="{S3_KEY}", aws_secret_access_key="{S3_SECRET}",
                  region_name="us-east-1")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="{BUCKET}"):
    for item in page.get("Contents", []):
        print(item["Key"])
"""


def test_a_killed_runs_namespaces_are_swept_by_the_next() -> None:
    # A lab whose test process was SIGKILLed leaves its namespaces (and processes) behind;
    # their names carry the dead owner's pid, so the next lab removes them.
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text())  # never handed out
    stale = f"{PREFIX}{dead_pid}-abcdef-core"
    ip("netns", "add", stale)
    sleeper = subprocess.Popen(["ip", "netns", "exec", stale, "sleep", "600"])
    try:

        def started() -> str:
            return ip("netns", "pids", stale).stdout.strip()

        wait_until("the stale process to start", started, 10)
        assert stale in sweep_stale()
        assert sleeper.wait(10) != 0, "the process left in it was killed"
        assert stale not in ip("netns", "list").stdout
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        ip("netns", "delete", stale, check=False)
