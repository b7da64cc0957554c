"""The Celery broker's Redis transport options, shared by the sender and the workers.

Both sides must agree on how priorities map to Redis lists, or a critical case
sent by the API lands in a list no worker polls.
"""

from __future__ import annotations

from typing import Any

from testfleet.settings import Settings

PRIORITY_STEPS: list[int] = list(range(10))
"""Ten priority lists per queue (0 taken first); see ``results.PRIORITY_LEVELS``."""


def transport_options(settings: Settings, *, consumer: bool = False) -> dict[str, Any]:
    """kombu's Redis transport options; ``consumer`` adds what only workers use."""
    options: dict[str, Any] = {
        # An unacked message is handed to another worker after this long; it must
        # exceed the longest case or a slow case runs twice (counted once).
        "visibility_timeout": settings.worker.visibility_timeout_s,
        # Priorities: a critical suite overtakes bulk runs already queued. Poll the
        # priority lists in order rather than round robin across queues.
        "queue_order_strategy": "priority",
        "priority_steps": PRIORITY_STEPS,
        # Readable priority list names (testfleet:3) instead of kombu's "\x06\x16".
        "sep": ":",
    }
    if consumer:
        # Sweep for messages of dead workers every restore_interval_s, so one is back
        # in the queue within that long after its visibility timeout runs out. kombu
        # scans on every `throttle`-th tick: throttle 1 makes the interval the whole
        # story (the default 10 x 10 s would add up to ~100 s).
        options["unacked_restore_interval"] = settings.worker.restore_interval_s
        options["unacked_restore_throttle"] = 1
    return options
