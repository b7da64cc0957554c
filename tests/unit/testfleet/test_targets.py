"""The target policy without a browser: what is refused, what an allowance opens, and why."""

from __future__ import annotations

import ipaddress

import pytest

from testfleet.errors import SuiteError
from testfleet.loader import load_text
from testfleet.settings import (
    ApiSettings,
    DemoSettings,
    GridSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
)
from testfleet.targets import SETTING, TargetPolicy, page_refusal, parse_allowance, resolve


def fleet(*allowed: str, internal: tuple[str, ...] = ()) -> TargetPolicy:
    settings = Settings(
        grid=GridSettings(port=4444, node_port=5555),
        redis=RedisSettings(port=6390),
        api=ApiSettings(port=8700),
        demo=DemoSettings(port=8702),
        security=SecuritySettings(allowed_targets=allowed, internal_hosts=internal),
    )
    return TargetPolicy.from_settings(settings)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "chrome://version",
        "view-source:http://example.com/",
        "data:text/html,<b>x</b>",
        "javascript:alert(1)",
        "blob:http://example.com/uuid",
        "filesystem:http://example.com/temporary/x",
        "about:version",
        "ftp://example.com/",
        "ws://example.com/",
    ],
)
def test_only_http_pages_and_about_blank(url: str) -> None:
    refusal = TargetPolicy().check_url(url)
    assert refusal is not None
    assert "is not allowed; browsers open http(s) pages only" in refusal.message
    assert SETTING not in refusal.message, "a scheme cannot be allowed"
    assert TargetPolicy().check_url("about:blank") is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:4444/status", "the fleet's Selenium Grid"),
        ("http://localhost:4444/", "the fleet's Selenium Grid"),
        ("http://[::1]:4444/", "the fleet's Selenium Grid"),
        ("http://0.0.0.0:5555/status", "the fleet's Selenium Grid node"),
        ("http://127.0.0.1:4442/", "event bus"),
        ("http://2130706433:6390/", "the fleet's Redis"),  # 127.0.0.1, as browsers read it
        ("http://0x7f.1:8700/api/v1/runs", "the fleet's API"),
        ("http://127.0.0.1:8701/ws", "the fleet's streaming gateway"),
        ("http://127.0.0.1:8703/", "egress proxy"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
    ],
)
def test_the_fleet_and_metadata_are_refused(url: str, reason: str) -> None:
    refusal = fleet().check_url(url)
    assert refusal is not None, url
    assert reason in refusal.message
    assert SETTING in refusal.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8702/login",  # the demo site
        "http://localhost:8702/",
        "https://staging.example.com/",
        "http://10.1.2.3:8080/",  # a private network app is an app, not the fleet
        "http://127.0.0.1:3000/",  # the node's loopback: only the egress proxy can judge
    ],
)
def test_apps_and_the_demo_site_are_allowed(url: str) -> None:
    assert fleet().check_url(url) is None


def test_an_allowance_opens_a_host_and_an_exact_one_a_fleet_endpoint() -> None:
    assert fleet("169.254.169.254").check_url("http://169.254.169.254/") is None
    assert fleet("10.0.0.0/8").check_url("http://10.9.9.9:4444/") is None
    broad = fleet("127.0.0.1")
    assert broad.check_url("http://127.0.0.1:4444/") is not None, "a host never opens the Grid"
    assert fleet("127.0.0.1:4444").check_url("http://127.0.0.1:4444/") is None
    assert fleet("http://localhost:8700").check_url("http://127.0.0.1:8700/") is None
    assert fleet("*.corp.example").check_url("http://metadata.corp.example/") is None


def test_the_artifact_store_is_refused() -> None:
    settings = Settings(artifacts={"s3_endpoint_url": "http://seaweedfs:8333"})
    refusal = TargetPolicy.from_settings(settings).check_url("http://seaweedfs:8333/bucket/x")
    assert refusal is not None
    assert "the fleet's artifact store" in refusal.reason


def test_internal_hosts_are_refused_on_every_port() -> None:
    policy = fleet(internal=("selenium-hub", "minio"))
    for url in ("http://minio:9000/", "http://selenium-hub:4443/", "https://minio/"):
        refusal = policy.check_url(url)
        assert refusal is not None
        assert "internal service" in refusal.reason


@pytest.mark.parametrize(
    ("raw", "host", "port"),
    [
        ("localhost:3000", "localhost", 3000),
        ("http://app.test", "app.test", 80),
        ("https://app.test:8443/path", "app.test", 8443),
        ("[::1]:8080", "::1", 8080),
        ("Example.COM.", "example.com", None),
    ],
)
def test_allowances_parse(raw: str, host: str, port: int | None) -> None:
    allowance = parse_allowance(raw)
    assert (allowance.host, allowance.port) == (host, port)


