"""The artifact store in memory: for unit tests (one process, gone when it ends)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from testfleet.artifacts.base import ArtifactInfo, ArtifactStore, BytesStream


class MemoryStore(ArtifactStore):
    """Artifacts in a dict; thread-safe, like the real backends."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._items: dict[str, tuple[bytes, str, int]] = {}
        self._lock = threading.Lock()

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        with self._lock:
            self._items[key] = (bytes(data), content_type, int(time.time() * 1000))

    def _open(self, key: str) -> BytesStream | None:
        with self._lock:
            item = self._items.get(key)
        return BytesStream(item[0]) if item is not None else None

    def _stat(self, key: str) -> ArtifactInfo | None:
        with self._lock:
            item = self._items.get(key)
        return ArtifactInfo(key, len(item[0]), item[2]) if item is not None else None

    def _list(self, prefix: str) -> Iterator[ArtifactInfo]:
        with self._lock:
            items = sorted((k, v) for k, v in self._items.items() if k.startswith(prefix))
        for key, (data, _, modified_ms) in items:
            yield ArtifactInfo(key, len(data), modified_ms)

    def _delete(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._items.pop(key, None)

    def content_type(self, key: str) -> str | None:
        """The type an artifact was stored with (tests check producers set it)."""
        with self._lock:
            item = self._items.get(key)
        return item[1] if item is not None else None
