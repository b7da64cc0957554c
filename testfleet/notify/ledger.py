"""Once per run and target, and a log of every delivery.

Before sending, a notifier takes the run-and-target key (``keys.notify_sent``, ``SET
NX``) for as long as a delivery can take; once it is sent (or given up on) the key says
so for as long as runs are kept. A second notifier, or the same run read again after a
crash, finds the key and sends nothing: a run notifies each target once. (A notifier
that dies mid-delivery leaves the key to expire; the run, still pending in the stream,
is then taken over and sent.) Each outcome is pushed on the project's delivery log
(``keys.notify_log``), newest first, capped."""

from __future__ import annotations

import time
from typing import Literal

import redis
from pydantic import BaseModel

from testfleet import keys
from testfleet.settings import NotifySettings

SENT = "sent"


class Delivery(BaseModel):
    """One notification of one run to one target, as the delivery log keeps it."""

    deliveryId: str
    runId: str
    targetId: str
    kind: str
    status: Literal["delivered", "failed"]
    detail: str
    """What was done (``comment on #7 updated``), or which request failed and how."""
    attempts: int
    """HTTP requests made, retries included."""
    atMs: int
    test: bool = False
    """A ``testfleet notify test`` delivery."""


def delivery_id(run_id: str, target_id: str) -> str:
    """The same for every try of one run's notification to one target (receivers may
    drop a repeat by it)."""
    return f"{run_id}.{target_id}"


def hold_ms(settings: NotifySettings) -> int:
    """The longest one delivery can take (every attempt timing out, every wait maxed)."""
    per_try_s = settings.timeout_s + settings.retry_max_s
    return int(per_try_s * settings.attempts * 4 * 1000)


def claim(client: redis.Redis, run_id: str, target_id: str, settings: NotifySettings) -> bool:
    """Whether this notifier may send the run to the target (nobody did, nobody is)."""
    key = keys.notify_sent(run_id, target_id)
    return bool(client.set(key, "sending", nx=True, px=hold_ms(settings)))


def settle(client: redis.Redis, run_id: str, target_id: str, keep_s: int) -> None:
    """The run was sent to the target (or given up on): never again."""
    client.set(keys.notify_sent(run_id, target_id), SENT, ex=max(1, keep_s))


def record(client: redis.Redis, project: str, delivery: Delivery, keep: int) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.lpush(keys.notify_log(project), delivery.model_dump_json())
    pipe.ltrim(keys.notify_log(project), 0, keep - 1)
    pipe.execute()


def deliveries(client: redis.Redis, project: str, limit: int = 100) -> list[Delivery]:
    """The project's latest deliveries, newest first."""
    raw = client.lrange(keys.notify_log(project), 0, max(0, limit - 1))
    return [Delivery.model_validate_json(v) for v in raw]


def now_ms() -> int:
    return int(time.time() * 1000)
