"""API keys: each belongs to a project and carries scopes; stored hashed in Redis.

One implementation, used by the API and the gateway alike. A key looks like
``tfk_<id>_<secret>``; only its SHA-256 is stored, so a leaked Redis dump does
not leak keys. ``admin`` implies every other scope.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import cast

import redis
from pydantic import BaseModel

from testfleet import keys
from testfleet.errors import AuthError, NotFoundError, UsageError

SCOPES: tuple[str, ...] = ("test:read", "test:write", "dashboard:read", "admin")


class ApiKey(BaseModel):
    """What a key may do (never the key itself)."""

    id: str
    project: str
    scopes: list[str]
    created_ms: int
    name: str | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def permissions(self) -> list[str]:
        """Every scope the key grants (``admin`` expanded)."""
        return list(SCOPES) if "admin" in self.scopes else list(self.scopes)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Create, verify, list and revoke API keys."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def create(
        self, project: str, scopes: list[str], name: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key for ``project``; returns its record and the key (shown once)."""
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise UsageError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
        if not project or not project.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"project must be letters, digits, - or _; got {project!r}")
        key_id = secrets.token_hex(4)
        key = f"tfk_{key_id}_{secrets.token_urlsafe(24)}"
        record = ApiKey(
            id=key_id, project=project, scopes=scopes, created_ms=int(time.time() * 1000), name=name
        )
        digest = _digest(key)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(keys.API_KEYS, digest, record.model_dump_json())
        pipe.hset(keys.API_KEY_IDS, key_id, digest)
        pipe.execute()
        return record, key

    def verify(self, key: str | None) -> ApiKey:
        """The record of a valid key; ``AuthError`` for a missing, unknown or revoked one."""
        if not key:
            raise AuthError(
                "an API key is required: send `Authorization: Bearer KEY` or `X-API-Key`"
            )
        raw = self._r.hget(keys.API_KEYS, _digest(key))
        if raw is None:
            raise AuthError("this API key is not valid (unknown or revoked); create one with "
                            "`testfleet keys create`")  # fmt: skip
        return ApiKey.model_validate_json(cast(str, raw))

    def list(self) -> list[ApiKey]:
        raws = cast(list[str], self._r.hvals(keys.API_KEYS))
        return sorted(
            (ApiKey.model_validate(json.loads(r)) for r in raws), key=lambda k: k.created_ms
        )

    def revoke(self, key_id: str) -> None:
        digest = self._r.hget(keys.API_KEY_IDS, key_id)
        if digest is None:
            raise NotFoundError(f"no API key with id {key_id!r} (see `testfleet keys list`)")
        pipe = self._r.pipeline(transaction=True)
        pipe.hdel(keys.API_KEYS, cast(str, digest))
        pipe.hdel(keys.API_KEY_IDS, key_id)
        pipe.execute()


def presented_key(
    authorization: str | None, x_api_key: str | None, token: str | None = None
) -> str | None:
    """The key a request presents: ``Authorization: Bearer KEY``, ``X-API-Key`` or a
    ``token`` query parameter (where one is accepted); ``AuthError`` for a malformed one."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("send the API key as `Authorization: Bearer KEY` or `X-API-Key: KEY`")
        return value.strip()
    return x_api_key or token
