"""docker-compose.yml's artifact store, run with the flags compose gives it: from another
host only the S3 gateway (keys required) answers; the filer's HTTP API, which lists,
reads, overwrites and deletes any object with no credentials, does not.

Two hosts (network namespaces, ``tests.netns``): ``store`` runs ``weed server`` with the
command line of compose's ``seaweedfs`` service (only its data directory and the S3
identities file moved into the test's directory; SeaweedFS's default ports, which are
free in a namespace of its own); ``peer`` stands for any container on the same network.

Before the fix, compose started ``weed server -s3`` with every part on every address:
``peer`` listed and read the objects through ``http://store:8888/`` without a key.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.fixtures_s3 import weed_binary, write_s3_config
from tests.netns import Host, NetworkLab
from tests.waiting import wait_until

pytestmark = [pytest.mark.s3, pytest.mark.multihost, pytest.mark.slow]

ACCESS_KEY = "compose-test-access"
SECRET_KEY = "compose-test-secret-key-0123456789"
S3_PORT = 8333
FILER_PORT = 8888
MASTER_PORT = 9333
VOLUME_PORT = 8080
START_TIMEOUT_S = 90.0

PROBE = """
import json, socket, sys, urllib.request
import boto3
from botocore.config import Config
host, ports, key, secret = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
found = {"open": [], "s3": None, "anonymous_s3": None}
def client(secret_key):
    return boto3.client("s3", endpoint_url=f"http://{host}:8333", aws_access_key_id=key,
                        aws_secret_access_key=secret_key, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))
try:
    s3 = client(secret)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="p/shot.png", Body=b"pixels")
    found["s3"] = s3.get_object(Bucket="artifacts", Key="p/shot.png")["Body"].read().decode()
except Exception as exc:
    found["s3"] = f"error: {exc}"
try:
    urllib.request.urlopen(f"http://{host}:8333/artifacts/p/shot.png", timeout=5).read()
    found["anonymous_s3"] = "served"
except Exception as exc:
    found["anonymous_s3"] = f"refused: {exc}"
# Scanned once S3 answered: before, the gateway may still be starting, and a port
# scanned too early would read as closed.
for port in ports:
    try:
        socket.create_connection((host, port), timeout=2).close()
        found["open"].append(port)
    except OSError:
        pass
print(json.dumps(found))
"""


def compose_weed_flags(data_dir: Path, s3_config: Path) -> list[str]:
    """The ``weed server`` flags of compose's seaweedfs service, with its two paths moved."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    (script,) = compose["services"]["seaweedfs"]["command"]
    words = str(script).split()
    start = words.index("weed") + 2  # after "weed server"
    moved = {"-dir": f"-dir={data_dir}", "-s3.config": f"-s3.config={s3_config}"}
    return [moved.get(flag.split("=", 1)[0], flag) for flag in words[start:]]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkLab]:
    workdir = tmp_path_factory.mktemp("compose-seaweedfs")
    with NetworkLab(workdir / "logs") as lab:
        store = lab.add_host("store")
        lab.add_host("peer")
        (workdir / "data").mkdir()
        write_s3_config(workdir / "s3.json", ACCESS_KEY, SECRET_KEY)
        argv = [weed_binary(), "server", *compose_weed_flags(workdir / "data", workdir / "s3.json")]
        store.spawn("weed", argv, {"PATH": "/usr/bin:/bin"})
        yield lab


def probe(peer: Host, store: Host) -> dict[str, object]:
    ports = [S3_PORT, FILER_PORT, MASTER_PORT, VOLUME_PORT, FILER_PORT + 10000]
    done = peer.run(
        sys.executable,
        "-c",
        PROBE,
        store.address,
        json.dumps(ports),
        ACCESS_KEY,
        SECRET_KEY,
        timeout_s=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, object] = json.loads(done.stdout)
    return found


def listeners(store: Host) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening in ``store``'s namespace."""
    done = store.run("ss", "-ltnH")
    found = set()
    for line in done.stdout.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        found.add((address.strip("[]"), int(port)))
    return found


def test_only_the_s3_gateway_answers_another_host(lab: NetworkLab) -> None:
    store, peer = lab.hosts["store"], lab.hosts["peer"]

    def up() -> dict[str, object] | None:
        found = probe(peer, store)
        return found if found["s3"] == "pixels" else None

    try:
        found = wait_until("compose's SeaweedFS serving S3 to another host", up, START_TIMEOUT_S)
    except AssertionError:
        pytest.fail(f"S3 never answered with compose's flags:\n{lab.logs()}")
    assert found["open"] == [S3_PORT], f"reachable from another host: {found['open']}"
    assert str(found["anonymous_s3"]).startswith("refused"), "S3 served an unsigned request"
    # The filer and the rest are up (the S3 gateway stores through them), on loopback.
    local = listeners(store)
    for port in (FILER_PORT, MASTER_PORT, VOLUME_PORT):
        assert ("127.0.0.1", port) in local, port
    exposed = {port for address, port in local if address not in ("127.0.0.1", "::1")}
    # S3 and its gRPC port (SeaweedFS binds both with -s3.ip.bind).
    assert exposed <= {S3_PORT, S3_PORT + 10000}, exposed
    filer = subprocess.run(
        store.command(
            "curl", "-sf", "-m", "5", f"http://127.0.0.1:{FILER_PORT}/buckets/artifacts/p/"
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert "shot.png" in filer.stdout, "the filer is the one S3 stores through"
