"""SQLite for the per-user files that every process of a user shares (``cache.sqlite``: the cache index and the
claims): WAL mode, and one writer at a time within a process.

Why a lock of our own beside SQLite's: when two threads of one process both want to write, the loser does not
queue. It sleeps in SQLite's busy handler (1, 2, 5, 10, 15, 20, 25 ms ... until the file is free), tries again,
and may lose again: a thread can starve. A run's first wave starts dozens of jobs at once, each claiming its
request (a write transaction of about half a millisecond) from a thread. With 6 threads claiming 240 jobs, the
slowest job waited 120-440 ms in the busy handler; lined up here on one :class:`threading.RLock` per file, which
hands the file to the next writer as the last one commits, it waits 20-40 ms, and the wave takes a steady
0.35 s (0.24-0.45 s without; tests/benchmarks/speed_bench.py). Other processes still meet SQLite's own lock
(``BEGIN IMMEDIATE``, ``busy_timeout``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from typing import Any

__all__ = ["use_wal", "writer_lock"]

_locks: dict[str, threading.RLock] = {}  # by real path
_by_name: dict[str, threading.RLock] = {}  # by the path as given
_locks_guard = threading.Lock()


def writer_lock(path: str | os.PathLike[str]) -> threading.RLock:
    """The lock that this process's write transactions on the SQLite file ``path`` hold (one per real path,
    so every connection to the file shares it; reentrant, so a writer that nests does not wait for itself).

    Args:
        path: the database file (``:memory:`` and the empty path get a lock of their own each call).
    """
    name = os.fspath(path)
    if name in ("", ":memory:"):
        return threading.RLock()
    # An absolute path as given is looked up first: realpath costs a stat per component. (A stale entry, after a
    # symlink was changed, only lines up fewer writers; SQLite's own lock still keeps the file safe.)
    lock = _by_name.get(name)
    if lock is not None:
        return lock
    real = os.path.realpath(name)
    with _locks_guard:
        lock = _locks.get(real)
        if lock is None:
            lock = _locks[real] = threading.RLock()
        if os.path.isabs(name):
            _by_name[name] = lock
        return lock


def use_wal(db: Any, *, deadline_seconds: float) -> None:
    """Put an SQLite file in WAL mode (a property of the file, kept once set: only the first opener switches).

    While another process holds the file open, the switch can answer "database is locked" at once: SQLite does
    not wait on its busy handler for it. So it is retried, with backoff, for at most ``deadline_seconds``.

    Args:
        db: an ``sqlite3`` connection or cursor.
        deadline_seconds: how long to keep retrying a locked switch before raising.
    """
    if db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + deadline_seconds
    delay = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not any(word in str(exc) for word in ("locked", "busy")) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
