"""How the Grid's JVMs are started: tuned flags and a class-data-sharing archive.

Measured on the 2-core dev box (Java 17, Selenium 4.48, hub + node started
together, time until ``/status`` is ready with one node's slots; 3 runs each):

| JVM flags                                              | ready   | RSS hub / node |
|--------------------------------------------------------|---------|----------------|
| (JVM defaults: G1, tiered C1+C2)                       | 2.8-3.0 s | 155 / 130 MB |
| ``-XX:+UseSerialGC``                                   | 2.7-3.4 s | 190 / 185 MB |
| ``-XX:TieredStopAtLevel=1``                            | 2.2-2.6 s | 120 / 104 MB |
| SerialGC + C1 only + ``-Xms64m -Xmx512m`` (``JAVA_OPTS``) | 2.2-2.7 s | 113 / 109 MB |
| the same + this module's class archive                 | 2.0-2.1 s | 114 / 113 MB |

The hub alone answers ``/status`` after ~2.1 s with ``JAVA_OPTS`` and ~1.6 s with
the archive. New sessions through hub + node took the same time with every flag
set (~1.0 s for the first, ~0.5 s after), so these flags only buy start time
and memory; Chromium dominates a session.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from testfleet.errors import InfrastructureError

JAVA_OPTS: tuple[str, ...] = (
    # C1 only: it compiles sooner and cheaper, which is what a process that
    # mostly forwards HTTP needs at start; C2's peak speed is never needed by a
    # Grid, and its compiler threads take CPU the browsers want (-0.5 s to ready).
    "-XX:TieredStopAtLevel=1",
    # One GC thread and no concurrent marking: on 2 cores G1's background
    # threads compete with Chromium. Alone it does not speed start up (the heap
    # grows larger); with the fixed heap below it cuts RSS by a quarter.
    "-XX:+UseSerialGC",
    # A 64 MB starting heap (no resizing while booting) and a 512 MB cap, so two
    # JVMs (hub + node) stay well clear of the browsers' memory.
    "-Xms64m",
    "-Xmx512m",
)
"""JVM flags for every Grid role, before the settings' ``java_opts``."""

_CDS_QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")
# A dump younger than this may still be being written by a JVM that is exiting.
_DUMP_SETTLE_S = 10.0
_VALIDATE_TIMEOUT_S = 30.0


def java_executable() -> str:
    """The ``java`` on PATH; raises ``InfrastructureError`` when there is none."""
    java = shutil.which("java")
    if java is None:
        raise InfrastructureError(
            "java not found on PATH: the Selenium Grid needs Java 11+; run `make setup` "
            "(installs default-jre-headless)"
        )
    return java


def class_archive_opts(
    java: str, jar: Path, jvm_opts: list[str], directory: Path, name: str
) -> list[str]:
    """JVM flags that use, or else create, a class-data-sharing archive for ``name``.

    ``jvm_opts`` are the other flags the JVM runs with (an archive is checked
    with the same ones).

    The first run of a role records the classes it loaded into a ``.dump`` file
    when the JVM exits (~1 s more to stop). The next start checks that dump with
    a throw-away JVM (``-Xshare:on``; a truncated archive crashes a JVM, so an
    unchecked one is never used) and renames it to ``<name>-<key>.jsa``, which
    every later start maps. ``key`` covers the java binary and the jar, so an
    upgrade of either starts a new archive.
    """
    directory.mkdir(parents=True, exist_ok=True)
    key = _archive_key(java, jar)
    archive = directory / f"{name}-{key}.jsa"
    if not archive.is_file():
        _promote_dumps(java, jar, jvm_opts, directory / f"{name}-{key}", archive)
    if archive.is_file():
        return [f"-XX:SharedArchiveFile={archive}", *_CDS_QUIET]
    dump = directory / f"{name}-{key}.{secrets.token_hex(4)}.dump"
    return [f"-XX:ArchiveClassesAtExit={dump}", *_CDS_QUIET]


def _archive_key(java: str, jar: Path) -> str:
    parts = []
    for path in (Path(java).resolve(), jar.resolve()):
        stat = path.stat()
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _promote_dumps(java: str, jar: Path, jvm_opts: list[str], stem: Path, archive: Path) -> None:
    now = time.time()
    for dump in sorted(stem.parent.glob(f"{stem.name}.*.dump")):
        with contextlib.suppress(FileNotFoundError):
            if now - dump.stat().st_mtime < _DUMP_SETTLE_S:
                continue
            if not archive.is_file() and _archive_loads(java, jar, jvm_opts, dump):
                dump.replace(archive)
            else:
                dump.unlink()
    if archive.is_file():
        name = stem.name.rsplit("-", 1)[0]
        for stale in stem.parent.glob(f"{name}-*.jsa"):
            if stale != archive:
                stale.unlink(missing_ok=True)


def _archive_loads(java: str, jar: Path, jvm_opts: list[str], archive: Path) -> bool:
    share = [f"-XX:SharedArchiveFile={archive}", "-Xshare:on", "-Xlog:disable"]
    command = [java, *jvm_opts, *share, "-jar", str(jar), "--version"]
    try:
        result = subprocess.run(
            command, check=False, capture_output=True, timeout=_VALIDATE_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
