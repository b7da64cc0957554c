"""``/api/v1/notify``: targets in, secrets never out (not in an answer, not in Redis in
clear), a key works on its own project, an admin key on any; bad input says what to fix;
``test`` delivers now and logs it."""

from __future__ import annotations

import httpx
import pytest
import redis
from pydantic import SecretStr

from testfleet import keys
from testfleet.notify import signing
from testfleet.settings import NotifySettings, Settings
from tests.fake_receivers import receiver
from tests.integration.api.conftest import settings as api_settings
from tests.integration.api.helpers import Keys, client_for, error_of

pytestmark = pytest.mark.redis

SECRET = "whsec-never-shown-4471"


@pytest.fixture(scope="module")
def settings(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = api_settings.__wrapped__(redis_url, tmp_path_factory)  # type: ignore[attr-defined]
    notify = NotifySettings(secret_key=SecretStr("a-key-for-these-tests-only"))
    return base.model_copy(update={"notify": notify})


def _keys_with_notify(r: redis.Redis) -> tuple[str, str]:
    from testfleet.fleet.auth import KeyStore

    store = KeyStore(r)
    return store.create("alpha", ["notify:write"])[1], store.create("alpha", ["admin"])[1]


def test_targets_keep_their_secrets_and_projects(
    api_url: str, api_keys: Keys, r: redis.Redis
) -> None:
    notifier, admin = _keys_with_notify(r)
    with client_for(api_url, notifier) as client, receiver() as hook:
        added = client.post(
            "/api/v1/notify/targets",
            json={"kind": "webhook", "url": f"{hook.url}/in", "secret": SECRET},
        )
        assert added.status_code == 201, added.text
        target = added.json()
        assert target["project"] == "alpha"
        assert SECRET not in added.text
        listed = client.get("/api/v1/notify/targets")
        assert [t["id"] for t in listed.json()["targets"]] == [target["id"]]
        assert SECRET not in listed.text
        stored = r.hget(keys.notify_targets("alpha"), target["id"])
        assert stored is not None
        assert SECRET not in str(stored)

        tested = client.post(f"/api/v1/notify/targets/{target['id']}/test")
        assert tested.json()["status"] == "delivered", tested.text
        [request] = hook.received()
        assert signing.verify(
            SECRET, request.body, request.headers, float(request.json()["timestamp"]), 300
        )
        log = client.get("/api/v1/notify/deliveries").json()["deliveries"]
        assert log[0]["test"] is True
        assert log[0]["targetId"] == target["id"]

        other = client.get("/api/v1/notify/targets", params={"project": "beta"})
        assert other.status_code == 403
        assert "only an admin key" in error_of(other)["message"]
        with client_for(api_url, admin) as boss:
            made = boss.post(
                "/api/v1/notify/targets",
                json={
                    "kind": "slack",
                    "secret": "https://hooks.slack.example/T/B/xyz",
                    "project": "beta",
                },
            )
            assert made.status_code == 201, made.text
            assert made.json()["url"] == "hooks.slack.example"  # the URL is the secret
            assert "xyz" not in made.text
            assert (
                boss.delete(
                    f"/api/v1/notify/targets/{made.json()['id']}", params={"project": "beta"}
                ).status_code
                == 200
            )

        gone = client.delete(f"/api/v1/notify/targets/{target['id']}")
        assert gone.status_code == 200
        again = client.delete(f"/api/v1/notify/targets/{target['id']}")
        assert again.status_code == 404
        assert "testfleet notify list" in error_of(again)["message"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "webhook", "secret": "s"}, "needs --webhook URL"),
        ({"kind": "webhook", "secret": "s", "url": "ftp://x"}, "http:// or https://"),
        ({"kind": "github", "secret": "t"}, "--repo owner/name"),
        ({"kind": "github", "secret": "t", "repo": "nope"}, "owner/name"),
        ({"kind": "slack", "secret": "not a url"}, "Slack webhook"),
    ],
)
def test_bad_targets_say_what_to_fix(
    api_url: str, r: redis.Redis, body: dict[str, str], says: str
) -> None:
    notifier, _ = _keys_with_notify(r)
    with client_for(api_url, notifier) as client:
        answer = client.post("/api/v1/notify/targets", json=body)
    assert answer.status_code in (400, 422), answer.text
    assert says in error_of(answer)["message"]


def test_a_key_without_notify_write_cannot_see_targets(api_url: str, api_keys: Keys) -> None:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_keys.alpha}"}) as c:
        answer = c.get("/api/v1/notify/targets")
    assert answer.status_code == 403
    assert "notify:write" in error_of(answer)["message"]
