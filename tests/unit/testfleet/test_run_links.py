"""A run's links are built in one place (``testfleet.constants``, beside ``API_PREFIX``)."""

from __future__ import annotations

from testfleet.constants import (
    API_PREFIX,
    dashboard_url,
    junit_path,
    report_path,
    run_events_url,
    run_path,
    run_websocket_url,
)


def test_a_runs_api_paths_are_under_the_api_prefix() -> None:
    assert run_path("r1") == f"{API_PREFIX}/runs/r1"
    assert report_path("r1") == f"{API_PREFIX}/runs/r1/report.html"
    assert junit_path("r1") == f"{API_PREFIX}/runs/r1/junit.xml"


def test_a_runs_gateway_links_follow_the_gateways_scheme() -> None:
    assert run_events_url("http://gw:8001/", "r1") == "http://gw:8001/sse/events?runId=r1"
    assert run_websocket_url("http://gw:8001/", "r1") == "ws://gw:8001/ws/events/r1"
    assert run_websocket_url("https://gw.example", "r1") == "wss://gw.example/ws/events/r1"
    assert dashboard_url("https://gw.example/", "r1") == "https://gw.example/dashboard#/runs/r1"
