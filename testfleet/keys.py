"""Every Redis key testfleet uses, in one place.

Celery's queue lists (``testfleet``, ``testfleet\x06\x16<priority>``) and its
``_kombu.*`` and pidbox keys are kombu's; the ones testfleet names, reads or renews
itself (``BROKER_*``) are listed here and passed to kombu as transport options.
"""

from __future__ import annotations

PREFIX = "tf"

EVENTS_STREAM = f"{PREFIX}:events"
"""Stream: every event of every channel, in order; entry id = event id."""

ARCHIVE_STREAM = f"{PREFIX}:archive"
"""Stream: one entry per finished run (field ``ARCHIVE_RUN_FIELD``: its id), appended by the
run store's completion script in the same step as ``run_completed``; archivers read it
in group ``ARCHIVE_GROUP`` and delete an entry once its run is in the history database."""

ARCHIVE_RUN_FIELD = "run"
"""The field of an ``ARCHIVE_STREAM`` entry that holds the run id."""

ARCHIVE_GROUP = "archivers"
"""The consumer group of every archiver on ``ARCHIVE_STREAM``."""

RUNS_INDEX = f"{PREFIX}:runs"
"""Sorted set: run id scored by creation time (ms)."""

API_KEYS = f"{PREFIX}:apikeys"
"""Hash: sha256(key) -> API key record (JSON: id, project, scopes, created_ms)."""

API_KEY_IDS = f"{PREFIX}:apikey-ids"
"""Hash: key id -> sha256(key), to list and revoke keys by id."""

WORKERS = f"{PREFIX}:workers"
"""Hash: worker name -> last heartbeat record (JSON)."""

AI_SLOTS = f"{PREFIX}:ai:slots"
"""Sorted set: holder token -> lease expiry (ms); model requests in flight, all workers."""

SWEEP_LOCK = f"{PREFIX}:sweep-lock"
"""String: name of the process sweeping expired runs now; expires after the sweep
interval, so one sweep runs per interval across the fleet."""

PROJECT_RUNS_PATTERN = f"{PREFIX}:project:*:runs"
"""SCAN pattern matching every ``project_runs`` index (for the retention sweep)."""

GATEWAY_PUBLISHER_LOCK = f"{PREFIX}:gateway:publisher"
"""String with expiry: the gateway process that publishes ``metrics_update`` and
``service_status_change`` (its id); the others stand by until it expires."""

BROKER_UNACKED = "unacked"
"""Hash (kombu's): delivery tag -> a message a worker took and has not acknowledged."""

BROKER_UNACKED_INDEX = "unacked_index"
"""Sorted set (kombu's): delivery tag -> when its lease was last renewed (wall-clock s);
a sweep requeues tags older than ``worker.lease_s``."""

BROKER_RESTORE_MUTEX = "unacked_mutex"
"""String with expiry (kombu's): the worker sweeping ``unacked_index`` right now."""

BROKER_BINDINGS_PATTERN = "_kombu.binding.*"
"""SCAN pattern: kombu's exchange binding sets (members ``routing key<sep>pattern<sep>queue``)."""

BROKER_PERMANENT_BINDINGS_PATTERN = "_kombu.binding_permanent.*"
"""SCAN pattern: kombu's record of bindings that never expire (same member format)."""

GATEWAY_SERVICES = f"{PREFIX}:gateway:services"
"""Hash: service name (worker node, ``grid``) -> last state seen (``up``/``down``), so a
new publisher does not re-announce what its predecessor already did."""


METRICS_COUNTERS = f"{PREFIX}:metrics:counters"
"""Hash: fleet counter (``name`` or ``name<TAB>label``) -> total since the fleet began
(pool resets and replacements, sessions opened, AI analyses, tokens, cost). Never expires:
Prometheus counters only grow (a flushed Redis reads as a counter reset)."""


def metrics_histogram(name: str) -> str:
    """Hash: one fleet histogram's observations: ``<label><TAB><bucket index>`` -> count
    (not cumulative), ``<label><TAB>sum`` -> seconds; never expires (see METRICS_COUNTERS)."""
    return f"{PREFIX}:metrics:hist:{name}"


def run(run_id: str) -> str:
    """Hash: one run's record (``meta`` JSON, ``status``, ``pending`` count, ``cancelled``;
    the fields are the run store's, ``testfleet/store/layout.py``: read runs through it)."""
    return f"{PREFIX}:run:{run_id}"


def run_state(run_id: str) -> str:
    """Hash: case id -> that case's status; the authority on it (written only by the
    run store's Lua scripts, so a final status is written once)."""
    return f"{PREFIX}:run:{run_id}:state"


def run_cases(run_id: str) -> str:
    """Hash: case id -> that case's result (JSON, secrets masked)."""
    return f"{PREFIX}:run:{run_id}:cases"


