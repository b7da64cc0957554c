"""Test hosts on one machine: Linux network namespaces joined by veth links to a bridge.

``NetworkLab`` makes a switch (a namespace holding a bridge) and any number of hosts,
each a namespace with loopback up and one interface ``eth0`` on the bridge with its
own private address (``10.<n>.<m>.<i>/24``). Nothing is added to the machine's own
network namespace: no bridge, no route, no address there, so a test host reaches
only other test hosts.

Cleanup is certain: ``close`` kills every process left in the lab's namespaces and
deletes them, whatever state the test left; and namespaces of a lab whose test
process is gone (SIGKILLed, machine rebooted mid-run) are swept by the next lab,
since their names carry the owner's pid (``tfmh-<pid>-<hex>-<host>``).

Needs root (``ip netns add``); without it the lab says so and the test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cli.fleet import alive

PREFIX = "tfmh-"
"""Every namespace a lab makes starts with this (and the sweep touches nothing else)."""
STOP_TIMEOUT_S = 15.0


class LabError(RuntimeError):
    """The lab could not be built; the message says why and what to do."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``; a failure raises ``LabError`` with what ``ip`` said."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if check and done.returncode != 0:
        raise LabError(f"ip {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


def _kill_namespace(name: str) -> None:
    """SIGKILL every process in namespace ``name``, then delete it (gone already is fine)."""
    for _ in range(3):
        pids = ip("netns", "pids", name, check=False).stdout.split()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    ip("netns", "delete", name, check=False)


def sweep_stale() -> list[str]:
    """Delete the namespaces of labs whose owning process is gone; returns their names."""
    listed = ip("netns", "list", check=False).stdout.splitlines()
    removed = []
    for line in listed:
        name = line.split()[0] if line.strip() else ""
        if not name.startswith(PREFIX):
            continue
        owner = name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and alive(int(owner)):
            continue  # another test run's lab, in use
        _kill_namespace(name)
        removed.append(name)
    return removed


@dataclass
class Host:
    """One test host: a namespace and its address."""

    name: str
    """The namespace (``ip netns exec NAME ...``)."""
    address: str
    lab: NetworkLab

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, *argv: str, env: dict[str, str] | None = None, timeout_s: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on this host to its end; capture what it printed."""
        return subprocess.run(
            self.command(*argv),
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )

    def spawn(
        self, label: str, argv: Sequence[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process on this host (its output in the lab's log dir)."""
        log = (self.lab.log_dir / f"{self.name.rsplit('-', 1)[-1]}-{label}.log").open("wb")
        process = subprocess.Popen(
            self.command(*argv),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.lab.processes.append((label, process, log))
        return process


@dataclass
class NetworkLab:
    """A switch and hosts; use as a context manager (``close`` always runs)."""

    log_dir: Path
    token: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(3)}")
    subnet: str = field(
        default_factory=lambda: f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250) + 1}"
    )
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{PREFIX}{self.token}-sw"

    def __enter__(self) -> NetworkLab:
        if os.geteuid() != 0:
            raise LabError(
                "the multi-host test needs root to create network namespaces "
                "(ip netns add): run it as root, as CI does"
            )
        sweep_stale()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        return self

    def _add_namespace(self, name: str) -> None:
        try:
            ip("netns", "add", name)
        except LabError as exc:
            raise LabError(
                f"cannot create network namespace {name}: {exc} (needs root and "
                "iproute2: `make setup` installs it)"
            ) from exc
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, role: str) -> Host:
        """A new host on the switch, with the next address of the lab's subnet."""
        index = len(self.hosts) + 1
        name = f"{PREFIX}{self.token}-{role}"
        self._add_namespace(name)
        port = f"p{index}"
        # Both ends are made inside their namespaces: nothing appears in the machine's own.
        peer = ["peer", "name", port, "netns", self.switch]
        ip("link", "add", "eth0", "netns", name, "type", "veth", *peer)
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        address = f"{self.subnet}.{index}"
        ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")
        host = Host(name, address, self)
        self.hosts[role] = host
        return host

    def close(self) -> None:
        """Stop every process (TERM, then KILL), then delete every namespace."""
        for _, process, _ in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _, process, log in reversed(self.processes):
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
        for name in reversed(self.namespaces):
            _kill_namespace(name)
        self.namespaces.clear()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def logs(self, tail_chars: int = 2500) -> str:
        """The end of every process's log, for a failure message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-tail_chars:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )
