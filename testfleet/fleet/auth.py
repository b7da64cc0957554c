"""API keys: each belongs to a project and carries scopes; stored hashed in Redis.

One implementation, used by the API and the gateway alike. A key looks like
``tfk_<id>_<secret>`` with a 64-bit id; only its SHA-256 is stored, so a leaked
Redis dump does not leak keys. A new key never replaces another: an id (or
digest) already taken is refused and a new one drawn. ``admin`` implies every
other scope; ``priority:critical`` lets a key submit critical work (which goes
ahead of every project's queue), and only ``admin`` implies it. ``metrics:read``
lets a key scrape ``/metrics`` (fleet-wide figures: give it to the scraper's key only).
``quarantine:write`` lets a key put its project's tests in quarantine and take them out
(their failures then stop failing runs: a scope apart from ``test:write``).

Stream tickets keep keys out of URLs (and so out of access logs and browser
history): ``issue_ticket`` trades a key for a ``tft_...`` ticket that one stream
(``/ws/events``, ``/sse/events``) may present as ``?ticket=`` within
``TICKET_TTL_S``; it is taken on first use, and stands for its key (a revoked
key's tickets are refused).
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
from testfleet.errors import AuthError, InfrastructureError, NotFoundError, UsageError

SCOPES: tuple[str, ...] = (
    "test:read",
    "test:write",
    "dashboard:read",
    "priority:critical",
    "metrics:read",
    "quarantine:write",
    "notify:write",
    "admin",
)
METRICS_SCOPE = "metrics:read"
"""The scope a Prometheus scraper's key needs for ``/metrics`` on the API and the gateway
(fleet-wide figures: no project's key sees them without it)."""
TICKET_PREFIX = "tft_"
TICKET_TTL_S = 60
"""How long a stream ticket may wait for its stream."""
_CREATE_ATTEMPTS = 3

# KEYS: 1 keys by digest, 2 ids. ARGV: 1 id, 2 digest, 3 record.
# Never overwrites: an id or digest already there refuses the new key.
_CREATE = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


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
        self._create = client.register_script(_CREATE)

    def create(
        self, project: str, scopes: list[str], name: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key for ``project``; returns its record and the key (shown once)."""
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown or not scopes:
            raise UsageError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
        if not project or not project.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"project must be letters, digits, - or _; got {project!r}")
        for _ in range(_CREATE_ATTEMPTS):
            record, key = self._new(project, scopes, name)
            stored = self._create(
                keys=[keys.API_KEYS, keys.API_KEY_IDS],
                args=[record.id, _digest(key), record.model_dump_json()],
            )
            if int(stored):
                return record, key
        raise InfrastructureError(
            f"could not draw an unused key id in {_CREATE_ATTEMPTS} attempts; try again"
        )

    @staticmethod
    def _new(project: str, scopes: list[str], name: str | None) -> tuple[ApiKey, str]:
        """A fresh key and its record (not stored): 64-bit id, 192-bit secret."""
        key_id = new_key_id()
        key = f"tfk_{key_id}_{secrets.token_urlsafe(24)}"
        created_ms = int(time.time() * 1000)
        record = ApiKey(id=key_id, project=project, scopes=scopes, created_ms=created_ms, name=name)
        return record, key

    def verify(self, key: str | None) -> ApiKey:
        """The record of a valid key; ``AuthError`` for a missing, unknown or revoked one."""
        if not key:
            raise AuthError(
                "an API key is required: send `Authorization: Bearer KEY` or `X-API-Key`"
            )
        return self._record(_digest(key))

    def _record(self, digest: str) -> ApiKey:
        raw = self._r.hget(keys.API_KEYS, digest)
        if raw is None:
            raise AuthError(
                "this API key is not valid (unknown or revoked); create one with "
                "`testfleet keys create`"
            )
        return ApiKey.model_validate_json(cast(str, raw))

    def issue_ticket(self, key: str | None) -> str:
        """A single-use stream ticket standing for ``key`` (verified first), good for
        ``TICKET_TTL_S``."""
        self.verify(key)
        assert key is not None
        ticket = TICKET_PREFIX + secrets.token_urlsafe(24)
        self._r.set(keys.stream_ticket(_digest(ticket)), _digest(key), ex=TICKET_TTL_S)
        return ticket

    def verify_stream(self, presented: str | None) -> ApiKey:
        """The key behind a stream's credential: a ticket (taken now: it works once) or a key."""
        if presented is None or not presented.startswith(TICKET_PREFIX):
            return self.verify(presented)
        digest = self._r.getdel(keys.stream_ticket(_digest(presented)))
        if digest is None:
            raise AuthError(
                "this stream ticket is unknown, used or expired (a ticket works once, within "
                f"{TICKET_TTL_S} s): get a new one with POST /api/stream-tickets"
            )
        return self._record(cast(str, digest))

    def exists(self, key_ids: list[str]) -> dict[str, bool]:
        """Whether each key id is still valid (not revoked)."""
        pipe = self._r.pipeline(transaction=False)
        for key_id in key_ids:
            pipe.hexists(keys.API_KEY_IDS, key_id)
        return {k: bool(found) for k, found in zip(key_ids, pipe.execute(), strict=True)}

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


def new_key_id() -> str:
    """A key id: 64 random bits as 16 hex digits."""
    return secrets.token_hex(8)


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
