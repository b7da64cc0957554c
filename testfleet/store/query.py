"""A read of the run store as data: the commands it queues and the parse of their replies.

A query does no I/O of its own: ``RunReader`` and ``AsyncRunReader`` (``reads``) each run
one in one round trip, and a plan such as the run listing (``listing``) yields them to
whichever face runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Query(Generic[T]):
    """Commands for one pipeline (``build``) and what their replies mean (``parse``)."""

    build: Callable[[Any], None]
    """Queues the commands on a pipeline (sync or async: both queue without I/O)."""
    parse: Callable[[list[Any]], T]
