"""Run a coroutine to completion from sync code, in a script or inside Jupyter's running loop.

Inside a running loop (a Jupyter cell) the coroutine runs on a fresh loop in a worker thread while the
cell waits. Re-entering the kernel's own loop with ``nest_asyncio`` breaks ipykernel 7 ("cannot enter
context ... is already entered", and later cells hang), so it is not used. An interrupt of the waiting
cell cancels the coroutine, which cancels its remote requests before the interrupt is re-raised.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["run_fresh", "run_sync"]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion: on a fresh loop here, or in a worker thread when a loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_fresh(coro)
    return _run_in_thread(coro)


class _Outcome(Generic[T]):
    """What the worker thread hands back: its task (for a cancel), then its one value or its error."""

    def __init__(self) -> None:
        self.task: asyncio.Task[Any] | None = None
        self.values: list[T] = []
        self.error: BaseException | None = None


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    outcome: _Outcome[T] = _Outcome()
    started = threading.Event()
    # Waited on instead of Thread.join: a Ctrl-C that interrupts join() on CPython 3.11 can mark the thread
    # stopped while it still runs (bpo-45274's handling), so a later join() would not wait for the cancel.
    finished = threading.Event()

    async def main() -> T:
        outcome.task = asyncio.current_task()
        started.set()
        return await coro

    def target() -> None:
        try:
            outcome.values.append(run_fresh(main(), loop))
        except BaseException as exc:  # handed to the waiting thread
            outcome.error = exc
        finally:
            started.set()
            finished.set()

    worker = threading.Thread(target=target, name="seedance-nb-sync", daemon=True)
    worker.start()
    try:
        while not finished.wait(0.1):
            pass
    except KeyboardInterrupt:
        started.wait()
        task = outcome.task
        if task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        finished.wait()  # the remote requests are cancelled and journalled before the interrupt is re-raised
        raise
    worker.join()
    if outcome.error is not None:
        raise outcome.error
    return outcome.values[0]


def run_fresh(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None) -> T:
    """``asyncio.run`` done by hand: once nest_asyncio is applied somewhere in the process, the global
    ``asyncio.run`` is replaced by one that never closes its loop, so do its work explicitly."""
    loop = loop or asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
