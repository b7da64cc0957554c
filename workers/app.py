"""The Celery app: one task, ``testfleet.run_case``, on a Redis broker.

The orchestrator sends tasks by name with its own client app; sender and
workers agree on the transport options through ``testfleet.fleet.broker`` (priority
list names, the lease). ``celery -A workers ...`` (Flower, ``inspect``) loads
this same app through ``workers/celery.py``.

There is no result backend: a case's result lives in the ``RunStore``, written
exactly once however often Celery delivers the task.
"""

from __future__ import annotations

from celery import Celery

from testfleet.constants import RUN_CASE_TASK
from testfleet.fleet import redisconn
from testfleet.fleet.broker import transport_options
from testfleet.results import PRIORITY_LEVELS
from testfleet.settings import Settings
from workers.app_settings import keep_settings

"""Redis has no priority queues; kombu emulates them with one list per step
(``<queue>``, ``<queue>:1`` ... ``<queue>:9``), popped lowest number first."""

HARD_LIMIT_GRACE_S = 120
"""How long past ``case_timeout_s`` Celery kills a task's process outright."""
SOFT_LIMIT_GRACE_S = 60
"""How long past ``case_timeout_s`` Celery interrupts a task (``SoftTimeLimitExceeded``)."""


def make_celery(settings: Settings) -> Celery:
    """The Celery app for workers and senders, configured from ``settings``."""
    worker = settings.worker
    app = Celery("testfleet", broker=redisconn.broker_url(settings.redis), set_as_current=False)
    app.conf.update(
        # Results live in the RunStore; a Celery result backend would only be a second,
        # disagreeing copy (and a Redis key per task to expire).
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=worker.queue,
        task_routes={RUN_CASE_TASK: {"queue": worker.queue}},
        # Ack only after the case ran: a worker killed mid-test leaves its message
        # unacknowledged, and once its lease runs out (testfleet.fleet.broker) another worker
        # runs the case (RunStore keeps the final status exactly-once).
        task_acks_late=True,
        # ...and a pool child killed (OOM, SIGKILL of Chrome's parent) requeues its
        # message instead of acking it as failed, which acks_late alone would do.
        task_reject_on_worker_lost=True,
        # A test runs for seconds to minutes: a process must not hoard queued cases
        # that an idle worker could start now, nor hold a critical case behind them.
        worker_prefetch_multiplier=1,
        broker_transport_options=transport_options(settings, consumer=True),
        # kombu gives a message without priority 0, the highest: bulk sends that forget
        # it would overtake everything. Unmarked cases queue as "medium".
        task_default_priority=PRIORITY_LEVELS["medium"],
        # Task events for Flower and the fleet panel: started/succeeded/failed per case,
        # and "sent" so queued time is visible too.
        worker_send_task_events=True,
        task_send_sent_event=True,
        # run_case stops itself at case_timeout_s between steps and records `error`;
        # the soft limit interrupts a step hung in the driver (still recorded), and the
        # hard limit kills the process as a last resort.
        task_soft_time_limit=worker.case_timeout_s + SOFT_LIMIT_GRACE_S,
        task_time_limit=worker.case_timeout_s + HARD_LIMIT_GRACE_S,
        # With late acks, a task running when the broker connection drops cannot be
        # acked any more and will be redelivered once its lease runs out (the renewals
        # stop with it): stop it now instead of running it twice at once (Celery 6's
        # default). Its case runs again, or is left alone if its result was recorded.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Workers often start before Redis is up (compose, `testfleet up`), and Redis
        # restarts or fails over: keep reconnecting, however long it takes (Celery's
        # default gives up after 100 tries and the worker exits).
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # The entry point configures logging (one format for every component); Celery
        # replacing the root logger's handlers would undo it.
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    keep_settings(app, settings)
    # Registers testfleet.run_case (a shared task) with every app, this one included.
    import workers.tasks  # noqa: F401

    return app