def run_specs(run_id: str) -> str:
    """Hash: case id -> the case to execute (JSON, its test's secrets in clear: never
    served); a case's entry is deleted when the case becomes final."""
    return f"{PREFIX}:run:{run_id}:specs"


def run_events(run_id: str) -> str:
    """Stream: one run's events, same ids as in ``EVENTS_STREAM``."""
    return f"{PREFIX}:run:{run_id}:events"


def project_runs(project: str) -> str:
    """Sorted set: one project's run ids scored by creation time (ms)."""
    return f"{PREFIX}:project:{project}:runs"


def run_keys(run_id: str) -> tuple[str, ...]:
    """All keys that belong to one run (for expiry and the retention sweep)."""
    return (
        run(run_id),
        run_state(run_id),
        run_cases(run_id),
        run_specs(run_id),
        run_events(run_id),
        ai_usage(run_id),
    )


def ai_cache(digest: str) -> str:
    """String: an analysis (JSON) of the prepared screenshot + type + context + model
    hashed as ``digest``; expires after ``ai.cache_ttl_s``."""
    return f"{PREFIX}:ai:cache:{digest}"


def ai_pending(digest: str) -> str:
    """String: the worker analysing ``digest`` right now, so others wait for its answer."""
    return f"{PREFIX}:ai:pending:{digest}"


def ai_usage(run_id: str) -> str:
    """Hash: one run's AI use (``calls``, ``cached``, ``input_tokens``, ``output_tokens``,
    ``cost_usd``, ``quota_warned``)."""
    return f"{PREFIX}:run:{run_id}:ai"


def project_open_runs(project: str) -> str:
    """Sorted set: one project's runs that may still have queued or running cases, scored
    by creation time (ms); a run leaves it once found final or expired (per-project quota)."""
    return f"{PREFIX}:project:{project}:open"


def project_submits(project: str, minute: int) -> str:
    """String (counter, expires): runs one project submitted in one minute (Unix time // 60)."""
    return f"{PREFIX}:project:{project}:submits:{minute}"


def project_generate_calls(project: str, minute: int) -> str:
    """String (counter, expires): ``POST /generate`` requests of a project in one minute."""
    return f"{PREFIX}:project:{project}:generate:{minute}"


def project_generate_tokens(project: str, day: str) -> str:
    """String (counter, expires): model tokens ``POST /generate`` spent for a project on
    one UTC day (``YYYYMMDD``)."""
    return f"{PREFIX}:project:{project}:generate-tokens:{day}"


def project_ai_usage(project: str, day: str) -> str:
    """Hash (expires after two days): one project's analysis spend on one UTC day
    (``YYYYMMDD``): ``calls``, ``input_tokens``, ``output_tokens``, ``cost_usd``
    (``ai.project_daily_budget_*``)."""
    return f"{PREFIX}:project:{project}:ai:{day}"


def project_running(project: str) -> str:
    """Sorted set: case id -> lease expiry (ms) of one project's cases running now
    (``limits.max_running_cases``)."""
    return f"{PREFIX}:project:{project}:running"


def stream_ticket(digest: str) -> str:
    """String (expires): sha256(stream ticket) -> sha256 of the API key it stands for;
    taken (GETDEL) by the first stream that presents it."""
    return f"{PREFIX}:stream-ticket:{digest}"


# --- notifications (testfleet.notify) ---------------------------------------------------

NOTIFY_STREAM = f"{PREFIX}:notify"
"""Stream: one entry per finished run (field ``ARCHIVE_RUN_FIELD``), appended by the
archiver once the run (and its labels) are in the history database; notifiers read it in
group ``NOTIFY_GROUP`` and delete an entry once every target of the run's project was
notified (or given up on)."""

NOTIFY_LABELS_FIELD = "labels"
"""The field of a ``NOTIFY_STREAM`` entry with the run's labels (``RunLabels`` JSON), when
the history database gave them."""

NOTIFY_GROUP = "notifiers"
"""The consumer group of every notifier on ``NOTIFY_STREAM``."""


def notify_targets(project: str) -> str:
    """Hash: a project's notification targets, target id -> JSON (secrets encrypted)."""
    return f"{PREFIX}:notify:targets:{project}"


def notify_sent(run_id: str, target_id: str) -> str:
    """String: the idempotency key of one run's notification to one target: set once it
    was delivered (or given up on); kept as long as runs are (``retention.run_ttl_s``)."""
    return f"{PREFIX}:notify:sent:{run_id}:{target_id}"


def notify_log(project: str) -> str:
    """List: a project's delivery log, newest first (JSON entries), capped at
    ``notify.log_entries``."""
    return f"{PREFIX}:notify:log:{project}"
