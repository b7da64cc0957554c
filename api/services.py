"""What the API's routes share: settings, Redis, the run store, keys, dispatch, metrics.

Built once by ``create_app`` and kept on ``app.state``; routes reach it with
``services(request)``.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import cast

import redis
from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from api.dispatch import Dispatcher
from api.history_db import HistoryDatabase
from api.quotas import Quotas
from testfleet.artifacts import ArtifactStore
from testfleet.fleet.auth import KeyStore
from testfleet.settings import Settings
from testfleet.store import RunStore

"""Where every authenticated route lives."""


class ApiMetrics:
    """The API's Prometheus metrics (its own registry: one per app, tests build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "testfleet_api_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "testfleet_api_request_duration_seconds",
            "HTTP request handling time in seconds, by route template",
            ["route"],
            registry=self.registry,
        )
        self.runs = Counter(
            "testfleet_api_runs_submitted", "Runs accepted and queued", registry=self.registry
        )
        self.cases = Counter(
            "testfleet_api_cases_queued", "Test cases queued as tasks", registry=self.registry
        )


@dataclass
class Services:
    """The API's long-lived collaborators."""

    settings: Settings
    client: redis.Redis
    store: RunStore
    keys: KeyStore
    dispatcher: Dispatcher
    artifacts: ArtifactStore
    metrics: ApiMetrics
    quotas: Quotas
    planner: Executor
    """Where submissions are parsed, validated and planned: a few threads of their own, so
    CPU-heavy submissions queue behind each other, never in front of authentication or
    reads (which run in the server's threadpool)."""
    generator: Executor
    """Where ``POST /generate`` waits for the model (up to minutes): threads of its own for
    the same reason."""
    history: HistoryDatabase
    """Test history and quarantine (PostgreSQL), reached by their routes only."""


def services(request: Request) -> Services:
    """The app's services, from a request."""
    return cast(Services, request.app.state.services)
