"""Metrics during a run: the runner's ``after_download`` hook, measuring off the event loop and off the
runner's critical path.

Each downloaded video is queued to a small worker pool (one thread by default); the download step only waits
when :data:`QUEUE_BOUND` measures are already waiting (backpressure, so a slow disk or a 1080p batch cannot pile
up unbounded work). That wait holds a download slot, never a request slot: the next submit is never delayed by
a metric. The result is journalled on the run's loop as a ``metrics`` event (flushed, not fsynced); the run
waits for the measures still queued when its last job ends, so ``sweep.df`` has them when the run returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..hooks import RunnerHooks
from ._measuring import measure_job

__all__ = ["QUEUE_BOUND", "MetricsHooks"]

logger = logging.getLogger("seedance_nb.quality")

#: How many measures may wait for the worker before a download step waits for room.
QUEUE_BOUND = 4


class MetricsHooks(RunnerHooks):
    """Measure each downloaded video in a bounded worker pool and journal a ``metrics`` event.

    Args:
        workers: worker threads (default 1, or ``SEEDANCE_METRICS_WORKERS``): metrics share the client's cores.
        bound: measures queued or running at most before ``after_download`` waits for room.
    """

    def __init__(self, workers: int | None = None, bound: int = QUEUE_BOUND) -> None:
        self.workers = workers or max(1, int(os.environ.get("SEEDANCE_METRICS_WORKERS", "1") or 1))
        self.bound = max(bound, self.workers)
        self._pool: ThreadPoolExecutor | None = None
        self._room: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def after_download(self, run: Any, job: Any, path: Path) -> None:
        """Queue ``job``'s video to be measured; returns at once unless the queue is full.

        Args:
            run: the run (it journals the result: ``record_metrics``).
            job: the job just downloaded.
            path: its video.
        """
        if self._room is None:
            self._room = asyncio.Semaphore(self.bound)
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="seedance-metrics")
        await self._room.acquire()
        task = asyncio.ensure_future(self._measure(run, job, path))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _measure(self, run: Any, job: Any, path: Path) -> None:
        assert self._room is not None
        try:
            measured = await asyncio.get_running_loop().run_in_executor(self._pool, measure_job, run, job, path)
        except Exception as exc:  # a metric must never cost a paid video
            logger.warning("could not measure job %s (%s): %s", getattr(job, "job", "?"), Path(path).name, exc)
        else:
            try:
                run.record_metrics(job, measured)  # the run owns its journal
            except OSError as exc:
                logger.warning("could not journal job %s's metrics: %s", getattr(job, "job", "?"), exc)
        finally:
            self._room.release()

    async def after_run(self) -> None:
        """Wait for the measures still queued, then stop the worker."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        self._pool, self._room = None, None
