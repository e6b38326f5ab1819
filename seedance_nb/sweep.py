"""Sweeps: a grid over any inputs, a concurrent runner, a crash-safe journal, cache, resume and budget.

::

    grid = Grid(image="cat.png", prompt=["push in", "whip pan"], duration=[4, 8], takes=2)  # random seed per take
    len(grid), grid.estimate()          # 16 videos and their cost, before anything is sent
    sweep = run_sweep(grid, budget_usd=10)
    sweep.df                            # one row per video
    Sweep.resume("sweeps/<name>")       # after a crash: re-attaches by request id, pays for nothing twice

Every state change is journalled (and fsynced) before the next network wait;
the request id is written the moment fal returns it, with the URLs fal named
for it. Only one process may submit from a run folder (a lock; a second one
gets :class:`~seedance_nb.errors.RunFolderBusy`). One job's failure, of any
kind (a full disk included), ends that job only; a remote request is
cancelled only when the user cancels.

fal has no idempotency key, so a submit whose answer was lost (a dropped
connection, a 5xx, a crash between sending it and journalling its id) may or
may not have been queued. Such a job is ``unknown``: the runner, ``resume()``
and ``retry_failed()`` settle it through fal's request history (matching the
endpoint, the send time and every input field), attach to the request when it
is there, and submit again only when it is proven absent. One that cannot be
settled is left ``unknown`` unless ``resubmit_unknown=True``.

This module is the top floor (the face) of the runner: :class:`Sweep` here is the one users get (``sd.Sweep``,
``from seedance_nb.sweep import Sweep``, and what every function below returns). It is the core's
:class:`seedance_nb.runner.Run` (which names no wing) with the notebook API of the wings mixed in on this floor
(:class:`~seedance_nb.duels.DuelsMixin`: ``duel``, ``vote``, ``leaderboard``, ``promote``, ...;
:class:`~seedance_nb.quality.MetricsMixin`: ``compute_metrics``, ``best``, ``rank``, ``contact_sheet``, ...), and
the wings' hooks plugged into every run (:meth:`Sweep.make_hooks`): the claims and the catalog
(:class:`seedance_nb.catalogs.runner.RunHooks`: one submission per request across the user's processes, and
a team's) and the metrics (:class:`seedance_nb.quality.MetricsHooks`, off the runner's critical path).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._names import set_public_module
from .catalogs.runner import RunHooks
from .client import AsyncClient
from .duels import AdaptiveRun, DuelsMixin, with_promoted_from
from .duels import run_adaptive as _run_adaptive
from .duels import run_adaptive_async as _run_adaptive_async
from .exports import ExportsMixin
from .grids import Grid
from .openapi_schema import SNAPSHOT_ENDPOINTS, check_drift_daily_async
from .quality import MetricsHooks, MetricsMixin
from .runner import (
    CLOCK_SKEW_SECONDS,
    MAX_RESUBMITS,
    SHARED_UPLOAD_MIN,
    HookChain,
    Run,
    RunnerHooks,
    _entry,
    field_digests,
    history_lag,
    match_history,
    normalize_rating,
)
from .stats import StatsMixin

if TYPE_CHECKING:
    from .gridvideo import GridVideo

logger = logging.getLogger("seedance_nb.sweep")

__all__ = ["Grid", "Sweep", "load_sweep", "run_sweep", "run_sweep_async", "start_sweep"]  # Grid: from .grids
#: Also read as ``seedance_nb.sweep.X`` (the runner's own names, from before it was its own package).
_ALSO = (
    CLOCK_SKEW_SECONDS,
    MAX_RESUBMITS,
    SHARED_UPLOAD_MIN,
    field_digests,
    history_lag,
    match_history,
    normalize_rating,
)


class DriftCheck(RunnerHooks):
    """Before a run on fal: check the endpoint's schema for drift, once a day (a courtesy: it never stops a run).

    Args:
        endpoint: the run's endpoint id.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        """Check fal's schema for drift (at most once a day; failures are logged, never raised).

        Args:
            estimate_usd: the run's estimate (unused).
            label: the run's name (unused).
        """
        try:
            await check_drift_daily_async(self.endpoint)
        except Exception as exc:  # a courtesy check: it never stops a run
            logger.info("the daily schema check could not run: %s", exc)


def _run_endpoints(run_dir: Path, endpoint: str | None) -> list[str]:
    """Every endpoint a run sends to: ``sweep.json``'s ``endpoints`` for a grid over endpoints, else ``endpoint``."""
    try:
        listed = json.loads((Path(run_dir) / "sweep.json").read_text(encoding="utf-8")).get("endpoints")
    except (OSError, ValueError, AttributeError):
        listed = None
    ordered = [e for e in (listed or []) if isinstance(e, str)] + ([endpoint] if endpoint else [])
    return list(dict.fromkeys(ordered))


