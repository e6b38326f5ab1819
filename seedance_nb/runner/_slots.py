"""A run's request slots, with submits first: a freed slot is refilled before the finished job reads its result.

When a wave of jobs finishes together (fal's generation times cluster; the emulator's fixed time makes them
identical), every finished job wants its result and its video while every freed slot wants its next submit, all
on one event loop. Taken in turn, the next submit of the last slot waited behind every result and download of
the wave: the run fell behind its ideal by the client's whole CPU per job times the concurrency, at every wave
(issue 25). Here a job that has freed its slot waits (:meth:`RequestSlots.refilled`) until no freed slot is
still being refilled, that is until every job handed a slot has sent its submit (or given up), and only then
reads its result and downloads its video. Only the order changes: a result on fal waits there, and nothing is
sent twice or skipped.

The wait is bounded (:data:`YIELD_SECONDS`): a bookkeeping slip can only delay a result, never hold it.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["YIELD_SECONDS", "RequestSlots"]

#: The longest a finished job waits for the freed slots to be refilled before it reads its result anyway.
YIELD_SECONDS = 2.0


class RequestSlots:
    """``concurrency`` slots, one per remote request, that know which freed slots are being refilled.

    Args:
        concurrency: how many requests may be on fal at once.
    """

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._waiting = 0  # jobs blocked in acquire()
        self._promised = 0  # slots released to a waiting job that has not yet woken
        self._starting = 0  # jobs that hold a slot and have not yet sent their submit
        self._quiet = asyncio.Event()
        self._quiet.set()

    async def acquire(self) -> None:
        """Wait for a slot; the caller then counts as starting until :meth:`started`."""
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
            self._promised = min(self._promised, self._waiting)
        self._promised = max(0, self._promised - 1)
        self._starting += 1
        self._update()

    def started(self) -> None:
        """The caller's submit is sent (or it will send none): it no longer holds finished jobs back."""
        self._starting = max(0, self._starting - 1)
        self._update()

    def release(self) -> None:
        """Free a slot; when a job is waiting for one, finished jobs yield until it has submitted."""
        if self._waiting > self._promised:
            self._promised += 1
        self._slots.release()
        self._update()

    async def refilled(self) -> None:
        """Return once no freed slot is still being refilled (at most :data:`YIELD_SECONDS` from now)."""
        if self._quiet.is_set():
            return
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), YIELD_SECONDS)

    def _update(self) -> None:
        if self._promised or self._starting:
            self._quiet.clear()
        else:
            self._quiet.set()
