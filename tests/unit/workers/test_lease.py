"""The lease, on a real Redis with kombu's own Redis transport, at the shipped settings.

A message is taken the way a worker takes it (kombu's QoS puts it in ``unacked``),
the renewer renews it, and another worker's sweep (kombu's ``restore_visible``)
runs every restore interval. Time is a fake clock that both kombu and the renewer
read, so many lease periods pass in a moment without changing any setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kombu
import kombu.transport.redis as kombu_redis
import pytest
import redis
from celery.worker.request import Request

from testfleet import keys
from testfleet.constants import RUN_CASE_TASK
from testfleet.fleet.broker import (
    LEGACY_SEP,
    RENEWALS_PER_LEASE,
    SEP,
    migrate_legacy_names,
    queue_lists,
    renew_leases,
    transport_options,
)
from testfleet.settings import Settings
from testfleet.store import RunStore
from testfleet.suites.limits import LimitSettings
from tests.fixtures_redis import redis_server
from tests.integration.workers.runcase import create_run, suite_doc
from workers.app import make_celery
from workers.lease import LeaseRenewer, case_of, held_deliveries
from workers.project_slots import ProjectSlots

pytestmark = pytest.mark.redis

QUEUE = Settings().worker.queue


class Clock:
    """Wall-clock seconds that move only when told."""

    def __init__(self) -> None:
        self.now_s = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def settings(redis_url: str) -> Settings:
    settings = Settings(redis={"url": redis_url})
    assert settings.worker.lease_s == 30.0, "the shipped lease"
    assert settings.worker.restore_interval_s == 1.0, "the shipped restore interval"
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis.url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(kombu_redis, "time", clock)  # kombu's append and restore read this
    return clock


@dataclass
class Broker:
    """Two workers' broker connections: one takes messages, the other sweeps."""

    holder: kombu.Connection
    sweeper: kombu.Connection

    def publish(self, body: str, priority: int = 0) -> None:
        queue = kombu.Queue(QUEUE, kombu.Exchange(QUEUE, "direct"), routing_key=QUEUE)
        with self.holder.Producer() as producer:
            producer.publish(body, exchange=queue.exchange, routing_key=QUEUE,
                             declare=[queue], priority=priority)  # fmt: skip

    def take(self) -> Any:
        """What a worker does on delivery: the message goes to ``unacked`` under a lease."""
        message = self.holder.default_channel.basic_get(QUEUE, no_ack=False)
        assert message is not None, "a message was queued"
        return message

    def sweep(self) -> None:
        """Another worker's periodic sweep, exactly as kombu's event loop calls it."""
        channel = self.sweeper.default_channel
        channel.qos.restore_visible(
            num=channel.unacked_restore_limit, interval=channel.unacked_restore_throttle
        )


@pytest.fixture
def broker(settings: Settings, client: redis.Redis) -> Iterator[Broker]:
    options = transport_options(settings, consumer=True)
    holder = kombu.Connection(settings.redis.url, transport_options=options)
    sweeper = kombu.Connection(settings.redis.url, transport_options=options)
    yield Broker(holder, sweeper)
    # Closing a channel restores what it holds (kombu's restore at shutdown); the test
    # is over, so nothing is left to check.
    holder.release()
    sweeper.release()


def queued(client: redis.Redis) -> int:
    return sum(int(client.llen(name)) for name in queue_lists(QUEUE))


def leases_pass(
    settings: Settings, broker: Broker, clock: Clock, renewer: LeaseRenewer | None, periods: int
) -> Iterator[tuple[float, bool]]:
    """Time passes a restore interval at a time for ``periods`` leases: the sweep runs
    every restore interval, the renewer (if alive) every third of a lease. Yields the
    seconds elapsed and whether a renewal just ran, after each sweep."""
    restore_s = settings.worker.restore_interval_s
    elapsed_s = 0.0
    while elapsed_s < periods * settings.worker.lease_s:
        clock.advance(restore_s)
        elapsed_s += restore_s
        renewed = renewer is not None and elapsed_s % renewer.renew_every_s < restore_s
        if renewer is not None and renewed:
            renewer.renew_now()
        broker.sweep()
        yield elapsed_s, renewed


