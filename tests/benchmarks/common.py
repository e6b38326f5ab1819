"""What every benchmark script shares: its smoke mode and a fresh per-user home for each run that must not be
served from the cache.

``--smoke`` (or ``SEEDANCE_BENCH_SMOKE=1``) runs a script at a small size: few jobs, short clips, one repeat,
no timing target checked and RESULTS.md left alone. CI (``.ci/run``) smoke-runs every script so that a benchmark
cannot rot unseen; the figures are only meaningful in the default size.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

SMOKE_FLAG = "--smoke"


def smoke() -> bool:
    """True when the script was started with ``--smoke`` (or ``SEEDANCE_BENCH_SMOKE=1`` is set)."""
    return SMOKE_FLAG in sys.argv[1:] or os.environ.get("SEEDANCE_BENCH_SMOKE", "") not in ("", "0")


@contextlib.contextmanager
def use_home(home: Path) -> Iterator[Path]:
    """``SEEDANCE_HOME`` (the per-user cache) set to ``home`` for the duration of the block, then the old one
    back. Child processes started inside the block inherit it."""
    previous = os.environ.get("SEEDANCE_HOME")
    os.environ["SEEDANCE_HOME"] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("SEEDANCE_HOME", None)
        else:
            os.environ["SEEDANCE_HOME"] = previous


@contextlib.contextmanager
def fresh_home(parent: Path | None = None, name: str = "home") -> Iterator[Path]:
    """A new, empty ``SEEDANCE_HOME`` for the duration of the block (see :func:`use_home`).

    The folder is ``parent / name`` (kept, for a later run that should find that cache: pass it to
    :func:`use_home`) or, without ``parent``, a temporary folder removed afterwards."""
    with contextlib.ExitStack() as stack:
        base = Path(parent) if parent is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        home = base / name
        home.mkdir(parents=True, exist_ok=False)
        with use_home(home):
            yield home
