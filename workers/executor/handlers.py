"""Every step kind's handler, by its registry key (``testfleet.suites.steps``)."""

from __future__ import annotations

from collections.abc import Mapping

from workers.executor import (
    accessibility,
    assertions,
    control,
    forms,
    navigation,
    page_state,
    performance,
    pointer,
    visual,
    waits,
)
from workers.executor.page import Handler

HANDLERS: Mapping[str, Handler] = {
    **navigation.HANDLERS,
    **pointer.HANDLERS,
    **forms.HANDLERS,
    **waits.HANDLERS,
    **assertions.HANDLERS,
    **page_state.HANDLERS,
    **visual.HANDLERS,
    **accessibility.HANDLERS,
    **performance.HANDLERS,
    **control.HANDLERS,
}
"""Registry key -> handler; a test checks it covers the registry exactly."""
