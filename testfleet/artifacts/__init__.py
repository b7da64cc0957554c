"""The artifact store: screenshots, thumbnails, step logs and reports, by key.

One interface (``ArtifactStore``: put, get, stream, stat, list, delete by key,
plus a run's artifacts by name), three backends chosen by ``artifacts.url``:

========================================  ==========================================
``""``, ``/a/dir``, ``file:///a/dir``      ``FileStore``: a local directory (default:
                                           ``paths.artifacts``)
``s3://bucket/prefix``                    ``S3Store``: any S3-compatible object store
``memory://``                             ``MemoryStore``: one process's memory (tests)
========================================  ==========================================

Names and keys (what a thumbnail is called, where a run's artifacts live) are
decided in ``testfleet.artifacts.names`` only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from testfleet.artifacts.base import ArtifactInfo, ArtifactStore, ArtifactStream, RunArtifacts
from testfleet.artifacts.local import FileStore
from testfleet.artifacts.memory import MemoryStore
from testfleet.artifacts.names import (
    artifact_url,
    case_artifact_name,
    is_trace,
    media_type,
    safe_name,
    screenshot_name,
    screenshots,
    step_log_name,
    thumbnail_name,
    trace_name,
    visual_names,
)
from testfleet.errors import UsageError
from testfleet.settings import Settings

__all__ = [
    "ArtifactInfo",
    "ArtifactStore",
    "ArtifactStream",
    "FileStore",
    "MemoryStore",
    "RunArtifacts",
    "artifact_url",
    "case_artifact_name",
    "is_trace",
    "media_type",
    "open_store",
    "safe_name",
    "screenshot_name",
    "screenshots",
    "step_log_name",
    "store_url",
    "thumbnail_name",
    "trace_name",
    "visual_names",
]


def store_url(settings: Settings) -> str:
    """The configured store's URL (``paths.artifacts`` as a ``file://`` URL by default)."""
    url = settings.artifacts.url.strip()
    return url or settings.paths.artifacts.resolve().as_uri()


def open_store(settings: Settings) -> ArtifactStore:
    """The artifact store ``artifacts.url`` names; ``UsageError`` says how to write one."""
    url = settings.artifacts.url.strip()
    if not url:
        return FileStore(settings.paths.artifacts)
    scheme = urlsplit(url).scheme
    if scheme == "s3":
        from testfleet.artifacts.s3 import S3Store  # boto3 loads only when S3 is used

        return S3Store(url, settings.artifacts)
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise UsageError(
                f"artifact store URL {url!r}: a file URL names a local directory "
                "(file:///path), not a host"
            )
        return FileStore(Path(unquote(parts.path)))
    if scheme == "memory":
        return MemoryStore()
    if scheme == "" and url.startswith(("/", ".", "~")):
        return FileStore(Path(url).expanduser())
    raise UsageError(
        f"artifact store URL {url!r} is not supported: set TESTFLEET_ARTIFACTS__URL to a "
        "directory (/srv/artifacts or file:///srv/artifacts) or s3://BUCKET/PREFIX"
    )
