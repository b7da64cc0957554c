"""The artifact store: screenshots, thumbnails and step logs, per run, on a filesystem.

On one machine it is a local directory; on many, a volume shared by workers and
the API. Names are flat (``<case id>-<step>-<label>.png``) and checked, so a name
given by a client can never reach outside its run's directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from testfleet.constants import API_PREFIX
from testfleet.errors import NotFoundError, UsageError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """``text`` made into a valid artifact name part (letters, digits, ``._-``)."""
    cleaned = _UNSAFE_CHARS.sub("-", text).strip("-.")[:80]
    return cleaned or "artifact"


class ArtifactStore:
    """Files per run under ``root/<run id>/<name>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, run_id: str) -> Path:
        if not _SAFE_NAME.match(run_id):
            raise NotFoundError(f"run {run_id!r} does not exist")
        return self.root / run_id

    def path(self, run_id: str, name: str) -> Path:
        """Where an artifact lives; raises ``UsageError`` for a name that is not plain."""
        if not _SAFE_NAME.match(name) or ".." in name:
            raise UsageError(
                f"artifact name {name!r} is not valid: use the names listed in the run's result"
            )
        return self._dir(run_id) / name

    def save(self, run_id: str, name: str, data: bytes) -> str:
        """Write an artifact atomically (write then rename); returns its name."""
        path = self.path(run_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return name

    def read(self, run_id: str, name: str) -> bytes:
        path = self.path(run_id, name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"run {run_id} has no artifact {name!r}") from None

    def exists(self, run_id: str, name: str) -> bool:
        return self.path(run_id, name).is_file()


def artifact_url(run_id: str, name: str) -> str:
    """The API path that serves an artifact."""
    return f"{API_PREFIX}/runs/{run_id}/artifacts/{name}"
