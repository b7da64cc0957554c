"""``celery -A workers ...``: Celery's own tools on the fleet's broker, with its exact settings.

Celery looks for ``workers.celery`` when given the package, so Flower and the
Celery CLI load here the app the workers run, configured from the same
environment (``TESTFLEET_*``, ``.env``)::

    celery -A workers inspect ping          # every worker answers
    celery -A workers inspect active        # the case each one runs
    celery -A workers flower --port=5555    # workers, tasks, queues in a browser

An entry point like ``testfleet worker``: it builds the settings once, here.
"""

from __future__ import annotations

from testfleet.settings import Settings
from workers.app import make_celery

app = make_celery(Settings())
