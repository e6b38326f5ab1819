"""Group commit for the journal: one fsync for every line written while the previous one ran.

A sweep's jobs journal their money lines (the request id, the result, the video) and wait for them to be on disk
before their next network wait. At concurrency 40 a wave's jobs all do so in the same few milliseconds: one
fsync each, each in a worker thread of its own, was 40 thread hops and 40 fsyncs of one file where one covers
them all (fsync flushes the file, whichever descriptor asks). Here a caller waits for an fsync that started
after its line was written: the one running when it asks cannot count, so it joins the next, which starts
as soon as the running one ends and covers every line written until then.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class _Syncable(Protocol):
    def sync(self) -> None: ...


class GroupSync:
    """fsyncs shared by the callers of :meth:`sync` on one event loop (one per :class:`~seedance_nb.runner.Run`)."""

    def __init__(self) -> None:
        self._next: asyncio.Future[None] | None = None  # the fsync the next callers wait for (not started)
        self._target: _Syncable | None = None
        self._runner: asyncio.Task[None] | None = None

    async def sync(self, journal: _Syncable) -> None:
        """Return once an fsync that started after this call has ended (raising what it raised).

        Args:
            journal: the journal the caller wrote to (its :meth:`sync` is called in a worker thread).
        """
        self._target = journal
        loop = asyncio.get_running_loop()
        if self._next is None or self._next.get_loop() is not loop:  # none waiting, or left by an earlier loop
            self._next = loop.create_future()
        waited = self._next
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())
        await asyncio.shield(waited)  # one caller cancelled does not cancel the others' fsync

    async def _run(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None
            target = self._target
            try:
                if target is not None:
                    await asyncio.to_thread(target.sync)
            except asyncio.CancelledError:
                waiting.cancel()  # the loop is closing: the waiters are told so
                raise
            except BaseException as exc:  # noqa: BLE001 (handed to every waiter of this fsync)
                if not waiting.done():
                    waiting.set_exception(exc)
                _consume(waiting)
            else:
                if not waiting.done():
                    waiting.set_result(None)


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark ``future``'s exception as seen when all its waiters were cancelled (no "never retrieved" warning)."""
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
