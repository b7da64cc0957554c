"""The target policy without a browser: what is refused, what an allowance opens, and why."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from testfleet.errors import SuiteError
from testfleet.settings import (
    ApiSettings,
    DemoSettings,
    GridSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
)
from testfleet.suites.loader import load_text
from testfleet.targets.policy import SETTING, TargetPolicy, page_refusal, parse_allowance, resolve


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
    settings = Settings(security=SecuritySettings(allowed_targets=(raw,)))
    with pytest.raises(ValueError, match=r"allowed target|must not be empty"):
        TargetPolicy.from_settings(settings)  # what every process builds at start


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


# -- one address, every spelling (issue: IPv4-mapped IPv6 reached the fleet) ------------

INTERNAL = "10.99.0.2"
INTERNAL_SPELLINGS = {
    "IPv4-mapped": "::ffff:10.99.0.2",
    "IPv4-mapped, hex": "::ffff:a63:2",
    "IPv4-compatible": "::10.99.0.2",
    "NAT64": "64:ff9b::a63:2",
    "NAT64 local-use /48": "64:ff9b:1:a63:0:200::",
    "NAT64 local-use /96": "64:ff9b:1::a63:2",
    "6to4": "2002:a63:2::1",
    "Teredo": "2001:0:4136:e378:8000:63bf:f59c:fffd",
}


@pytest.mark.parametrize("v6", INTERNAL_SPELLINGS.values(), ids=INTERNAL_SPELLINGS.keys())
def test_an_ipv6_spelling_of_a_fleet_endpoint_is_the_endpoint(v6: str) -> None:
    policy = fleet(internal=(INTERNAL,))
    url = f"http://[{v6}]:8888/"
    refusal = policy.check_url(url)
    assert refusal is not None, url
    assert "the fleet's internal service" in refusal.reason, refusal.message
    # The proxy's check: a public name whose AAAA record is that spelling.
    resolved = policy.check_address("aaaa.example", 8888, ipaddress.ip_address(v6))
    assert resolved is not None, v6
    assert "the fleet's internal service" in resolved.reason


@pytest.mark.parametrize("v6", ["::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1"])
def test_an_ipv6_spelling_of_the_loopback_is_the_loopback(v6: str) -> None:
    policy = fleet()
    refusal = policy.check_address("aaaa.example", 41234, ipaddress.ip_address(v6))
    assert refusal is not None
    assert "loopback" in refusal.reason
    grid = policy.check_address("aaaa.example", 4444, ipaddress.ip_address(v6))
    assert grid is not None
    assert "the fleet's Selenium Grid" in grid.reason


def test_endpoints_and_allowances_written_in_ipv6_are_compared_as_ipv4() -> None:
    written_v6 = fleet(internal=("::ffff:10.99.0.2",))
    refusal = written_v6.check_url("http://10.99.0.2:8888/")
    assert refusal is not None
    assert "internal service" in refusal.reason
    named = fleet(internal=("store",)).with_addresses({"store": ["::ffff:10.99.0.2"]})
    assert named.check_address("x.example", 80, ipaddress.ip_address("10.99.0.2")) is not None
    opened = fleet("[::ffff:127.0.0.1]:4444")
    assert opened.check_url("http://127.0.0.1:4444/") is None, "the exact endpoint, allowed"


def test_a_broad_allowance_does_not_open_an_embedded_endpoint() -> None:
    policy = fleet("2002::/16", "64:ff9b::/96", internal=(INTERNAL,))
    for v6 in ("2002:a63:2::1", "64:ff9b::a63:2"):
        refusal = policy.check_address("x.example", 80, ipaddress.ip_address(v6))
        assert refusal is not None, v6
        assert "internal service" in refusal.reason


def test_nat64_addresses_of_ordinary_hosts_pass_the_proxy() -> None:
    """On an IPv6-only network DNS64 answers every name with a NAT64 address."""
    nat64 = ipaddress.ip_address("64:ff9b::5db8:d70e")  # 93.184.215.14
    assert fleet().check_address("example.com", 443, nat64) is None


# -- URLs as browsers read them -----------------------------------------------------------

BROWSER_FORMS = {
    "backslash is a slash": "http://127.0.0.1:4444\\@example.com/",
    "backslashes for slashes": "http:\\\\127.0.0.1:4444/",
    "ideographic full stops": "http://127。0。0。1:4444/",
    "fullwidth digits": "http://１２７.０.０.１:4444/",
    "circled digits": "http://①②⑦.0.0.1:4444/",
    "escaped trailing dot": "http://localhost%2e:4444/",
    "mapped, hex": "http://[::ffff:7f00:1]:4444/",
    "mapped, dotted": "http://[::ffff:127.0.0.1]:4444/",
    "tab in the port": "http://127.0.0.1:44\t44/",
    "decimal": "http://2130706433:4444/",
}


@pytest.mark.parametrize("url", BROWSER_FORMS.values(), ids=BROWSER_FORMS.keys())
def test_urls_are_judged_where_browsers_go(url: str) -> None:
    refusal = fleet().check_url(url)
    assert refusal is not None, url
    assert "the fleet's Selenium Grid" in refusal.reason, refusal.message
    assert refusal.target.startswith("http://"), refusal.target


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com\\@app.example/", "backslash before its path"),
        ("http://[::ffff:a00:5]:8080/", "embedding the IPv4 address 10.0.0.5"),
        ("http://[64:ff9b::a00:5]/", "embedding the IPv4 address 10.0.0.5"),
        ("http://[2002:a00:5::1]/", "embedding the IPv4 address 10.0.0.5"),
        ("http://ex%20ample.com/", "not a valid URL"),
        ("http://exa\u0378mple.com/", "not a valid URL"),  # not valid IDNA
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_urls_read_differently_elsewhere_are_refused(url: str, reason: str) -> None:
    refusal = fleet().check_url(url)
    assert refusal is not None, url
    assert reason in refusal.reason, refusal.message


def test_ordinary_urls_still_pass() -> None:
    for url in (
        "http://例え.jp/",
        "https://user:pw@app.example:8443/x\\y",  # a backslash in the path is a path
        "http://[2001:db8::5]/",
        "HTTP://APP.EXAMPLE/",
    ):
        assert fleet().check_url(url) is None, url


def test_the_loader_refuses_browser_forms_naming_the_step() -> None:
    suite = """