@pytest.mark.parametrize("raw", ["", "host:http", "host:70000", "10.0.0.0/99"])
def test_a_bad_allowance_is_refused_with_what_is_wrong(raw: str) -> None:
    with pytest.raises(ValueError, match=r"allowed target|must not be empty"):
        parse_allowance(raw)
    with pytest.raises(ValueError, match=r"allowed target|must not be empty"):
        SecuritySettings(allowed_targets=(raw,))


def test_the_proxy_also_refuses_the_nodes_loopback_and_own_addresses() -> None:
    policy = fleet()
    loopback = ipaddress.ip_address("127.0.0.1")
    refusal = policy.check_address("127.0.0.1", 41234, loopback)
    assert refusal is not None
    assert "loopback" in refusal.reason
    refusal = policy.check_address("localtest.me", 80, loopback)
    assert refusal is not None, "a name that resolves to the loopback is the loopback"
    assert policy.check_address("127.0.0.1", 8702, loopback) is None, "the demo site"
    assert policy.check_address("example.com", 80, ipaddress.ip_address("93.184.215.14")) is None


def test_named_endpoints_are_known_by_their_addresses() -> None:
    policy = fleet(internal=("redis",)).with_addresses({"redis": ["172.20.0.5"]})
    refusal = policy.check_address("cache.example", 6379, ipaddress.ip_address("172.20.0.5"))
    assert refusal is not None
    assert "internal service" in refusal.reason


def test_the_loader_refuses_base_url_and_navigate_targets() -> None:
    suite = """
name: S
base_url: http://127.0.0.1:4444
tests:
  - name: t
    steps:
      - navigate: /status
      - navigate: file:///etc/passwd
      - navigate: /redirect?to=file:///etc/passwd
"""
    with pytest.raises(SuiteError) as caught:
        load_text(suite, {}, "s.yaml", targets=fleet())
    problems = caught.value.problems
    assert problems[0].startswith("s.yaml: base_url: http://127.0.0.1:4444 is refused")
    assert problems[1].startswith("s.yaml: tests[0].steps[0].navigate: http://127.0.0.1:4444")
    assert problems[2].startswith("s.yaml: tests[0].steps[1].navigate: file:///etc/passwd")
    # A path with a URL in its query is a path, on the base URL's host.
    assert problems[3].startswith("s.yaml: tests[0].steps[2].navigate: http://127.0.0.1:4444")
    assert len(problems) == 4


def test_a_suite_without_a_fleet_policy_still_refuses_local_files() -> None:
    suite = "name: S\ntests:\n  - name: t\n    steps:\n      - navigate: view-source:http://x/\n"
    with pytest.raises(SuiteError, match=r"steps\[0\]\.navigate: view-source:"):
        load_text(suite, {})


def test_resolve_matches_the_browser() -> None:
    assert resolve("http://a.test", "/login") == "http://a.test/login"
    assert resolve("http://a.test/", "login") == "http://a.test/login"
    assert resolve("http://a.test", "/go?to=file:///x") == "http://a.test/go?to=file:///x"
    assert resolve("http://a.test", "FILE:///x") == "FILE:///x"
    assert resolve(None, "about:blank") == "about:blank"


def test_a_refused_page_says_why() -> None:
    proxy = page_refusal("http://x/", ["refused", "127.0.0.1:4444 is refused ..."])
    assert proxy is not None
    assert "egress proxy refused" in proxy
    policy = page_refusal("file:///x", ["error", "", "This page is blocked"])
    assert policy is not None
    assert "URL policy" in policy
    redirect = page_refusal("http://x/", ["error", "ERR_UNSAFE_REDIRECT", ""])
    assert redirect is not None
    assert "redirected" in redirect
    assert page_refusal("http://x/", None) is None


def test_every_sentinel_of_a_sentinel_url_is_a_fleet_endpoint() -> None:
    url = "sentinel://10.0.0.7:26380;sentinel://sentinel-b/0"
    policy = TargetPolicy.from_settings(Settings(redis=RedisSettings(url=url)))
    for target in ("http://10.0.0.7:26380/", "http://sentinel-b:26379/"):
        refusal = policy.check_url(target)
        assert refusal is not None, target
        assert "Redis" in refusal.reason, target
    assert policy.check_url("http://10.0.0.7:8080/") is None