def test_a_case_outliving_many_leases_is_never_handed_out_while_renewed(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    broker.publish("long case")
    message = broker.take()
    tag = message.delivery_tag
    renewer = LeaseRenewer(settings, client=client, held=lambda: {tag: message}, clock=clock)
    assert renewer.renew_every_s == settings.worker.lease_s / RENEWALS_PER_LEASE

    for elapsed_s, _ in leases_pass(settings, broker, clock, renewer, periods=6):
        assert queued(client) == 0, f"handed out again after {elapsed_s:.0f} s while renewed"
        assert client.hexists(keys.BROKER_UNACKED, tag)
    assert renewer.lost == []
    restore_s = settings.worker.restore_interval_s

    # The worker dies: no more renewals. The case is back in the queue within one lease
    # (+ one restore interval) of the last renewal, not before the lease ran out.
    last_renewal_s = float(client.zscore(keys.BROKER_UNACKED_INDEX, tag) or 0)
    while not queued(client):
        clock.advance(restore_s)
        broker.sweep()
        assert clock() - last_renewal_s <= settings.worker.lease_s + restore_s, "back in time"
    assert clock() - last_renewal_s >= settings.worker.lease_s, "not before the lease ran out"
    assert not client.hexists(keys.BROKER_UNACKED, tag)
    again = broker.take()
    assert again.payload == "long case"
    assert again.headers.get("redelivered") is True


def test_a_renewal_after_a_sweep_took_the_case_reports_it_lost_and_recreates_nothing(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    broker.publish("case")
    message = broker.take()
    tag = message.delivery_tag
    renewer = LeaseRenewer(settings, client=client, held=lambda: {tag: message}, clock=clock)
    # The renewer stalls for a whole lease (a frozen host): a sweep takes the case.
    clock.advance(settings.worker.lease_s + settings.worker.restore_interval_s)
    broker.sweep()
    assert queued(client) == 1

    renewer.renew_now()

    assert renewer.lost == [tag]
    assert client.zscore(keys.BROKER_UNACKED_INDEX, tag) is None, "no lease re-created"
    assert queued(client) == 1, "the case waits in the queue once"


def test_an_acknowledged_case_is_not_reported_lost(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    broker.publish("case")
    message = broker.take()
    tag = message.delivery_tag
    snapshots = [{tag: message}, {}]  # held when the tick starts, acknowledged right after
    renewer = LeaseRenewer(settings, client=client, held=lambda: snapshots.pop(0), clock=clock)
    message.ack()

    renewer.renew_now()

    assert renewer.lost == []


@dataclass
class CancelledRequest:
    """What Celery leaves of a request it cancelled when the broker connection dropped."""

    id: str
    message: Any
    worker_pid: int
    _already_cancelled: bool = True


def test_a_case_celery_cancelled_is_handed_back_once_its_process_is_gone(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    broker.publish("case")
    message = broker.take()
    tag = message.delivery_tag
    request = CancelledRequest("task-1", message, worker_pid=4242)
    holding = [{tag: request}]
    alive = {4242}
    renewer = LeaseRenewer(settings, client=client, held=lambda: holding[0], clock=clock,
                           gone=lambda pid: pid not in alive)  # fmt: skip
    renewer.tick()  # held: renewed
    holding[0] = {}  # cancelled: no longer held, still unacknowledged in Redis

    renewer.tick()
    broker.sweep()
    assert queued(client) == 0, "not while the process that ran it may still be running"

    alive.clear()
    renewer.tick()
    broker.sweep()  # the very next sweep, not a lease later
    assert renewer.handed_back == [tag]
    assert queued(client) == 1
    assert broker.take().payload == "case"


def test_an_acknowledged_or_never_cancelled_case_is_not_handed_back(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    broker.publish("done")
    broker.publish("reserved")
    done, reserved = broker.take(), broker.take()
    finished = CancelledRequest("t-done", done, worker_pid=1, _already_cancelled=False)
    dropped = FakeRequest("t-reserved", reserved)  # dropped without being cancelled
    holding = [{done.delivery_tag: finished, reserved.delivery_tag: dropped}]
    renewer = LeaseRenewer(settings, client=client, held=lambda: holding[0], clock=clock,
                           gone=lambda pid: True)  # fmt: skip
    renewer.tick()
    holding[0] = {}
    done.ack()

    renewer.tick()
    broker.sweep()

    assert renewer.handed_back == []
    assert queued(client) == 0, "the reserved one keeps its lease until it runs out"


@dataclass
class CaseRequest:
    """What the renewer reads of a ``run_case`` request Celery reserved or runs."""

    message: Any
    args: tuple[str, str]
    name: str = RUN_CASE_TASK


def test_a_projects_running_slot_lives_and_dies_with_its_cases_lease(
    settings: Settings, client: redis.Redis, broker: Broker, clock: Clock
) -> None:
    capped = settings.model_copy(update={"limits": LimitSettings(max_running_cases=1)})
    store = RunStore(client, capped)
    run_id, case_id = create_run(
        store, suite_doc("http://127.0.0.1:9", [{"step_type": "wait", "input_data": "1"}])
    )
    project = store.get_record(run_id).project_id  # type: ignore[union-attr]
    slot_key = keys.project_running(project)
    broker.publish("long case of a capped project")
    message = broker.take()
    tag = message.delivery_tag
    # The pool child takes the project's only slot as the case starts (project_slot).
    slots = ProjectSlots(client, 1, capped.worker.lease_s)
    assert slots.acquire(project, case_id, now_s=clock())
    request = CaseRequest(message, (run_id, case_id))
    renewer = LeaseRenewer(capped, client=client, held=lambda: {tag: request}, clock=clock)

    for elapsed_s, renewed in leases_pass(capped, broker, clock, renewer, periods=6):
        if renewed:
            # One renewal moves both, to the same expiry: the slot is the case's lease.
            lease_ends_s = float(client.zscore(keys.BROKER_UNACKED_INDEX, tag) or 0)
            lease_ends_s += capped.worker.lease_s
            assert float(client.zscore(slot_key, case_id) or 0) / 1000 == lease_ends_s
        assert not slots.acquire(project, "another-case", now_s=clock()), (
            f"the running case's slot was taken after {elapsed_s:.0f} s while renewed"
        )
    assert queued(client) == 0

    # The worker is SIGKILLed: no more renewals. When the case's message is back in the
    # queue, its slot is free too, so the redelivery (or any case of the project) runs.
    for _ in leases_pass(capped, broker, clock, None, periods=2):
        if queued(client):
            break
        assert not slots.acquire(project, "another-case", now_s=clock()), "not before the lease"
    assert queued(client) == 1, "back in the queue within a lease"
    assert slots.acquire(project, "another-case", now_s=clock()), "freed with the lease"
    assert client.zscore(slot_key, case_id) is None


def test_the_renewer_reads_the_case_of_a_real_celery_request(
    settings: Settings, client: redis.Redis
) -> None:
    app = make_celery(settings)
    try:
        app.send_task(RUN_CASE_TASK, args=("r1", "r1-0001"))
        connection = kombu.Connection(
            settings.redis.url, transport_options=transport_options(settings, consumer=True)
        )
        message = connection.default_channel.basic_get(QUEUE, no_ack=False)
        request = Request(message, app=app, task=app.tasks[RUN_CASE_TASK])
        assert case_of(request) == ("r1", "r1-0001")
        assert held_deliveries([request]) == {message.delivery_tag: request}
        connection.release()
    finally:
        app.close()
    assert case_of(CaseRequest(None, ("r", "c"), name="celery.ping")) is None


def test_renew_leases_moves_only_existing_entries(client: redis.Redis, clock: Clock) -> None:
    client.zadd(keys.BROKER_UNACKED_INDEX, {"a": 10.0, "b": 20.0})
    lost = renew_leases(client, ["a", "gone", "b"], 1000.5)
    assert lost == ["gone"]
    assert client.zrange(keys.BROKER_UNACKED_INDEX, 0, -1, withscores=True) == [
        ("a", 1000.5),
        ("b", 1000.5),
    ]
    assert renew_leases(client, [], 1.0) == []


@dataclass
class FakeRequest:
    id: str
    message: Any


@dataclass
class FakeMessage:
    delivery_tag: str | None


def test_held_deliveries_cover_reserved_and_running_requests() -> None:
    reserved = FakeRequest("t1", FakeMessage("tag-1"))
    running = FakeRequest("t2", FakeMessage("tag-2"))
    untagged = FakeRequest("t3", FakeMessage(None))
    held = held_deliveries([reserved, running, running, untagged])
    assert held == {"tag-1": reserved, "tag-2": running}


def test_old_priority_lists_and_bindings_move_to_celerys_names(
    settings: Settings, client: redis.Redis, clock: Clock
) -> None:
    # State left by a testfleet that used sep ":": queued cases at three priorities and
    # one case taken by a worker that then died.
    old_options = {**transport_options(settings, consumer=True), "sep": LEGACY_SEP}
    with kombu.Connection(settings.redis.url, transport_options=old_options) as old:
        old_broker = Broker(old, old)
        for body, priority in (("bulk-1", 9), ("medium", 6), ("bulk-2", 9), ("taken", 3)):
            old_broker.publish(body, priority)
        taken = old_broker.take()
        assert taken.payload == "taken"
        old.default_channel.qos._delivered.clear()  # died: nothing restored at close
    assert client.llen(f"{QUEUE}{LEGACY_SEP}9") == 2
    assert client.exists(f"{QUEUE}{SEP}9") == 0

    # Celery's default separator now. kombu cannot even publish past an old binding
    # entry (the ValueError Flower's broadcasts hit): workers and API migrate first.
    new_options = transport_options(settings, consumer=True)
    with kombu.Connection(settings.redis.url, transport_options=new_options) as new:
        new_broker = Broker(new, new)
        with pytest.raises(ValueError, match="not enough values to unpack"):
            new_broker.publish("new-bulk", 9)
        assert migrate_legacy_names(client, QUEUE) == 3
        assert migrate_legacy_names(client, QUEUE) == 0, "nothing left to move"
        new_broker.publish("new-bulk", 9)
        assert not client.exists(*(f"{QUEUE}{LEGACY_SEP}{p}" for p in range(1, 10)))
        members = client.smembers(f"_kombu.binding.{QUEUE}")
        assert members == {f"{QUEUE}{SEP}{SEP}{QUEUE}"}, members

        # The dead worker's case comes back through the rewritten bindings.
        clock.advance(settings.worker.lease_s + 1)
        new_broker.sweep()
        order = [new_broker.take().payload for _ in range(5)]
        assert order == ["taken", "medium", "bulk-1", "bulk-2", "new-bulk"]