name: S
base_url: http://127。0。0。1:4444
tests:
  - name: t
    steps:
      - navigate: http://[::ffff:7f00:1]:6390/
      - navigate: http://localhost%2e:8700/api/v1/runs
"""
    with pytest.raises(SuiteError) as caught:
        load_text(suite, {}, "s.yaml", targets=fleet())
    problems = caught.value.problems
    assert problems[0].startswith("s.yaml: base_url: http://127.0.0.1:4444 (how browsers read")
    assert "Selenium Grid" in problems[0]
    assert problems[1].startswith("s.yaml: tests[0].steps[0].navigate: http://[::ffff:7f00:1]")
    assert "the fleet's Redis" in problems[1]
    assert problems[2].startswith("s.yaml: tests[0].steps[1].navigate: http://localhost.:8700")
    assert "the fleet's API" in problems[2]


@pytest.mark.parametrize(
    "content",
    [
        "http://10.99.0.2:8888 is refused by the fleet's target policy: ...",  # before
        "This address is refused by the fleet's target policy.",  # generic, names nothing
    ],
)
def test_a_proxy_refusal_takes_its_detail_from_the_workers_own_check(content: str) -> None:
    own = fleet(internal=(INTERNAL,)).check_url("http://[::ffff:a63:2]:8888/")
    detailed = page_refusal("http://[::ffff:a63:2]:8888/", ["refused", content], own)
    assert detailed is not None
    assert "egress proxy refused" in detailed
    assert "the fleet's internal service" in detailed
    fallback = page_refusal("http://app.example/", ["refused", content], None)
    assert fallback == f"the browser's egress proxy refused the page: {content}"


# -- every IPv6 embedding of a refused IPv4 endpoint is refused (property) ----------------


def _rfc6052(prefix: int, prefix_bits: int, v4: int, suffix: int) -> ipaddress.IPv6Address:
    """``v4`` embedded under an RFC 6052 prefix: its bits follow the prefix, skipping
    bits 64-71; ``suffix`` fills the bits after it."""
    bits = f"{prefix:0128b}"[:prefix_bits]
    v4_bits = f"{v4:032b}"
    if prefix_bits < 64:
        head = 64 - prefix_bits
        bits += v4_bits[:head] + "00000000" + v4_bits[head:]
    elif prefix_bits == 64:
        bits += "00000000" + v4_bits
    else:
        bits += v4_bits
    bits += f"{suffix:0128b}"[len(bits) :]
    return ipaddress.IPv6Address(int(bits, 2))


@st.composite
def embeddings(draw: st.DrawFn, v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    value = int(v4)
    kind = draw(st.sampled_from(["mapped", "compatible", "nat64", "local", "6to4", "teredo"]))
    noise = draw(st.integers(0, 2**128 - 1))
    if kind == "mapped":
        return ipaddress.IPv6Address((0xFFFF << 32) | value)
    if kind == "compatible":
        return ipaddress.IPv6Address(value)
    if kind == "nat64":
        return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | value)
    if kind == "local":
        local = int(ipaddress.IPv6Address("64:ff9b:1::")) | (noise & ((1 << 80) - 1))
        return _rfc6052(local, draw(st.sampled_from([48, 56, 64, 96])), value, noise)
    if kind == "6to4":
        return ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | (noise & ((1 << 80) - 1)))
    server = noise & 0xFFFFFFFF  # Teredo: server, flags and port are anything
    flags_port = (noise >> 32) & 0xFFFFFFFF
    return ipaddress.IPv6Address(
        (0x20010000 << 96) | (server << 64) | (flags_port << 32) | (value ^ 0xFFFFFFFF)
    )


@given(data=st.data(), v4=st.ip_addresses(v=4), port=st.integers(1, 65535))
def test_every_ipv6_embedding_of_a_refused_endpoint_is_refused(
    data: st.DataObject, v4: ipaddress.IPv4Address, port: int
) -> None:
    assume(int(v4) > 1)  # ::0.0.0.0 and ::0.0.0.1 are IPv6's own :: and ::1
    v6 = data.draw(embeddings(v4))
    policy = fleet(internal=(str(v4),))
    # An embedding can also decode to 0.0.0.0 (64:ff9b:1::a00:0 is 10.0.0.0 under /96 and
    # 0.0.0.0 under /48): on one of the fleet's own ports that is refused as the fleet's
    # service, rightly, so the reason checked here is only certain on other ports.
    assume(policy.check_url(f"http://127.0.0.1:{port}/") is None)
    assert policy.check_url(f"http://{v4}:{port}/") is not None, "the plain form, refused"
    url_refusal = policy.check_url(f"http://[{v6}]:{port}/")
    assert url_refusal is not None, v6
    assert "internal service" in url_refusal.reason, (v6, url_refusal.reason)
    proxy_refusal = policy.check_address("name.example", port, v6)
    assert proxy_refusal is not None, v6
    assert "internal service" in proxy_refusal.reason, (v6, proxy_refusal.reason)


def test_a_network_allowance_written_mapped_is_the_ipv4_network() -> None:
    allowance = parse_allowance("::ffff:10.0.0.0/104")
    assert allowance.network == ipaddress.ip_network("10.0.0.0/8")
    assert fleet("::ffff:169.254.0.0/112").check_url("http://169.254.169.254/") is None
