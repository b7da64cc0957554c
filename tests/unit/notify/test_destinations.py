"""A notification never goes to the fleet's own services or to metadata addresses: the
URL is judged when a target is added, the addresses its host resolves to before each
request (a name can point anywhere)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from testfleet.errors import UsageError
from testfleet.notify import destinations
from testfleet.notify.providers import DeliveryFailed, Sender
from testfleet.notify.targets import TargetStore
from testfleet.settings import ApiSettings, NotifySettings, RedisSettings, Settings
from testfleet.targets.policy import TargetPolicy

SETTINGS = NotifySettings(secret_key="k" * 32, attempts=3, retry_first_s=0.01, retry_max_s=0.02)
FLEET = Settings(api=ApiSettings(port=18700), redis=RedisSettings(url="redis://127.0.0.1:16390/0"))
POLICY = TargetPolicy.from_settings(FLEET)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:16390/", "the fleet's Redis"),
        ("http://[::ffff:127.0.0.1]:18700/hook", "the fleet's API"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://metadata.google.internal/computeMetadata/v1", "metadata"),
    ],
)
def test_the_fleets_services_and_metadata_are_refused(url: str, reason: str) -> None:
    refused = destinations.refused_url(POLICY, url)
    assert refused is not None
    assert reason in refused


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T/B/x",
        "http://127.0.0.1:9999/in",
        "https://api.github.com",
    ],
)
def test_other_destinations_are_open(url: str) -> None:
    assert destinations.refused_url(POLICY, url) is None


def _resolving_to(address: str) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


def test_a_name_resolving_to_the_fleet_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(destinations.socket, "getaddrinfo", _resolving_to("127.0.0.1"))
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        sender = Sender(client, SETTINGS, policy=POLICY)
        with pytest.raises(DeliveryFailed, match=r"the fleet's API.*resolves to 127\.0\.0\.1"):
            sender.send("POST", "http://hooks.example.test:18700/in", json={})
        assert sent == []
        assert sender.requests == 0
        monkeypatch.setattr(destinations.socket, "getaddrinfo", _resolving_to("192.0.2.10"))
        assert sender.send("POST", "http://hooks.example.test:18700/in", json={}).status_code == 200
        assert len(sent) == 1


def test_adding_a_target_on_the_fleet_says_why_it_is_refused() -> None:
    store = TargetStore(None, SETTINGS, POLICY)  # type: ignore[arg-type]  # refused first
    with pytest.raises(UsageError, match=r"the fleet's Redis.*TESTFLEET_SECURITY__ALLOWED_TARGETS"):
        store.add("alpha", "webhook", "s3cret", url="http://127.0.0.1:16390/")
