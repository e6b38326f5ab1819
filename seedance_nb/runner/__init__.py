"""The core's runner: a run folder's jobs taken to their end, concurrently, journalled, cached and resumable.

Its parts, each changing for its own reasons: ``_run`` (:class:`Run`: the run folder, the journal, the lock,
the views, the run loop), ``_jobs`` (one job: cache, submit once, settle through fal's history, follow,
cancel), ``_transfers`` (uploads and downloads), ``_history`` (matching a lost submit in fal's history),
``_budget`` (checks before anything is sent, the rating scale), ``_reading`` (a journal read back),
``_progress`` (the tqdm bar), ``_entry`` (run/start/load), and :mod:`seedance_nb.hooks` (what plugs into a run).

It names no wing: users get :class:`seedance_nb.sweep.Sweep`, the top floor's subclass of :class:`Run` that adds
the notebook API (duels, metrics) and plugs the claims and the metrics into every run.
"""

from __future__ import annotations

from ..hooks import HookChain, RunnerHooks
from ._budget import SHARED_UPLOAD_MIN, normalize_rating
from ._entry import load_sweep, run_sweep, run_sweep_async, start_sweep
from ._history import CLOCK_SKEW_SECONDS, MAX_RESUBMITS, field_digests, history_lag, match_history
from ._jobs import RunContext
from ._run import Run, RunSettings

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "MAX_RESUBMITS",
    "SHARED_UPLOAD_MIN",
    "HookChain",
    "Run",
    "RunContext",
    "RunSettings",
    "RunnerHooks",
    "field_digests",
    "history_lag",
    "load_sweep",
    "match_history",
    "normalize_rating",
    "run_sweep",
    "run_sweep_async",
    "start_sweep",
]
