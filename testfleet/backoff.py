"""How long to wait before trying again: one formula for every retry loop.

Exponential with jitter: after ``n`` failures in a row the ceiling is
``first_s * 2 ** (n - 1)``, capped at ``max_s``, and the delay is drawn uniformly
from the upper ``1 - jitter`` part of it (by default half to all of the ceiling),
so clients that failed together do not all come back at the same instant. A
server's ``Retry-After`` (or OpenAI's ``retry-after-ms``) wins over the formula,
taken as it is (only capped at ``max_s``): retrying earlier would be refused.

Used by the CLI's SSE and WebSocket clients, the gateway's stream reader and
the OpenAI calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    """Delays for one retry loop."""

    first_s: float
    """The ceiling after the first failure."""
    max_s: float
    """No delay is longer (a server's ``Retry-After`` included)."""
    jitter: float = 0.5
    """Fraction of the ceiling the delay may fall short of it (0: exactly the ceiling)."""
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    """Uniform in [0, 1): the jitter's source (a fixed one makes delays predictable)."""

    def delay_s(self, failures: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after ``failures`` (1, 2, ...) failures in a row; the server's
        ``retry_after_s``, when given, instead of the formula."""
        if retry_after_s is not None:
            return max(0.0, min(retry_after_s, self.max_s))
        ceiling_s = min(self.max_s, self.first_s * 2.0 ** max(0, failures - 1))
        return ceiling_s * (1.0 - self.jitter * self.rand())


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """What a response's headers ask the client to wait, in seconds, or None.

    ``retry-after-ms`` (OpenAI) first, then ``Retry-After`` as seconds or an HTTP date.
    ``headers`` must look names up case-insensitively (httpx's and Starlette's do).
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
