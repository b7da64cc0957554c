"""The egress proxy's connection slots: shared by every source, capped per source.

A connection takes a slot once its request head is read (a client that sends
nothing holds no slot) and keeps it until it ends. One source (one browser
session, ``grid.egress_sources``) holds at most ``per_source`` slots; the rest of
its connections wait for one of its own slots to free, up to ``wait_s``, while other
sources' connections go on. So a page that opens hundreds of connections to a
server that never answers slows only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class NoSlot(Exception):
    """A connection could not get a slot; the message says why (for the proxy's log)."""


class SourceSlots:
    """``total`` slots, at most ``per_source`` of them held by one source; at most
    ``waiting_per_source`` connections of one source wait for a slot at once."""

    def __init__(self, total: int, per_source: int, waiting_per_source: int) -> None:
        if not 0 < per_source <= total:
            raise ValueError(f"per-source slots {per_source} must be from 1 to total {total}")
        self.total = total
        self.per_source = per_source
        self.waiting_per_source = waiting_per_source
        self._held: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._in_use = 0
        self._freed = asyncio.Condition()

    def held(self, source: str) -> int:
        """Slots ``source`` holds now."""
        return self._held.get(source, 0)

    @property
    def in_use(self) -> int:
        """Slots held now, by every source."""
        return self._in_use

    @contextlib.asynccontextmanager
    async def hold(self, source: str, wait_s: float) -> AsyncIterator[None]:
        """Hold one slot for ``source`` for the ``async with`` block.

        Raises ``NoSlot`` when ``source`` already has ``waiting_per_source``
        connections waiting, or no slot came within ``wait_s`` seconds."""
        if self._waiting.get(source, 0) >= self.waiting_per_source:
            raise NoSlot(
                f"{source} already has {self.waiting_per_source} connections waiting for "
                f"one of its {self.per_source} slots"
            )
        self._waiting[source] = self._waiting.get(source, 0) + 1
        try:
            async with self._freed:
                if not self._free(source):
                    waited = self._freed.wait_for(lambda: self._free(source))
                    await asyncio.wait_for(waited, wait_s)
                self._held[source] = self.held(source) + 1
                self._in_use += 1
        except TimeoutError:
            raise NoSlot(
                f"{source} waited {wait_s:g} s for a slot (it holds {self.held(source)} of "
                f"at most {self.per_source}; {self._in_use} of {self.total} in use)"
            ) from None
        finally:
            self._waiting[source] -= 1
            if not self._waiting[source]:
                del self._waiting[source]
        try:
            yield
        finally:
            await self._release(source)

    def _free(self, source: str) -> bool:
        return self._in_use < self.total and self.held(source) < self.per_source

    async def _release(self, source: str) -> None:
        self._held[source] -= 1
        if not self._held[source]:
            del self._held[source]
        self._in_use -= 1

        async def wake() -> None:
            async with self._freed:
                self._freed.notify_all()

        # Shielded: a connection cancelled here (the proxy stopping) still wakes the
        # waiters its slot was freed for.
        await asyncio.shield(wake())
