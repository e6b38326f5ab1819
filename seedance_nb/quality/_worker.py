"""The metrics worker processes: measuring downloaded videos outside the client's process.

:class:`WorkerPool` starts ``workers`` processes (``python -c`` importing :func:`main` from this module) and
feeds each from one thread of the parent over its stdin and stdout: one JSON line per video out (paths, the
requested seconds), one JSON line back (the :class:`~seedance_nb.quality.VideoMetrics`, or the error). A worker
imports what measuring needs as soon as it starts, so its start overlaps the run's first jobs.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: with ``spawn`` (the only start method that is safe in a
process with threads and an event loop, and the only one on Windows) every worker imports the parent's
``__main__`` again. A user's script without an ``if __name__ == "__main__":`` guard would then run its sweep a
second time inside the worker, and with ``force=True`` pay for it twice. A worker started here imports this
module only. The protocol is a few lines of JSON; the parent tells a worker's death by the end of its stdout
(a kill, running out of memory, a crash in a decoder), fails only the measure that worker held, and starts a
new worker for the next one (:data:`MAX_RESTARTS` times a pool at most).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("seedance_nb.quality")

#: How many times a pool starts a new worker after one died; past that, its measures fail at once.
MAX_RESTARTS = 3
#: How long closing a pool waits for a worker to exit after its stdin is closed, before it is killed.
EXIT_SECONDS = 10.0
#: How long a run's workers stay after it ends (``SEEDANCE_METRICS_KEEP_SECONDS``), so that the next run in the
#: same kernel measures its first video at once instead of starting interpreters again; 0 stops them with the run.
KEEP_SECONDS = 60.0
#: How much a worker lowers its own scheduling priority (Unix ``nice``): where the cores are busy with the run's
#: submits and downloads (a wave of jobs ending together), those go first, and measuring takes the idle time.
NICE = 10
#: The worker's first lines: its priority is lowered before it imports anything (importing the package alone is
#: 0.2 s of CPU a worker, and the pool starts as a run's first wave of submits goes out), then :func:`main`.
_BOOT = (
    "import os, sys\n"
    "if hasattr(os, 'nice'):\n"
    "    try: os.nice(int(sys.argv[2]))\n"
    "    except OSError: pass\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "from seedance_nb.quality._worker import main\n"
    "main()"
)


class WorkerDied(RuntimeError):
    """The worker process measuring a video exited (killed, out of memory, crashed) before it answered."""


class MeasureFailed(RuntimeError):
    """The worker could not measure a video (an unreadable file, ...): its message says why."""


def main() -> None:
    """The worker's loop: one JSON request per stdin line, one JSON answer per stdout line, until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's: it ends the run, then the workers
    # (its priority is lowered by NICE already, in _BOOT: measuring yields the cores to the run and the notebook)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the answers
    from ._measuring import _open_image, measure_file

    # A sweep's takes share their input images (files named by their hash, or data URIs): each is decoded once.
    image = functools.lru_cache(maxsize=8)(lambda value, field: None if value is None else _open_image(value, field))
    _warm()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            start, end = image(request["image"], "image"), image(request["end_image"], "end_image")
            measured = measure_file(request["video"], start, end, request["requested"], request.get("prompt"))
            answer: dict[str, Any] = {"metrics": measured.to_json()}
        except Exception as exc:  # answered, not raised: the worker goes on with the next video
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def _warm() -> None:
    """Import the measuring libraries now, while the first videos are still being generated; OpenCV on one thread
    (a worker is one of the run's measuring processes: at 128x72 its thread pool cost a quarter more CPU a clip)."""
    with contextlib.suppress(ImportError):
        import av  # noqa: F401
        import cv2
        import numpy  # noqa: F401
        import pyloudnorm  # noqa: F401
        import scipy.signal  # noqa: F401

        cv2.setNumThreads(1)


