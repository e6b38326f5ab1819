"""Sync entry points over the async core (the same pattern as seedance_nb.sweep's wrappers)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..client import AsyncClient

T = TypeVar("T")


def run_with_client(client: AsyncClient | None, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run ``body(client)`` to completion (a fresh loop, or a worker thread inside Jupyter) and close
    the client's connections for that loop afterwards."""
    from .._sync import run_sync

    async def main() -> T:
        nonlocal client
        if client is None:
            from ..backends import connect

            client = connect(quiet=True)
        try:
            return await body(client)
        finally:
            with contextlib.suppress(RuntimeError):
                await client.aclose()

    return run_sync(main())
