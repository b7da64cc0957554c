"""One run to every target of its project: what the notifier does per finished run, and
``notify test`` per target. Claims, sends, settles and logs (``ledger``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import httpx
import redis

from testfleet import logs
from testfleet.errors import UsageError
from testfleet.notify import ledger, messages, providers
from testfleet.notify.targets import Target, TargetStore
from testfleet.settings import Settings
from testfleet.targets.policy import TargetPolicy

log = logs.get_logger(__name__)


def send_one(
    client: httpx.Client,
    store: TargetStore,
    target: Target,
    notice: messages.Notice,
    settings: Settings,
    sleep: Callable[[float], None] | None = None,
    test: bool = False,
) -> ledger.Delivery:
    """Send ``notice`` to ``target`` (retrying as ``providers`` says); the outcome."""
    sender = providers.Sender(client, settings.notify, policy=TargetPolicy.from_settings(settings))
    if sleep is not None:
        sender.sleep = sleep
    did = ledger.delivery_id(notice.run.runId, target.id)
    status: Literal["delivered", "failed"] = "delivered"
    try:
        secret = store.secret(target)
        detail = providers.deliver(sender, target, secret, notice, did)
    except (providers.DeliveryFailed, UsageError) as exc:
        detail, status = str(exc), "failed"
    return ledger.Delivery(
        deliveryId=did,
        runId=notice.run.runId,
        targetId=target.id,
        kind=target.kind,
        status=status,
        detail=detail,
        attempts=sender.requests,
        atMs=ledger.now_ms(),
        test=test,
    )


def notify_run(
    r: redis.Redis,
    client: httpx.Client,
    store: TargetStore,
    notice: messages.Notice,
    settings: Settings,
) -> list[ledger.Delivery]:
    """Every target of the run's project not yet notified of it; the deliveries made."""
    run = notice.run
    made: list[ledger.Delivery] = []
    for target in store.list(run.projectId):
        if not ledger.claim(r, run.runId, target.id, settings.notify):
            continue  # sent already, or being sent by another notifier
        delivery = send_one(client, store, target, notice, settings)
        ledger.settle(r, run.runId, target.id, settings.retention.run_ttl_s)
        ledger.record(r, run.projectId, delivery, settings.notify.log_entries)
        if delivery.status == "delivered":
            log.info("notified %s of run %s: %s", target.id, run.runId, delivery.detail)
        else:
            log.warning("could not notify %s of run %s: %s", target.id, run.runId, delivery.detail)
        made.append(delivery)
    return made
