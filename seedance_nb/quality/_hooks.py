"""Metrics during a run: the runner's ``after_download`` hook, measuring in a worker process: off the event
loop, off the GIL the loop needs, and off the runner's critical path.

Each downloaded video is queued to a worker process (one, and a second when measures pile up on a machine of two
cores or more; :mod:`._worker` says how they are started, fed and niced, and why not with ``multiprocessing``).
The download step only waits when :data:`QUEUE_BOUND` measures are already queued or running (backpressure: a
slow disk or a 1080p batch cannot pile up unbounded work); that wait holds a download slot, never a request
slot, so the next submit is never delayed by a metric. The bound is larger than a usual wave of videos (a queued
measure is a path): a paid video, whose URL on fal expires, should not wait on fal behind the measuring of others.
The result comes back to the run's loop and is journalled there as a ``metrics`` event (flushed, not fsynced).

Why a process and not a thread: measuring is Python and NumPy between decoder calls, so a thread holds the
GIL the event loop needs (issue 25 measured the client's CPU per job doubling with metrics in a thread, and a
run at C = 40 falling far behind its ideal). A worker costs one interpreter's start per run (about 1.5 s of
CPU, in the worker), started when the run's first request is submitted (``awaiting_video``), so that it imports
while the first videos are generated; a run served from the cache starts none.

A worker that dies (killed, out of memory, a crash in a decoder) costs only the measure it held: that take is
logged ("its metrics are missing ..."), its video and journal lines are untouched, and the next video gets a
new worker. The run waits for the measures still queued when its last job ends (at most
:data:`DRAIN_SECONDS`), so ``sweep.df`` has them when the run returns. Its workers then stay for
``SEEDANCE_METRICS_KEEP_SECONDS`` (60 s by default; 0 stops them with the run) for the next run in the same
process, which measures its first video at once instead of starting interpreters again (``_worker.lend``); after
that, at the process's exit, after a worker died, or when measures were still running at the run's end, they are
stopped and waited for. No process outlives the kernel or the command that started it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from ..hooks import RunnerHooks
from ._measuring import VideoMetrics, job_measure_args
from ._worker import WorkerDied, WorkerPool, give_back, lend

__all__ = ["DRAIN_SECONDS", "QUEUE_BOUND", "MetricsHooks"]

logger = logging.getLogger("seedance_nb.quality")

#: How many measures may be queued or running before a download step waits for room (at concurrency 40 a bound
#: of 4 held the downloads of a wave ending together behind the measuring: issue 25's timeline).
QUEUE_BOUND = 64
#: How long the end of a run waits for the measures still queued before it stops the workers without them.
DRAIN_SECONDS = 120.0
_MISSING = "its metrics are missing (the video is safe): sweep.compute_metrics() measures them again"


class MetricsHooks(RunnerHooks):
    """Measure each downloaded video in a worker process and journal a ``metrics`` event.

    Args:
        workers: worker processes at most (``SEEDANCE_METRICS_WORKERS``, else 2 on a machine of 2 cores or more):
            the first starts with the run's first submit, a second only when measures pile up (a wave of videos
            arriving together); they run at a lower priority (``nice``), so the run's own work goes first.
        bound: measures queued or running at most before ``after_download`` waits for room.
    """

    def __init__(self, workers: int | None = None, bound: int = QUEUE_BOUND) -> None:
        default = str(min(2, os.cpu_count() or 1))
        self.workers = workers or max(1, int(os.environ.get("SEEDANCE_METRICS_WORKERS", default) or default))
        self.bound = max(bound, self.workers)
        self.pool: WorkerPool | None = None
        self._room: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def awaiting_video(self, job: Any) -> None:
        """Start the worker process as soon as a video is on its way (its imports, about 1.5 s of CPU, then
        overlap the generation rather than the download of the first videos).

        Args:
            job: the job whose request was just submitted (or re-attached).
        """
        if self.pool is None:
            self.pool = lend(self.workers)

    async def after_download(self, run: Any, job: Any, path: Path) -> None:
        """Queue ``job``'s video to be measured in the worker; returns at once unless the queue is full.

        Args:
            run: the run (it journals the result: ``record_metrics``).
            job: the job just downloaded.
            path: its video.
        """
        if self._room is None:
            self._room = asyncio.Semaphore(self.bound)
        await self._room.acquire()
        try:
            video, image, end_image, requested, prompt = job_measure_args(run, job, path)
            request = {
                "video": str(video),
                "image": _text(image),
                "end_image": _text(end_image),
                "requested": requested,
                "prompt": prompt,
            }
            if self.pool is None:
                self.pool = lend(self.workers)
            measuring = asyncio.wrap_future(self.pool.submit(request))
        except Exception as exc:  # a metric must never cost a paid video (nor its download step)
            logger.warning("could not queue job %s's metrics (%s): %s", getattr(job, "job", "?"), Path(path).name, exc)
            self._room.release()
            return
        task = asyncio.ensure_future(self._finish(run, job, Path(path), measuring))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, run: Any, job: Any, path: Path, measuring: asyncio.Future[Any]) -> None:
        """Wait for one measure and journal it on the run's loop; a failure only loses this take's metrics."""
        assert self._room is not None
        number = getattr(job, "job", "?")
        try:
            measured = VideoMetrics.from_json(await measuring)
        except WorkerDied as exc:
            logger.warning("job %s: %s while measuring %s; %s", number, exc, path.name, _MISSING)
        except asyncio.CancelledError:
            logger.warning("job %s: measuring %s was stopped with the run; %s", number, path.name, _MISSING)
        except Exception as exc:  # a metric must never cost a paid video
            logger.warning("could not measure job %s (%s): %s", number, path.name, exc)
        else:
            try:
                run.record_metrics(job, measured)  # the run owns its journal
            except OSError as exc:
                logger.warning("could not journal job %s's metrics: %s", number, exc)
        finally:
            self._room.release()

    async def after_run(self) -> None:
        """Wait for the measures still queued (at most :data:`DRAIN_SECONDS`), then give the workers back: kept a
        while for the next run, or stopped and waited for (``_worker.give_back``)."""
        late: set[asyncio.Task[None]] = set()
        if self._tasks:
            _done, late = await asyncio.wait(list(self._tasks), timeout=DRAIN_SECONDS)
            if late:
                logger.warning(
                    "%d measure(s) still running after %.0f s: the worker is stopped", len(late), DRAIN_SECONDS
                )
        pool, self.pool, self._room = self.pool, None, None
        if pool is not None:  # kept for the next run a while, or stopped (killed when measures were late)
            await asyncio.to_thread(give_back, pool, kill=bool(late))  # the late ones fail: their tasks end
        if late:
            for task in late:  # (a pool another run still uses is not killed: these stop waiting for it)
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


def _text(image: Any) -> str | None:
    """An input image as the worker reads it: a path's text, a data URI, or None."""
    return None if image is None else str(image)
