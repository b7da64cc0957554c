"""``testfleet keys create|list|revoke`` for real, against a real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from testfleet import keys
from testfleet.errors import AuthError
from testfleet.fleet.auth import KeyStore
from tests.conftest import cli

pytestmark = pytest.mark.redis


def test_create_prints_the_key_last_stores_only_its_hash_and_revoke_ends_it(
    redis_url: str, tmp_path: Path
) -> None:
    env = dict(os.environ, TESTFLEET_REDIS__URL=redis_url, TESTFLEET_PATHS__STATE_DIR=str(tmp_path))
    created = cli(
        "keys", "create", "--project", "alpha", "--scopes", "test:read,dashboard:read", env=env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tfk_")
    assert " " not in key
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    stored = str(r.hgetall(keys.API_KEYS)) + str(r.hgetall(keys.API_KEY_IDS))
    assert key not in stored, "only the key's hash is stored"
    record = KeyStore(r).verify(key)
    assert record.project == "alpha"
    assert record.scopes == ["test:read", "dashboard:read"]
    listed = cli("keys", "list", env=env)
    assert record.id in listed.stdout
    assert key not in listed.stdout
    bad = cli("keys", "create", "--project", "alpha", "--scopes", "root", env=env)
    assert bad.returncode == 2
    assert "scopes must be some of" in bad.stderr + bad.stdout
    assert cli("keys", "revoke", record.id, env=env).returncode == 0
    with pytest.raises(AuthError):
        KeyStore(r).verify(key)
    r.close()
