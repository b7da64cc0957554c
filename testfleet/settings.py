"""The one settings class.

Built once in each entry point (``Settings()``) and passed down; nothing below
an entry point reads the environment. Every field can be set with an
environment variable ``TESTFLEET_<SECTION>__<FIELD>`` (for example
``TESTFLEET_REDIS__URL``) or in a ``.env`` file. The OpenAI key and base URL
are read from ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, as the SDK reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CHROME_ARGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    # chromedriver talks to Chromium over a pipe, not a DevTools TCP port: no page (of
    # this session or any other on the node) can find a port to take the browser over
    # with, and the Grid hands out no se:cdp URL for it.
    "--remote-debugging-pipe",
    # No back/forward cache: a pooled session must not keep the previous test's pages
    # alive (their scripts, memory), and leaving a page for about:blank between tests
    # then costs ~60 ms instead of ~170 ms (measured through the Grid).
    "--disable-features=BackForwardCache",
)


class RedisSettings(BaseModel):
    """Where the broker, the run store and the event stream live (one Redis, or one
    Sentinel-managed primary: every component connects through ``testfleet.fleet.redisconn``)."""

    url: str = ""
    """Where Redis is; defaults to the local one on ``port``. ``redis://[:PASSWORD@]HOST:PORT/DB``
    (``rediss://`` for TLS), or Redis Sentinel as kombu writes it:
    ``sentinel://HOST:26379;sentinel://HOST2:26379/DB`` with ``sentinel_master``."""
    port: int = 6390
    """Port ``testfleet up`` starts redis-server on."""
    sentinel_master: str = "mymaster"
    """The primary's name in Sentinel (``SENTINEL MONITOR <name> ...``), for ``sentinel://``."""
    connect_timeout_s: float = Field(default=2.0, gt=0)
    """Cap on opening one connection: a Redis that is down is reported in about this long
    (the API answers 503), not after the kernel's minutes."""
    socket_timeout_s: float = Field(default=15.0, gt=0)
    """Cap on one command's answer (above the longest blocking read, ``gateway.read_block_ms``)."""

    @model_validator(mode="after")
    def _default_url(self) -> Self:
        self.url = self.url or f"redis://127.0.0.1:{self.port}/0"
        return self

    stream_maxlen: int = 200_000
    """Approximate cap on the global event stream, in entries."""
    run_stream_maxlen: int = 20_000
    """Approximate cap on one run's own event stream, in entries."""


class GridSettings(BaseModel):
    """The Selenium Grid the workers drive, and how ``testfleet grid`` starts one."""

    url: str = ""
    """The Grid (hub or standalone) workers use; defaults to the local one on ``port``."""
    host: str = "127.0.0.1"
    """Address ``testfleet grid hub|standalone`` listens on (``0.0.0.0`` for other machines)."""
    port: int = 4444
    event_bus_publish_port: int = 4442
    """Hub's event bus: nodes publish to it (``testfleet grid node`` uses ``url``'s host)."""
    event_bus_subscribe_port: int = 4443
    """Hub's event bus: nodes subscribe to it."""
    node_host: str = "127.0.0.1"
    """Address ``testfleet grid node`` listens on and registers with the hub as."""
    node_port: int = 5555
    provider: Literal["grid", "local"] = "grid"
    """``grid`` drives ``webdriver.Remote`` on ``url``; ``local`` starts chromedriver directly."""
    jar_path: Path | None = None
    """The Selenium server jar; when unset, the one ``make setup`` cached is used."""
    selenium_version: str = "4.48.0"
    java_opts: tuple[str, ...] = ()
    """Extra JVM flags for ``testfleet grid``, after the tuned defaults (``-Xmx1g`` wins)."""
    class_archive: bool = True
    """Keep a class-data-sharing archive per Grid role in the cache: JVM start ~0.5 s faster."""
    chromium_binary: Path = Path("/usr/bin/chromium")
    chromedriver_path: Path = Path("/usr/bin/chromedriver")
    """The local provider's chromedriver. When it is missing (and none is on ``PATH``),
    webdriver-manager fetches the one matching the installed browser into
    ``paths.cache_dir`` (``grid.driver``)."""
    chromedriver_mirror: str = ""
    """Base URL of a mirror of Chrome for Testing that serves its JSON endpoints and
    downloads under their own paths (``/chrome-for-testing/...``,
    ``/chrome-for-testing-public/...``); empty: Google's servers."""
    max_sessions: int = 2
    """Browser sessions one node offers at once."""
    session_request_timeout_s: int = 300
    """How long a new-session request may wait in the Grid's queue for a free slot."""
    session_retry_interval_s: float = 0.5
    """How often the Grid's queue retries a waiting request once a slot frees."""
    session_timeout_s: int = 60
    """A session idle this long (no command) is closed by the node: the time a SIGKILLed
    worker's browsers hold their Grid slots. A ``wait`` step longer than this ends its session."""
    chrome_args: tuple[str, ...] = DEFAULT_CHROME_ARGS
    window_width: int = 1280
    window_height: int = 800
    new_session_timeout_s: float = 60.0
    """Client-side cap on opening one session (queueing included)."""
    pool_size: int = Field(default=1, ge=0)
    """Browser sessions each worker process keeps open between tests; 0 turns pooling off
    (a fresh session per test)."""
    pool_spares: int = Field(default=0, ge=0)
    """Warm spare sessions each worker process opens in the background beside the one a
    test uses, so that the next test takes a ready browser while the returned one resets
    (no test waits for a reset). Each spare costs a Grid slot and a whole Chromium plus
    chromedriver per worker process, all the time: 1 doubles the fleet's browsers (2N for
    N worker processes, not N + 1; a spare is never shared between processes)."""
    pool_max_uses: int = Field(default=100, ge=1)
    """A pooled session is quit and replaced after this many tests (bounds leaks the
    reset cannot see: memory, browser caches)."""
    pool_max_age_s: float = Field(default=900.0, gt=0)
    """A pooled session older than this (s since it was opened) is replaced, not lent."""
    health_check_timeout_s: float = Field(default=5.0, gt=0)
    """Cap (s) on the check that a pooled session still answers before it is lent."""
    pool_reset: Literal["giveback", "lend"] = "giveback"
    """When a pooled session is reset: ``giveback`` in the background as the test returns it
    (overlapping the result write and the next delivery; a lend waits for it), ``lend``
    right before it is lent again, on the next test's critical path (for comparison)."""
    command_timeout_s: float = Field(default=20.0, gt=0)
    """Cap (s) on one WebDriver command during a test (raised to the case's longest step
    timeout + 5 s): a hung browser fails its test in seconds, not after the Grid's minutes."""

    @model_validator(mode="after")
    def _default_url(self) -> Self:
        self.url = self.url or f"http://127.0.0.1:{self.port}"
        return self


class WorkerSettings(BaseModel):
    """The Celery workers."""

    queue: str = "testfleet"
    concurrency: int = 1
    """Test cases one worker process runs at once."""
    lease_s: float = Field(default=30.0, ge=3.0)
    """A worker's hold on a case it took (reserved or running). The worker renews it every
    ``lease_s / 3`` for as long as it holds the case, however long the case runs; a case
    whose worker died (SIGKILL, host gone, cut off from Redis) goes back to the queue
    within ``lease_s + restore_interval_s`` of the worker's last renewal. Not a bound on
    test length: nothing needs raising for long tests."""
    restore_interval_s: float = Field(default=1.0, gt=0)
    """How often each worker looks for cases whose lease ran out (one cheap, mutex-guarded
    Redis read; whichever worker looks first hands the case back)."""
    drain_grace_s: float = Field(default=900.0, ge=0)
    """After SIGTERM a worker takes no new case and finishes the ones it runs; after this
    long (or a second SIGTERM) it stops them and hands them back to the queue at once.
    Keep it below the orchestrator's kill deadline (compose ``stop_grace_period``,
    Kubernetes ``terminationGracePeriodSeconds``)."""
    case_timeout_s: int = 900
    """Hard limit on one test case; the task is stopped after it."""
    max_lost_deliveries: int = Field(default=3, ge=0)
    """Deliveries of one case that may be lost (its worker died, was stopped or hit the
    hard time limit before recording a result) before the case ends ``error`` instead of
    running again: a test that crashes or hangs its worker is not redelivered for ever.
    0 = no cap."""

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "visibility_timeout_s" in data:
            raise ValueError(
                "worker.visibility_timeout_s was removed: a running case holds a lease that "
                "its worker renews (worker.lease_s, 30 s), so no timeout has to exceed the "
                "longest test any more; unset TESTFLEET_WORKER__VISIBILITY_TIMEOUT_S"
            )
        return data


class ApiSettings(BaseModel):
    """The orchestrator's REST API."""

    host: str = "127.0.0.1"
    port: int = 8700
    max_body_bytes: int = 5_000_000
    public_url: str | None = None
    """The URL clients reach the API at (defaults to http://host:port)."""


class GatewaySettings(BaseModel):
    """The streaming gateway."""

    host: str = "127.0.0.1"
    port: int = 8701
    public_url: str | None = None
    read_block_ms: int = 1000
    """How long one XREAD waits for new events before looping."""
    sse_ping_s: float = 15.0
    auth_timeout_s: float = 10.0
    """A WebSocket that has not authenticated this long after opening is closed (3000)."""
    messages_per_minute: int = 1000
    """Client messages one WebSocket may send per minute before RATE_LIMITED / 3001."""
    subscriptions_limit: int = 50
    """Subscriptions one WebSocket may hold at once."""
    max_frame_bytes: int = 65_536
    """Largest client frame accepted; bigger ones get MESSAGE_TOO_LARGE and close 1009."""
    connections_per_key: int = 20
    """Open streams (WebSockets and SSE, every endpoint) one API key may hold at once
    (per gateway process)."""
    key_check_interval_s: float = Field(default=2.0, gt=0)
    """How often each gateway checks that the keys holding streams are not revoked: a
    revoked key's streams close within this long."""
    replay_max_events: int = Field(default=10_000, ge=1)
    """Stream entries one ``since`` / ``includeHistory`` / ``Last-Event-ID`` replay may read;
    past it the replay starts this many entries back, after a ``gap`` message."""
    queue_events: int = 10_000
    """Events one subscriber may have waiting; a client that falls further behind is dropped."""
    ping_interval_s: float = 20.0
    """WebSocket ping interval (and the pong timeout)."""
    metrics_interval_s: float = 5.0
    """How often one gateway publishes ``metrics_update`` and checks services (0: never)."""
    shutdown_grace_s: float = 3.0
    """At shutdown, how long to wait for WebSockets to close with 1001 before uvicorn cuts them."""


class DemoSettings(BaseModel):
    """The bundled demo web app that the example suites test."""

    host: str = "127.0.0.1"
    port: int = 8702


class DatabaseSettings(BaseModel):
    """The PostgreSQL database that keeps test history across runs (``testfleet.history``)."""

    url: str = ""
    """SQLAlchemy URL of the history database (``postgresql+psycopg://USER:PASSWORD@HOST:5432/DB``).
    Empty: the local fleet's private cluster, which ``testfleet up`` starts in
    ``paths.state_dir`` and reaches over a Unix socket only."""
    port: int = 6391
    """Port number of the local fleet's private cluster; it names the cluster's socket file
    in a directory of its own (``.s.PGSQL.<port>``): no TCP port is opened."""
    pool_size: int = Field(default=5, ge=1)
    """Connections one process keeps open to the database."""
    connect_timeout_s: int = Field(default=5, ge=1)
    """Cap on opening one connection: a database that is down is reported in about this long."""
    archive_claim_idle_ms: int = Field(default=60_000, ge=1_000)
    """A finished run an archiver took and did not acknowledge for this long (it died) is
    taken over by another archiver (XAUTOCLAIM)."""
    archive_batch: int = Field(default=20, ge=1)
    """Finished runs one archiver reads at once."""
    archive_block_ms: int = Field(default=1_000, ge=1)
    """How long one read of the archive stream waits for a finished run before looping."""
    archive_retry_max_s: float = Field(default=30.0, gt=0)
    """Longest wait between two tries while the database (or Redis) is down."""


class PathSettings(BaseModel):
    """Where state, artifacts and cached downloads live on this machine."""

    state_dir: Path = Path.home() / ".local" / "state" / "testfleet"
    artifacts_dir: Path | None = None
    """The local artifact store's directory when ``artifacts.url`` is empty; defaults
    to ``state_dir/artifacts``."""
    cache_dir: Path = Path.home() / ".cache" / "testfleet"

    @property
    def artifacts(self) -> Path:
        return self.artifacts_dir or self.state_dir / "artifacts"

    @property
    def fleet_file(self) -> Path:
        """What ``testfleet up`` started and where it listens."""
        return self.state_dir / "fleet.json"


class ArtifactSettings(BaseModel):
    """Where screenshots, thumbnails, step logs and reports are stored (``testfleet.artifacts``)."""

    url: str = ""
    """The artifact store: a directory (``/srv/artifacts`` or ``file:///srv/artifacts``),
    or an S3-compatible bucket (``s3://bucket/prefix``). Empty: ``paths.artifacts``.
    Across machines use S3: the API and the workers then share no volume."""
    s3_endpoint_url: str | None = None
    """The S3 endpoint (``http://seaweedfs:8333``, ``https://minio.example``); unset for AWS."""
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    """Unset: boto3's own chain (``AWS_ACCESS_KEY_ID``, a profile, an instance or pod role)."""
    s3_secret_access_key: SecretStr | None = None
    s3_path_style: bool | None = None
    """Path-style URLs (``endpoint/bucket/key``); unset: on when an endpoint is set
    (MinIO, SeaweedFS), AWS's choice otherwise."""
    s3_create_bucket: bool = False
    """Create the bucket when a process opens the store and it is missing."""
    s3_timeout_s: float = Field(default=10.0, gt=0)
    """Connect and read timeout of one S3 request, in seconds."""
    s3_max_attempts: int = Field(default=3, ge=1, le=10)
    """Tries per S3 request (boto3's standard retry mode: throttling, 5xx, timeouts)."""
    s3_max_connections: int = Field(default=10, ge=1)
    """HTTP connections one process keeps to the store."""


class RetentionSettings(BaseModel):
    """How long runs, their streams and artifacts are kept."""

    run_ttl_s: int = 7 * 24 * 3600
    artifacts_ttl_s: int = 7 * 24 * 3600
    """Artifact directories (screenshots, step logs) untouched this long are deleted,
    even when their run is still kept; a run's artifacts go with the run anyway."""
    events_ttl_s: int = 7 * 24 * 3600
    """Entries of the global event stream older than this are trimmed (it is also
    capped by ``redis.stream_maxlen``); a run's own stream goes with the run."""
    sweep_interval_s: float = 300.0
    """How often the fleet sweeps expired runs out of the indexes and deletes their
    artifacts; one process sweeps per interval, however many run the sweeper."""


class HistorySettings(BaseModel):
    """The rules read from test history (``testfleet.history.rules``): labels and trends."""

    default_branch: str = Field(default="main", min_length=1)
    """The project's main line: ``new`` and ``failing-on-main`` look at its runs."""
    new_window_runs: int = Field(default=10, ge=1)
    """A failure is ``new`` when the test did not fail in its last this-many runs on
    ``default_branch``."""
    flaky_rate_threshold: float = Field(default=0.1, ge=0.0, lt=1.0)
    """A test whose flake rate (flaky runs / runs) is over this is labelled ``flaky``."""
    trend_window_attempts: int = Field(default=20, ge=2)
    """Attempts compared per window by a test's duration trend (latest vs before)."""
    trend_tolerance_ratio: float = Field(default=0.2, gt=0.0)
    """Medians differing by more than this ratio make the trend ``slower`` or ``faster``."""
    labels_wait_s: float = Field(default=5.0, ge=0.0)
    """How long ``testfleet run`` / ``watch`` wait, after a run with failures finished, for
    the archiver to label them (0: never wait; a server without a history database is not
    waited for)."""
    retention_days: int = Field(default=90, ge=0)
    """Archived runs that finished longer ago than this are pruned with their attempts and
    labels, and tests left without attempts with them (0: keep history forever). 90 days
    is ReportPortal's default for launches."""
    prune_interval_s: float = Field(default=3600.0, gt=0)
    """How often an archiver prunes history past ``retention_days``."""
    prune_batch_runs: int = Field(default=20, ge=1)
    """Runs deleted per transaction when pruning: short transactions, short locks."""


class AISettings(BaseModel):
    """The vision model."""

    model: str = "gpt-4o-mini"
    request_timeout_s: float = 60.0
    """Cap on one model request (the SDK's own retries are off: we retry ourselves)."""
    max_attempts: int = Field(default=4, ge=1, le=10)
    """Requests per analysis or generation, counting the first, while the model answers
    429 or 5xx or cannot be reached."""
    backoff_base_s: float = 0.5
    """First retry delay; doubles per attempt unless the server sends Retry-After."""
    backoff_max_s: float = 30.0
    """Longest wait before a retry, Retry-After included."""
    image_max_side_px: int = Field(default=768, ge=64, le=2048)
    """Screenshots are downscaled so their longest side is at most this (see ``ai_image``)."""
    image_format: Literal["jpeg", "webp", "png"] = "webp"
    image_quality: int = Field(default=80, ge=1, le=100)
    """JPEG/WebP quality of the re-encoded screenshot."""
    image_detail: Literal["low", "high", "auto"] = "high"
    """OpenAI image detail: ``low`` is 85 tokens at 512 px; ``high`` counts 512 px tiles."""
    cache_ttl_s: int = 7 * 24 * 3600
    """How long an analysis is reused for an identical screenshot (shared by workers)."""
    run_budget_usd: float = 1.0
    """Estimated spend after which a run's analyses stop (quota_warning); 0 = no cap."""
    run_budget_tokens: int = 0
    """Tokens (input + output) after which a run's analyses stop; 0 = no cap."""
    project_daily_budget_usd: float = Field(default=10.0, ge=0)
    """Estimated spend per project per UTC day after which that project's analyses stop
    until 00:00 UTC (quota_warning; its runs go on); 0 = no cap."""
    project_daily_budget_tokens: int = Field(default=0, ge=0)
    """Tokens (input + output) per project per UTC day after which its analyses stop;
    0 = no cap."""
    max_concurrent: int = Field(default=4, ge=1)
    """Model requests in flight at once across all workers (a Redis semaphore)."""
    max_evidence_chars: int = Field(default=2000, ge=0)
    """How much of a failing step's console errors and failed requests a failure analysis
    sends (entries beyond it are left out, and the request says how many); 0 = none."""
    slot_wait_s: float = 120.0
    """How long an analysis waits for a free request slot before it is recorded failed."""
    prices_usd_per_mtok: dict[str, tuple[float, float]] = {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1": (2.00, 8.00),
    }
    """Model -> (input, output) USD per million tokens, for cost estimates."""
    default_price_usd_per_mtok: tuple[float, float] = (2.50, 10.00)
    """Price assumed for a model missing from ``prices_usd_per_mtok`` (errs high)."""
    visual_downgrade_cosmetic: bool = False
    """Let the model's explanation of a visual mismatch turn the failure into a warning
    when it calls the change cosmetic with at least ``visual_downgrade_min_confidence``
    (off: an explanation never changes a verdict). On, a mismatch lets the test go on (as
    ``soft: true``) so the rest of it still runs and counts."""
    visual_downgrade_min_confidence: float = Field(default=0.9, ge=0.0, le=1.0)
    """How sure (0-1) the model must be of a cosmetic change to downgrade it."""


class LogSettings(BaseModel):
    """Logging of every component and the CLI (``TESTFLEET_LOG__FORMAT``, ``__LEVEL``)."""

    format: Literal["auto", "json", "text"] = "auto"
    """``json``: one JSON object per line, for log collectors; ``text``: for people;
    ``auto``: text on a terminal, JSON otherwise (containers, ``testfleet up``'s files)."""
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None
    """Of the ``testfleet`` loggers and the libraries' (unset: INFO for the components,
    WARNING for the CLI's own commands)."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class SecuritySettings(BaseModel):
    """What keeps tenants' browsers confined (``testfleet.targets.policy``, docs/security.md).

    The Grid's router asks every client for ``grid_username`` / ``grid_password``
    (HTTP basic auth); nodes register with ``grid_registration_secret``. Browsers
    reach the web through the egress proxy beside their node, which refuses the
    fleet's own services, the node's loopback and link-local / metadata addresses
    unless a target is in ``allowed_targets``.
    """

    grid_username: str = ""
    """User name of the Grid router's basic auth (hub, standalone and all their clients)."""
    grid_password: SecretStr = SecretStr("")
    grid_registration_secret: SecretStr = SecretStr("")
    """Shared by the hub and its nodes: a node without it cannot register."""
    allowed_targets: tuple[str, ...] = ()
    """Targets browsers may reach although the policy refuses them: ``host``,
    ``host:port``, an origin (``http://localhost:3000``), ``*.corp.example`` or a CIDR
    (``10.1.0.0/16``). The demo site is allowed unless ``allow_demo_site`` is off."""
    allow_demo_site: bool = True
    internal_hosts: tuple[str, ...] = ()
    """More hosts that are the fleet (every port refused): compose's service names,
    an artifact store's host. Redis, the API, the gateway and the Grid are known already."""
    egress_host: str = "127.0.0.1"
    """Address the egress proxy beside a Grid node listens on (the node's browsers use it)."""
    egress_port: int = 8703
    browser_proxy: str = ""
    """The egress proxy as the worker's browsers should use it (``http://egress:8703``),
    sent with every session. Empty: the Grid node's own proxy, which its config names."""
    browser_user: str = "testfleet-browser"
    """The user a Grid node running as root runs Chromium as, with Chromium's sandbox on
    (``make setup`` creates it). Empty, or no such user: Chromium runs as the node does
    (as root that means without its sandbox)."""
    chromium_policy_dir: Path = Path("/etc/chromium/policies/managed")
    """Where Debian's Chromium reads managed policies (``/etc/opt/chrome/policies/managed``
    for Google Chrome). The fleet's browsers see the URL policy there through a mount of
    their own (``grid.policy``); nothing is written there unless the next is on."""
    chromium_policy_machine_wide: bool = False
    """Install the URL policy into ``chromium_policy_dir`` itself, for every Chromium of
    the machine (a dedicated node without user or mount namespaces). Off: only the
    fleet's browsers run under it."""
    require_chromium_policy: bool = True
    """Refuse to start a Grid node without the URL policy (off: local schemes are then
    refused by the loader and the executor only)."""

    @property
    def grid_credentials(self) -> tuple[str, str] | None:
        """(user, password) for the Grid router, or None when not configured."""
        password = self.grid_password.get_secret_value()
        if not self.grid_username or not password:
            return None
        return self.grid_username, password


class LimitSettings(BaseModel):
    """Limits on one submission and per-project quotas (env ``TESTFLEET_LIMITS__<FIELD>``)."""

    max_tests_per_run: int = Field(default=2_000, ge=1)
    """Test cases in one run, over all its suites."""
    max_steps_per_test: int = Field(default=500, ge=1)
    """Steps in one test case (after flows and data rows are expanded)."""
    max_field_chars: int = Field(default=20_000, ge=1)
    """Characters in any one text of a suite (a script, a selector, a value), variables
    substituted."""
    max_name_chars: int = Field(default=300, ge=1)
    """Characters in a suite's, test's or step's name."""
    max_expanded_bytes: int = Field(default=10_000_000, ge=1)
    """Bytes a run's suites come to once YAML aliases and ``${VAR}`` references are
    expanded (the request body itself is capped by ``api.max_body_bytes``)."""
    max_yaml_aliases: int = Field(default=1_000, ge=0)
    """YAML aliases (``*name``) in one suite file."""
    max_plan_cpu_s: int = Field(default=10, ge=1)
    """CPU seconds planning one submission may take (reading, converting recordings,
    composing, expanding, planning cases: done in a child process that is stopped past
    it; ``testfleet import`` too)."""
    max_plan_memory_bytes: int = Field(default=768 * 1024 * 1024, ge=16 * 1024 * 1024)
    """Memory planning one submission may take beyond what the planning process holds
    when it starts."""
    max_plans_per_project: int = Field(default=2, ge=1)
    """Submissions of one project planned at once (API; 429 with Retry-After past it),
    so that one project's heavy submissions never hold every planner."""
    submits_per_minute: int = Field(default=60, ge=1)
    """Runs one project may submit per minute (API; 429 with Retry-After past it)."""
    max_queued_cases: int = Field(default=10_000, ge=1)
    """Cases of one project queued or running at once, over all its runs (API: a
    submission that would go past it is refused, 429)."""
    max_running_cases: int = Field(default=0, ge=0)
    """Cases of one project running at once across the fleet (workers hold the rest back
    until one ends); 0 = no cap beyond the fleet's size."""
    generate_per_minute: int = Field(default=10, ge=1)
    """``POST /generate`` requests one project may make per minute."""
    generate_budget_tokens_per_day: int = Field(default=500_000, ge=0)
    """Model tokens (input + output) ``POST /generate`` may spend per project per UTC day;
    0 = no cap."""


class BenchSettings(BaseModel):
    """The benchmarks (``make bench``)."""

    quick: bool = False
    """Few samples, for a developer's check (``TESTFLEET_BENCH__QUICK=1``); figures are noisy."""
    repetitions: int = Field(default=3, ge=1)
    """Timed passes of each throughput configuration, interleaved (A B C, A B C, ...): the
    figures are their medians, with their range (quick mode: one)."""


class NotifySettings(BaseModel):
    """Notifications of finished runs (``testfleet notifier``; docs/notifications.md)."""

    secret_key: SecretStr = SecretStr("")
    """What the targets' secrets (tokens, webhook secrets and URLs) are encrypted with at
    rest; any text, at least 16 characters (``testfleet up`` makes one up and keeps it in
    the state directory). Without it targets cannot be added nor deliveries made."""
    timeout_s: float = Field(default=10.0, gt=0)
    """One HTTP request to a provider or webhook."""
    attempts: int = Field(default=6, ge=1)
    """Tries per delivery (a 5xx, 429 or unreachable answer is tried again)."""
    retry_first_s: float = Field(default=1.0, gt=0)
    """Wait before the second try; doubled each time (with jitter), capped below."""
    retry_max_s: float = Field(default=60.0, gt=0)
    """Longest wait between tries (a provider's Retry-After is honoured up to this)."""
    block_ms: int = Field(default=2000, ge=1)
    """How long the notifier waits for a finished run per read."""
    claim_idle_ms: int = Field(default=60_000, ge=1)
    """A run a dead notifier held is taken over after this long."""
    log_entries: int = Field(default=500, ge=1)
    """Deliveries kept in a project's delivery log (the newest)."""
    replay_window_s: int = Field(default=300, ge=1)
    """What receivers of signed webhooks are told to accept: a timestamp at most this old."""


class Settings(BaseSettings):
    """Everything configurable, in sections."""

    model_config = SettingsConfigDict(
        env_prefix="TESTFLEET_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    redis: RedisSettings = RedisSettings()
    database: DatabaseSettings = DatabaseSettings()
    grid: GridSettings = GridSettings()
    worker: WorkerSettings = WorkerSettings()
    api: ApiSettings = ApiSettings()
    gateway: GatewaySettings = GatewaySettings()
    demo: DemoSettings = DemoSettings()
    paths: PathSettings = PathSettings()
    artifacts: ArtifactSettings = ArtifactSettings()
    retention: RetentionSettings = RetentionSettings()
    history: HistorySettings = HistorySettings()
    ai: AISettings = AISettings()
    security: SecuritySettings = SecuritySettings()
    limits: LimitSettings = LimitSettings()
    bench: BenchSettings = BenchSettings()
    log: LogSettings = LogSettings()
    notify: NotifySettings = NotifySettings()
    server: str | None = None
    """API URL the CLI talks to (``TESTFLEET_SERVER``); the local fleet's when unset."""
    api_key: str | None = None
    """API key the CLI sends (``TESTFLEET_API_KEY``); the local admin key when unset."""
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "TESTFLEET_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "TESTFLEET_OPENAI_BASE_URL")
    )

    @property
    def api_url(self) -> str:
        return self.api.public_url or f"http://{self.api.host}:{self.api.port}"

    @property
    def gateway_url(self) -> str:
        return self.gateway.public_url or f"http://{self.gateway.host}:{self.gateway.port}"

    @property
    def selenium_jar(self) -> Path:
        """The Selenium server jar: the configured one, else the cached npm package's."""
        if self.grid.jar_path is not None:
            return self.grid.jar_path
        version = self.grid.selenium_version
        return self.paths.cache_dir / "selenium" / f"selenium-server-{version}.jar"
