"""The artifact store on any S3-compatible object store (AWS S3, MinIO, SeaweedFS, ...).

``s3://bucket/prefix`` plus ``artifacts.s3_*`` settings (endpoint, region,
credentials; without credentials boto3's own chain applies: ``AWS_*`` variables,
a profile, an instance or pod role). boto3 is the client: it signs requests
(SigV4), retries throttling and 5xx with backoff, and streams bodies, none of
which is worth writing again.

boto3's exceptions are translated here, once: a missing key is "not there", and
everything else becomes an ``InfrastructureError`` whose message says what to check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from testfleet.artifacts.base import CHUNK_BYTES, ArtifactInfo, ArtifactStore, ClosingStream
from testfleet.errors import InfrastructureError, UsageError
from testfleet.settings import ArtifactSettings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_DELETE_BATCH = 1000
"""Keys per DeleteObjects request (S3's limit)."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/prefix`` -> (``bucket``, ``a/prefix/``); ``UsageError`` if malformed."""
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not _BUCKET.match(bucket):
        raise UsageError(
            f"artifact store URL {url!r} is not valid: use s3://BUCKET/PREFIX with a bucket "
            "name of 3-63 lowercase letters, digits, '.' or '-'"
        )
    prefix = parts.path.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Stream(ClosingStream):
    """An object's body read in chunks."""

    def __init__(self, body: Any, size_bytes: int, where: str) -> None:
        self._body = body
        self._where = where
        self.size_bytes = size_bytes

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body.iter_chunks(CHUNK_BYTES)
        except BotoCoreError as exc:
            raise InfrastructureError(f"reading {self._where} failed midway: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        self._body.close()


class S3Store(ArtifactStore):
    """Artifacts as objects ``<prefix><key>`` in one bucket."""

    def __init__(self, url: str, settings: ArtifactSettings) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}"
        self.endpoint = settings.s3_endpoint_url
        path_style = settings.s3_path_style
        if path_style is None:
            path_style = bool(self.endpoint)  # MinIO, SeaweedFS: no bucket DNS names
        config = Config(
            region_name=settings.s3_region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "auto"},
            connect_timeout=settings.s3_timeout_s,
            read_timeout=settings.s3_timeout_s,
            retries={"mode": "standard", "max_attempts": settings.s3_max_attempts},
            max_pool_connections=settings.s3_max_connections,
        )
        secret = settings.s3_secret_access_key
        # A session per store: boto3's default session is not thread-safe to create clients on.
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=config,
        )
        if settings.s3_create_bucket:
            self.ensure_bucket()

    def _where(self) -> str:
        return f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _fail(self, action: str, exc: Exception) -> InfrastructureError:
        """One translation of boto3's errors into ours, with what to check."""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return InfrastructureError(
                    f"the artifact store {self._where()} has no bucket {self.bucket!r}: create it, "
                    "or set TESTFLEET_ARTIFACTS__S3_CREATE_BUCKET=true"
                )
            if code in _REFUSED:
                return InfrastructureError(
                    f"the artifact store {self._where()} refused to {action} ({code}): check "
                    "TESTFLEET_ARTIFACTS__S3_ACCESS_KEY_ID / __S3_SECRET_ACCESS_KEY and the "
                    "bucket's policy"
                )
            return InfrastructureError(
                f"the artifact store {self._where()} could not {action}: {code or exc}"
            )
        return InfrastructureError(
            f"the artifact store {self._where()} is not answering ({action}: {exc}); check "
            "TESTFLEET_ARTIFACTS__S3_ENDPOINT_URL and that the store is up"
        )

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (idempotent, safe when racing another process)."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in _MISSING | {"NoSuchBucket"}:
                raise self._fail("check the bucket", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("check the bucket", exc) from exc
        try:
            self._client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._fail("create the bucket", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("create the bucket", exc) from exc

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"store {key}", exc) from exc

    def _missing_or(self, action: str, call: Callable[[], T]) -> T | None:
        """``call()``; None when the object is not there, our error for anything else."""
        try:
            return call()
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise self._fail(action, exc) from exc
        except BotoCoreError as exc:
            raise self._fail(action, exc) from exc

    def _open(self, key: str) -> S3Stream | None:
        answer = self._missing_or(
            f"read {key}",
            lambda: self._client.get_object(Bucket=self.bucket, Key=self.prefix + key),
        )
        if answer is None:
            return None
        return S3Stream(answer["Body"], int(answer["ContentLength"]), f"{self.url}{key}")

    def _stat(self, key: str) -> ArtifactInfo | None:
        answer = self._missing_or(
            f"look up {key}",
            lambda: self._client.head_object(Bucket=self.bucket, Key=self.prefix + key),
        )
        if answer is None:
            return None
        modified_ms = int(answer["LastModified"].timestamp() * 1000)
        return ArtifactInfo(key, int(answer["ContentLength"]), modified_ms)

    def _list(self, prefix: str) -> Iterator[ArtifactInfo]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    modified_ms = int(item["LastModified"].timestamp() * 1000)
                    yield ArtifactInfo(key, int(item["Size"]), modified_ms)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(f"list {prefix or 'the store'}", exc) from exc

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": self.prefix + k} for k in keys[start : start + _DELETE_BATCH]]
            try:
                answer = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": batch, "Quiet": True},  # type: ignore[typeddict-item]
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(f"delete {len(batch)} artifact(s)", exc) from exc
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise InfrastructureError(
                    f"the artifact store {self._where()} kept {len(errors)} artifact(s) it was "
                    f"asked to delete (first: {first.get('Key')}: {first.get('Code')})"
                )

    def close(self) -> None:
        self._client.close()
