"""Run a coroutine to completion from sync code, in a script or inside Jupyter's running loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["run_fresh", "run_sync"]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion: on a fresh loop in plain Python; nested in Jupyter's running loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return run_fresh(coro)
    import nest_asyncio

    nest_asyncio.apply(loop)
    return loop.run_until_complete(coro)


def run_fresh(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` without ``asyncio.run``: once nest_asyncio is applied (as in Jupyter) the global
    ``asyncio.run`` is replaced by one that never closes its loop, so do its work explicitly."""
    loop = asyncio.new_event_loop()
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
