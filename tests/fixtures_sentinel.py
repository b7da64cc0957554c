"""A Redis primary, its replica and three Sentinels (Debian's redis-sentinel), for failover tests.

``sentinel_cluster()`` starts them on free ports with their files in a temporary
directory, waits until the Sentinels agree on the primary and the replica is in
sync, and always stops every process. ``Cluster.kill_primary()`` SIGKILLs the
primary, as a crashed host; ``Cluster.wait_failover()`` waits for the Sentinels
to promote the replica.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.fixtures_redis import free_port
from tests.waiting import wait_until

MASTER = "mymaster"
DOWN_AFTER_MS = 2000
"""How long the Sentinels wait before they call the primary down (a Sentinel setting)."""


@dataclass
class Cluster:
    """The running servers."""

    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """testfleet's (and kombu's) Sentinel URL."""
        return ";".join(f"sentinel://127.0.0.1:{port}" for port in self.sentinel_ports) + "/0"

    def master_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers sees it."""
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                return int(address[1]) if address else None
            except redis.RedisError:
                continue
            finally:
                client.close()
        return None

    def replica_known(self) -> bool:
        """Whether every Sentinel lists the replica, up and linked to the primary."""
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
            try:
                replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER)
            finally:
                client.close()
            # redis-py parses each entry into a dict (raw pairs on older versions).
            entries = [
                r if isinstance(r, dict) else dict(zip(r[::2], r[1::2], strict=True))
                for r in replicas
            ]
            ready = [
                e
                for e in entries
                if int(e["port"]) == self.replica_port
                and e.get("master-link-status") == "ok"
                and "s_down" not in str(e.get("flags", ""))
            ]
            if not ready:
                return False
        return True

    def kill_primary(self) -> None:
        primary = self.processes["primary"]
        primary.kill()
        primary.wait(timeout=10)

    def wait_failover(self, timeout_s: float = 60) -> None:
        wait_until(
            "the Sentinels to promote the replica",
            lambda: self.master_port() == self.replica_port,
            timeout_s,
        )


def _start(
    name: str, command: list[str], directory: Path, processes: dict[str, subprocess.Popen[bytes]]
) -> None:
    log = (directory / f"{name}.log").open("ab")
    processes[name] = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    log.close()


def _replica_in_sync(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
    try:
        return client.info("replication").get("master_link_status") == "up"
    finally:
        client.close()


@contextlib.contextmanager
def sentinel_cluster() -> Iterator[Cluster]:
    """A primary, a replica and three Sentinels (quorum 2) on free ports."""
    sentinel_binary = shutil.which("redis-sentinel")
    if sentinel_binary is None:
        raise RuntimeError("redis-sentinel is not installed: run `make setup` (Debian package)")
    cluster = Cluster(free_port(), free_port(), [free_port() for _ in range(3)])
    with tempfile.TemporaryDirectory(prefix="tf-sentinel-") as tmp:
        base = Path(tmp)
        try:
            replica_of = ["--replicaof", "127.0.0.1", str(cluster.primary_port)]
            for name, port, extra in (
                ("primary", cluster.primary_port, []),
                ("replica", cluster.replica_port, replica_of),
            ):
                data = base / name
                data.mkdir()
                options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
                options += ["--appendonly", "yes", "--save", "", *extra]
                _start(name, ["redis-server", *options], base, cluster.processes)
            for i, port in enumerate(cluster.sentinel_ports):
                conf = base / f"sentinel-{i}.conf"
                conf.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {base}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {cluster.primary_port} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                    f"sentinel failover-timeout {MASTER} 10000\n"
                    f"sentinel parallel-syncs {MASTER} 1\n"
                )
                _start(f"sentinel-{i}", [sentinel_binary, str(conf)], base, cluster.processes)
            wait_until(
                "the replica to sync",
                lambda: _replica_in_sync(cluster.replica_port),
                30,
                ignore=(redis.ConnectionError,),
            )
            wait_until(
                "the Sentinels to see the primary",
                lambda: cluster.master_port() == cluster.primary_port,
                30,
            )
            # A Sentinel learns of replicas from the primary's INFO, every 10 s, and only
            # trusts a replica's own INFO if fresh: without that, a failover aborts
            # ("no good slave") and is retried only after failover-timeout.
            wait_until("every Sentinel to know the replica", cluster.replica_known, 30)
            yield cluster
        finally:
            for process in cluster.processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in cluster.processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