class WorkerPool:
    """Up to ``workers`` measuring processes fed from one queue; :meth:`submit` returns a future of the measures.

    The first worker starts with the pool; each further one only when measures pile up (:meth:`submit` finds
    more than one waiting), so a small sweep pays for one interpreter's start and a wave of videos gets more.

    Args:
        workers: processes at most (each served by one thread of this process).
        max_restarts: new workers started in all after deaths; past that, measures fail with :class:`WorkerDied`.
    """

    def __init__(self, workers: int = 1, max_restarts: int = MAX_RESTARTS) -> None:
        self.workers = max(1, workers)
        #: Runs using this pool now (:func:`lend`, :func:`give_back`).
        self.leases = 0
        self._queue: queue.Queue[tuple[dict[str, Any], Future[dict[str, Any]]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._restarts_left = self._max_restarts = max_restarts
        self._closing = False
        self._procs: dict[int, subprocess.Popen[str]] = {}
        self._most = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._add_worker()

    def _add_worker(self) -> None:
        """Start one more worker and the thread that serves it (call with room for one)."""
        thread = threading.Thread(
            target=self._serve, args=(len(self._threads),), name=f"seedance-metrics-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def spent(self) -> bool:
        """Whether a worker of this pool died (a pool that saw a death is not kept for another run)."""
        with self._lock:
            return self._restarts_left < self._max_restarts

    def pids(self) -> list[int]:
        """The process ids of the workers running now."""
        with self._lock:
            return [proc.pid for proc in self._procs.values() if proc.poll() is None]

    def submit(self, request: dict[str, Any]) -> Future[dict[str, Any]]:
        """Queue one video: ``{"video", "image", "end_image", "requested", "prompt"}`` (paths as text, or None).

        Args:
            request: what :func:`main` reads.
        """
        future: Future[dict[str, Any]] = Future()
        self._queue.put((request, future))
        with self._lock:
            if not self._closing and len(self._threads) < self._most and self._queue.qsize() > 1:
                self._add_worker()  # measures are piling up: one more worker (up to ``workers``)
        return future

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker and wait for its process to exit (blocking: call it in a thread).

        Args:
            kill: kill the workers now, whatever they are measuring (their measures fail).
        """
        with self._lock:
            self._closing = True  # no new worker from now on
            for proc in self._procs.values() if kill else ():
                with contextlib.suppress(OSError):
                    proc.kill()
            threads = list(self._threads)
        for _thread in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()

    def _start(self, slot: int) -> subprocess.Popen[str] | None:
        """A new worker process for ``slot`` (None when the pool may start no more)."""
        root = str(Path(__file__).resolve().parent.parent.parent)  # where this seedance_nb is imported from
        with self._lock:
            if slot in self._procs:  # a worker died before: only so many new ones
                if self._restarts_left <= 0 or self._closing:
                    self._procs.pop(slot)
                    return None
                self._restarts_left -= 1
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, root, str(NICE)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
            self._procs[slot] = proc
            return proc

    def _serve(self, slot: int) -> None:
        """One worker's thread: send it each queued video, read its answer; start a new worker after a death."""
        proc = self._start(slot)
        try:
            while (item := self._queue.get()) is not None:
                request, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                if proc is None:
                    future.set_exception(WorkerDied("the metrics worker died too often: none is running"))
                    continue
                answer = _ask(proc, request)
                if answer is None:
                    code = _end(proc)
                    future.set_exception(WorkerDied(f"the metrics worker process exited (exit status {code})"))
                    proc = self._start(slot)
                elif "error" in answer:
                    future.set_exception(MeasureFailed(str(answer["error"])))
                else:
                    future.set_result(answer["metrics"])
        finally:
            if proc is not None:
                _end(proc)
            with self._lock:
                self._procs.pop(slot, None)


def _ask(proc: subprocess.Popen[str], request: dict[str, Any]) -> dict[str, Any] | None:
    """One request to ``proc`` and its answer; None when the worker is gone (its pipe broken or closed)."""
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    try:
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
    except (OSError, ValueError):  # BrokenPipeError, or a pipe closed by a kill
        return None
    if not line:
        return None
    try:
        answer: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        return {"error": f"the worker answered {line[:80]!r}"}
    return answer


def _end(proc: subprocess.Popen[str]) -> int:
    """Close ``proc``'s stdin (its loop ends), wait for it to exit (killed if it does not), close its pipes."""
    pipes: list[IO[str] | None] = [proc.stdin, proc.stdout]
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in pipes:
        with contextlib.suppress(OSError, ValueError):
            if pipe is not None:
                pipe.close()
    return proc.returncode


class _Lender:
    """The process's kept pool: lent to each run, kept :func:`keep_seconds` after the last gives it back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: WorkerPool | None = None
        self.timer: threading.Timer | None = None


_LENDER = _Lender()


def keep_seconds() -> float:
    """How long workers stay after a run: ``SEEDANCE_METRICS_KEEP_SECONDS``, else :data:`KEEP_SECONDS`."""
    text = os.environ.get("SEEDANCE_METRICS_KEEP_SECONDS", "")
    try:
        return max(0.0, float(text)) if text.strip() else KEEP_SECONDS
    except ValueError:
        logger.warning("SEEDANCE_METRICS_KEEP_SECONDS=%r is not a number of seconds: %g s", text, KEEP_SECONDS)
        return KEEP_SECONDS


def lend(workers: int) -> WorkerPool:
    """A pool of ``workers`` for one run: the kept one when it has that size and no worker of it died, else new.

    Args:
        workers: the most worker processes the run may use.
    """
    with _LENDER.lock:
        if _LENDER.timer is not None:
            _LENDER.timer.cancel()
            _LENDER.timer = None
        pool = _LENDER.pool
        if pool is None or pool.workers != max(1, workers) or pool.spent():
            if pool is not None and pool.leases == 0:
                threading.Thread(target=pool.close, name="seedance-metrics-close", daemon=True).start()
            pool = _LENDER.pool = WorkerPool(workers)
        pool.leases += 1
        return pool


def give_back(pool: WorkerPool, *, kill: bool = False) -> None:
    """A run is done with ``pool`` (blocking: call it in a thread). It is kept for the next run for
    :func:`keep_seconds`, unless ``kill`` (measures still running: stopped now), a worker of it died, or the
    keep time is 0; then it is closed, and waited for, once no other run uses it.

    Args:
        pool: what :func:`lend` gave.
        kill: kill its workers now, whatever they are measuring.
    """
    keep = keep_seconds()
    with _LENDER.lock:
        pool.leases -= 1
        kept = pool is _LENDER.pool
        if kill or keep <= 0 or pool.spent() or not kept:
            if kept:
                _LENDER.pool = None  # no run is lent it again
            close = pool.leases <= 0  # else the last run using it closes it
        else:
            close = False
            if pool.leases <= 0:
                _LENDER.timer = threading.Timer(keep, _expire, args=(pool,))
                _LENDER.timer.daemon = True
                _LENDER.timer.start()
    if close:
        pool.close(kill=kill)


def _expire(pool: WorkerPool) -> None:
    with _LENDER.lock:
        if _LENDER.pool is not pool or pool.leases > 0:
            return
        _LENDER.pool, _LENDER.timer = None, None
    pool.close()


@atexit.register
def close_kept() -> None:
    """Stop the kept workers now and wait for them to exit (at exit, and for tests); runs using them lose their
    pending measures (logged as missing)."""
    with _LENDER.lock:
        pool, _LENDER.pool = _LENDER.pool, None
        if _LENDER.timer is not None:
            _LENDER.timer.cancel()
            _LENDER.timer = None
    if pool is not None:
        pool.close(kill=pool.leases > 0)
