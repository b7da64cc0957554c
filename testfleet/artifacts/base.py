"""The artifact store's interface: put, get, stream, list and delete by key.

Three backends implement the five abstract methods: a local directory
(``FileStore``), any S3-compatible object store (``S3Store``) and memory
(``MemoryStore``, for unit tests). Everything else here is built on those five,
so each backend behaves the same by construction, and one contract test suite
(``tests/contract_artifacts.py``) checks each of them.

Keys are checked (``names.check_key``) before any backend sees them: a key given
by a client can never reach outside the store's root or prefix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, Self

from testfleet.artifacts import names
from testfleet.errors import NotFoundError

CHUNK_BYTES = 64 * 1024
"""Size of the pieces a streaming read yields."""


@dataclass(frozen=True)
class ArtifactInfo:
    """One stored artifact."""

    key: str
    size_bytes: int
    modified_ms: int
    """When it was last written (ms since the epoch)."""


class ArtifactStream(Protocol):
    """An open artifact: its size, and its bytes in pieces of ``CHUNK_BYTES`` at most.

    Iterate it once; ``close`` it (or use ``with``) when done, iterated to the end or not.
    """

    size_bytes: int

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...

    def __enter__(self) -> ArtifactStream: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class RunArtifacts:
    """A run's artifacts in a store, for retention."""

    run_id: str
    count: int
    newest_ms: int
    """When the newest of them was written (ms since the epoch)."""


class ArtifactStore(ABC):
    """Artifacts by key, whatever the backend."""

    url: str
    """Where the store is (``file:///...``, ``s3://bucket/prefix``, ``memory://``), for messages."""

    # -- what a backend implements ------------------------------------------------------

    @abstractmethod
    def _put(self, key: str, data: bytes, content_type: str) -> None:
        """Write ``data`` at ``key``, replacing what was there; readers see the old bytes or
        the new ones, never a part."""

    @abstractmethod
    def _open(self, key: str) -> ArtifactStream | None:
        """The artifact at ``key`` opened for reading, or None when there is none."""

    @abstractmethod
    def _stat(self, key: str) -> ArtifactInfo | None:
        """What is stored at ``key``, or None."""

    @abstractmethod
    def _list(self, prefix: str) -> Iterator[ArtifactInfo]:
        """Every artifact whose key starts with ``prefix`` (``""``: all), sorted within a
        directory, each directory's keys together (S3 sorts ``a/b-x`` before ``a/b/``,
        a directory walk after: nothing relies on that)."""

    @abstractmethod
    def _delete(self, keys: list[str]) -> None:
        """Delete ``keys``; a key with nothing stored is no error."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Let go of connections (idempotent)."""

    # -- by key -------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` at ``key`` (atomically: a reader never sees half of it)."""
        names.check_key(key)
        self._put(key, data, content_type or names.media_type(key))

    def open(self, key: str) -> ArtifactStream:
        """The artifact at ``key`` as a stream of chunks; ``NotFoundError`` when missing."""
        stream = self._open(names.check_key(key))
        if stream is None:
            raise NotFoundError(f"no artifact {key!r} in {self.url}")
        return stream

    def get(self, key: str) -> bytes:
        """The whole artifact at ``key`` (for small ones; stream big ones with ``open``)."""
        with self.open(key) as stream:
            return b"".join(stream)

    def stat(self, key: str) -> ArtifactInfo | None:
        """Size and time of the artifact at ``key``, or None when there is none."""
        return self._stat(names.check_key(key))

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def list(self, prefix: str = "") -> Iterator[ArtifactInfo]:
        """Artifacts whose key starts with ``prefix``, a directory's keys together and
        sorted (lazily, page by page)."""
        if prefix:
            names.check_key(prefix.rstrip("/"))
        return self._list(prefix)

    def delete(self, key: str) -> None:
        """Delete the artifact at ``key`` (nothing there is fine)."""
        self._delete([names.check_key(key)])

    def delete_prefix(self, prefix: str, batch: int = 1000) -> int:
        """Delete every artifact under ``prefix`` (which must end in ``/``); returns how many."""
        if not prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r} must end with '/'")
        removed = 0
        pending: list[str] = []
        for info in self.list(prefix):
            pending.append(info.key)
            if len(pending) >= batch:
                self._delete(pending)
                removed += len(pending)
                pending = []
        if pending:
            self._delete(pending)
            removed += len(pending)
        return removed

    # -- a run's artifacts --------------------------------------------------------------

    def save(self, run_id: str, name: str, data: bytes) -> str:
        """Store a run's artifact ``name``; returns the name (what the run's result lists)."""
        self.put(names.run_key(run_id, name), data)
        return name

    def read(self, run_id: str, name: str) -> bytes:
        """A run's artifact, whole; ``NotFoundError`` names the run and the artifact."""
        with self.open_run_artifact(run_id, name) as stream:
            return b"".join(stream)

    def open_run_artifact(self, run_id: str, name: str) -> ArtifactStream:
        """A run's artifact as a stream; ``UsageError`` for a name that is not plain,
        ``NotFoundError`` when the run has no such artifact."""
        key = names.run_key(run_id, name)
        stream = self._open(key)
        if stream is None:
            raise NotFoundError(f"run {run_id} has no artifact {name!r}")
        return stream

    def has_run_artifact(self, run_id: str, name: str) -> bool:
        return self._stat(names.run_key(run_id, name)) is not None

    def delete_run(self, run_id: str) -> int:
        """Delete every artifact of a run; returns how many there were."""
        return self.delete_prefix(names.run_prefix(run_id))

    def runs(self) -> Iterator[RunArtifacts]:
        """Every run that has artifacts here, with their count and newest write time."""
        current: RunArtifacts | None = None
        for info in self._list(names.RUNS_PREFIX):
            run_id = names.run_of_key(info.key)
            if run_id is None:
                continue
            if current is not None and current.run_id == run_id:
                current = RunArtifacts(
                    run_id, current.count + 1, max(current.newest_ms, info.modified_ms)
                )
                continue
            if current is not None:
                yield current
            current = RunArtifacts(run_id, 1, info.modified_ms)
        if current is not None:
            yield current


class ClosingStream:
    """What every backend's stream shares: ``with`` closes it."""

    size_bytes: int

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesStream(ClosingStream):
    """An ``ArtifactStream`` over bytes already in memory."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size_bytes = len(data)

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._data), CHUNK_BYTES):
            yield self._data[start : start + CHUNK_BYTES]

    def close(self) -> None:
        self._data = b""
