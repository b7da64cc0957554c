"""How a worker stops: SIGTERM drains it, a second SIGTERM (or the grace running out) hands back.

- First SIGTERM (``docker stop``, a Kubernetes pod ending, scaling down): Celery's
  warm shutdown. The worker takes no new case, finishes the ones it runs,
  acknowledges them and exits 0; its leases are renewed throughout
  (``workers.lease``), so nothing it finishes runs again elsewhere.
- A second SIGTERM, or ``worker.drain_grace_s`` after the first: Celery's cold
  shutdown. The running cases are stopped and their messages go straight back to
  the queue (kombu restores every unacknowledged message as the worker's channel
  closes), so another worker starts them at once instead of after a lease. A
  stopped case's browser session is quit on the way out.

Celery alone ignores a second SIGTERM; ``install`` replaces its handler once the
worker is ready (Celery installs its own as it starts).
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from typing import Any

from celery.signals import worker_ready

from testfleet import logs
from testfleet.settings import Settings

log = logs.get_logger(__name__)

# Celery's own handlers for warm and cold shutdown (untyped; not in celery-types).
celery_worker: Any = importlib.import_module("celery.apps.worker")


class Drain:
    """The SIGTERM handling of one worker (``controller`` is Celery's WorkController)."""

    def __init__(self, controller: Any, grace_s: float) -> None:
        self.controller = controller
        self.grace_s = grace_s
        self._timer: threading.Timer | None = None

    def install(self) -> None:
        """First SIGTERM: warm shutdown, and arm the grace timer and the cold handler."""
        celery_worker._shutdown_handler(
            self.controller, sig="SIGTERM", how="Warm", callback=self._on_first_sigterm
        )

    def _on_first_sigterm(self, controller: Any) -> None:
        # The next SIGTERM is Celery's cold shutdown (as its second Ctrl-C is).
        celery_worker.install_worker_term_hard_handler(controller, sig="SIGTERM")
        log.warning(
            "draining: finishing the running cases; another SIGTERM (or %.0f s) hands them "
            "back to the queue at once",
            self.grace_s,
        )
        self._timer = threading.Timer(self.grace_s, self._grace_over)
        self._timer.daemon = True
        self._timer.start()

    def _grace_over(self) -> None:
        log.warning("drain grace of %.0f s is over: handing the running cases back", self.grace_s)
        os.kill(os.getpid(), signal.SIGTERM)  # the cold handler, in the main thread


def install(settings: Settings) -> None:
    """Take over SIGTERM once the worker is ready."""

    def on_ready(sender: Any = None, **_: Any) -> None:
        controller = getattr(sender, "controller", None)
        if controller is not None:
            Drain(controller, settings.worker.drain_grace_s).install()

    worker_ready.connect(on_ready, weak=False)