class Sweep(ExportsMixin, StatsMixin, DuelsMixin, MetricsMixin, Run):
    """A run folder and its jobs. ``df`` is a fresh DataFrame; a bare ``sweep`` in a cell shows the grid.

    Made by :meth:`create` (a new run folder), :meth:`load` or :func:`run_sweep`, not usually by hand. The run
    itself is the core's :class:`seedance_nb.runner.Run`; this class adds the wings' notebook API and plugs the
    claims, the catalog and the metrics into every run (:meth:`make_hooks`).

    Args:
        run_dir: the run folder.
        jobs: its jobs.
        endpoint: the fal endpoint id.
        meta: ``sweep.json``'s content (name, backend, axes, ...).
    """

    @classmethod
    def make_hooks(
        cls,
        run_dir: Path,
        catalog: Any = None,
        *,
        backend: str | None = None,
        metrics: bool = True,
        endpoint: str | None = None,
    ) -> HookChain:
        """Every run's hooks: the user's claims always, the catalog's cap, index and team claims where one
        applies (``catalog``: see :meth:`run`), the metrics unless ``metrics=False``, and on fal the daily
        check of the endpoint's schema for drift.

        Args:
            run_dir: the run folder.
            catalog: :meth:`run`'s ``catalog`` (hooks already made are used as they are).
            backend: ``"fal"`` or ``"emulator"`` (an emulated run reserves nothing under the cap).
            metrics: measure each downloaded video.
            endpoint: the run's endpoint id.
        """
        if isinstance(catalog, HookChain):
            return catalog
        hooks: list[RunnerHooks] = [RunHooks.for_run(run_dir, catalog, backend=backend)]
        if metrics:
            hooks.append(MetricsHooks())
        if backend == "fal":
            hooks += [DriftCheck(one) for one in _run_endpoints(run_dir, endpoint) if one in SNAPSHOT_ENDPOINTS]
        return HookChain(hooks)

    @property
    def df(self) -> Any:
        """One row per job (the core's), and for a round that promoted takes their drafts (``promoted_from``)."""
        return with_promoted_from(super().df, self.round_info)

    def grid_video(
        self,
        path: str | Path,
        rows: str | Sequence[str] | int | None = None,
        cols: str | Sequence[str] | int | None = None,
        **options: Any,
    ) -> GridVideo:
        """The sweep's grid as one tiled MP4 or animated WebP (:func:`seedance_nb.grid_video`).

        Args:
            path: where to write (``.mp4`` or ``.webp``).
            rows: the axis down the side, or a number of rows.
            cols: the axis across, or a number of columns.
            **options: :func:`seedance_nb.grid_video`'s (``cell_width``, ``audio``, ``labels``, ``crf``).
        """
        from .gridvideo import grid_video

        return grid_video(self, path, rows, cols, **options)

    def _repr_html_(self) -> str:
        from .display import sweep_html

        return sweep_html(self)


def load_sweep(run_dir: str | Path) -> Sweep:
    """Rebuild a sweep from its journal alone (no lock needed: reading is always allowed).

    Args:
        run_dir: the sweep's run folder (the one holding ``journal.jsonl``).

    Raises:
        FileNotFoundError: the folder holds no sweep journal.
    """
    return Sweep.load(run_dir)


async def run_sweep_async(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    **options: Any,
) -> Sweep:
    """Run a grid and return its :class:`Sweep` (await this in a notebook cell).

    Every argument is checked (and the budget, and the catalog's cap) before the run folder is created or
    anything is sent.

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the folder's, when ``run_dir`` is not given).
        **options: the keyword arguments of :meth:`Sweep.run` (``concurrency=4``, ``budget_usd``, ``download``,
            ``on_update``, ``force``, ``progress``, ``metrics``, ``catalog``, ...); an unknown name is a
            ``TypeError``.

    Raises:
        InputError: a bad argument (nothing was created or sent).
        BudgetExceeded: the estimate is over ``budget_usd`` or the catalog's cap (nothing was sent).
    """
    sweep: Sweep = await _entry.run_sweep_async(
        grid, client=client, run_dir=run_dir, name=name, sweep_class=Sweep, **options
    )
    return sweep


def run_sweep(grid: Grid, *, client: AsyncClient | None = None, **kwargs: Any) -> Sweep:
    """Sync :func:`run_sweep_async` for scripts and notebook cells (runs in a worker thread in Jupyter).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        **kwargs: :func:`run_sweep_async`'s options.
    """
    sweep: Sweep = _entry.run_sweep(grid, client=client, sweep_class=Sweep, **kwargs)
    return sweep


def start_sweep(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    **run_kwargs: Any,
) -> Sweep:
    """Start a sweep in the background on the running loop and return it at once (widgets use this).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the run folder's, when ``run_dir`` is not given).
        **run_kwargs: :meth:`Sweep.run`'s other arguments (``progress`` is off by default here).

    Raises:
        RuntimeError: no event loop is running (call it from a notebook cell or a coroutine).
    """
    sweep: Sweep = _entry.start_sweep(grid, client=client, run_dir=run_dir, name=name, sweep_class=Sweep, **run_kwargs)
    return sweep


def run_adaptive(grid: Grid, **options: Any) -> AdaptiveRun:
    """Successive halving over rounds of sweeps (:func:`seedance_nb.duels.run_adaptive`), each round a
    :class:`Sweep` (claims, catalog and metrics plugged in).

    Args:
        grid: the first round's inputs.
        **options: :func:`seedance_nb.duels.run_adaptive`'s (``budget_usd`` is required).
    """
    return _run_adaptive(grid, **{"sweep_class": Sweep, **options})


async def run_adaptive_async(grid: Grid, **options: Any) -> AdaptiveRun:
    """:func:`run_adaptive` for ``await`` in a notebook cell, with the same keyword arguments.

    Args:
        grid: the first round's inputs.
        **options: :func:`seedance_nb.duels.run_adaptive`'s (``budget_usd`` is required); a missing or unknown
            name is a ``TypeError``.
    """
    return await _run_adaptive_async(grid, **{"sweep_class": Sweep, **options})


set_public_module(__name__)
