"""The artifact store on a local directory (the default): ``<root>/<key>``.

One machine, or several sharing a volume. Writes are atomic (a temporary file
in the same directory, then a rename), so a reader never sees half a screenshot.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from testfleet.artifacts.base import CHUNK_BYTES, ArtifactInfo, ArtifactStore, ClosingStream

_TMP_PREFIX = ".tmp-"


class FileStream(ClosingStream):
    """An open file read in chunks."""

    def __init__(self, handle: BinaryIO, size_bytes: int) -> None:
        self._handle = handle
        self.size_bytes = size_bytes

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._handle.read(CHUNK_BYTES):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._handle.close()


class FileStore(ArtifactStore):
    """Artifacts as files under ``root`` (created on the first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.resolve().as_uri() if root.is_absolute() else f"file:{root}"

    def _path(self, key: str) -> Path:
        # Keys are checked by the base class: plain segments, so this stays under root.
        return self.root.joinpath(*key.split("/"))

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            tmp.write_bytes(data)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def _open(self, key: str) -> FileStream | None:
        try:
            handle = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        size = os.fstat(handle.fileno()).st_size
        return FileStream(handle, size)

    def _stat(self, key: str) -> ArtifactInfo | None:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return ArtifactInfo(key, st.st_size, int(st.st_mtime * 1000))

    def _list(self, prefix: str) -> Iterator[ArtifactInfo]:
        # Walk only the directory the prefix names (not the whole root), depth first.
        directory, _, partial = prefix.rpartition("/")
        start = self._path(directory) if directory else self.root
        yield from self._walk(start, directory + "/" if directory else "", partial, prefix)

    def _walk(self, path: Path, key_dir: str, partial: str, prefix: str) -> Iterator[ArtifactInfo]:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.name.startswith(_TMP_PREFIX) or not entry.name.startswith(partial):
                continue
            key = key_dir + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from self._walk(Path(entry.path), key + "/", "", prefix)
                elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                    st = entry.stat(follow_symlinks=False)
                    yield ArtifactInfo(key, st.st_size, int(st.st_mtime * 1000))
            except FileNotFoundError:
                continue  # deleted while listing (another sweeper)

    def _delete(self, keys: list[str]) -> None:
        parents: set[Path] = set()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parents.add(path.parent)
        # Empty directories left behind go too, up to the root.
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            _prune(parent, self.root)


def _prune(directory: Path, root: Path) -> None:
    """Remove ``directory`` and its parents below ``root`` while they are empty."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (or gone): stop here
        directory = directory.parent
