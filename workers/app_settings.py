"""The settings a Celery app was made from, kept on the app for its tasks.

Apart from ``workers.app`` so that the task module, which ``make_celery`` imports to
register it, can read them back without importing the app's module in turn.
"""

from __future__ import annotations

from celery import Celery

from testfleet.errors import UsageError
from testfleet.settings import Settings

_KEY = "testfleet_settings"


def keep_settings(app: Celery, settings: Settings) -> None:
    """Keep ``settings`` on ``app`` (``make_celery`` does, for ``app_settings``)."""
    app.conf[_KEY] = settings


def app_settings(app: Celery) -> Settings:
    """The settings ``make_celery`` built ``app`` from."""
    settings = app.conf.get(_KEY)
    if not isinstance(settings, Settings):
        raise UsageError("this Celery app was not made by workers.app.make_celery(settings)")
    return settings
