"""The runner's entry points: run a grid (checked first, nothing sent on a bad argument), start one in the
background, load one back. Each builds ``sweep_class`` (the top floor passes its user-facing Sweep)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

from .._sync import run_sync
from ..backends import client_or_connect, with_client
from ..client import AsyncClient
from ..errors import InputError, Problem
from ..grids import Grid
from ..outcomes import job_timeout_seconds
from ..runs import RunFolder
from ._budget import _check_budget, _check_concurrency
from ._run import Run


def load_sweep(run_dir: str | Path, *, sweep_class: type[Run] = Run) -> Any:
    """Rebuild a sweep from its journal alone (no lock needed: reading is always allowed).

    Args:
        run_dir: the sweep's run folder (the one holding ``journal.jsonl``).
        sweep_class: the run class to build (the top floor passes :class:`seedance_nb.sweep.Sweep`).

    Raises:
        FileNotFoundError: the folder holds no sweep journal.
    """
    return sweep_class.load(run_dir)


async def run_sweep_async(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    sweep_class: type[Run] = Run,
    **options: Any,
) -> Any:
    """Run a grid and return its :class:`Sweep` (await this in a notebook cell).

    Every argument is checked (and the budget, and the catalog's cap) before the run folder is created or
    anything is sent.

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the folder's, when ``run_dir`` is not given).
        sweep_class: the run class to build (the top floor passes :class:`seedance_nb.sweep.Sweep`).
        **options: the keyword arguments of :meth:`Sweep.run` (``concurrency=4``, ``budget_usd``, ``download``,
            ``on_update``, ``force``, ``progress``, ``metrics``, ``catalog``, ...); an unknown name is a
            ``TypeError``.

    Raises:
        InputError: a bad argument (nothing was created or sent).
        BudgetExceeded: the estimate is over ``budget_usd`` or the catalog's cap (nothing was sent).
    """
    if not isinstance(grid, Grid):
        raise InputError([Problem("grid", "must be a Grid", type(grid).__name__, "sd.Grid(image=..., prompt=...)")])
    try:
        bound = inspect.signature(sweep_class.run).bind(None, client, **options)
    except TypeError as exc:  # an unknown name, refused as Python refuses it for Sweep.run
        raise TypeError(f"run_sweep_async() {exc}") from None
    bound.apply_defaults()
    settings = bound.arguments
    _check_concurrency(settings["concurrency"])
    job_timeout_seconds(settings["job_timeout"])
    estimate = grid.estimate()
    _check_budget(estimate.jobs, estimate.high_usd, estimate.usd, settings["budget_usd"])
    client = client_or_connect(client)
    folder = RunFolder(Path(run_dir)) if run_dir else RunFolder.new(name)
    hooks = sweep_class.make_hooks(
        folder.path, settings["catalog"], backend=client.backend, metrics=settings["metrics"], endpoint=grid.endpoint
    )
    # the cap (across sweeps and processes, when a catalog is plugged in), before the run folder exists
    await hooks.before_run(estimate.high_usd, label=name or folder.path.name)
    try:
        sweep = sweep_class.create(grid, folder.path, name=name, backend=client.backend)
    except BaseException:
        await hooks.after_run()
        raise
    try:
        await sweep.run(client, **{**options, "catalog": hooks})  # the hooks already hold the cap's reservation
    finally:
        sweep.close()
    return sweep


def run_sweep(grid: Grid, *, client: AsyncClient | None = None, sweep_class: type[Run] = Run, **kwargs: Any) -> Any:
    """Sync :func:`run_sweep_async` for scripts and notebook cells (runs in a worker thread in Jupyter).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        sweep_class: the run class to build (the top floor passes :class:`seedance_nb.sweep.Sweep`).
        **kwargs: :func:`run_sweep_async`'s options.
    """
    return run_sync(with_client(client, lambda c: run_sweep_async(grid, client=c, sweep_class=sweep_class, **kwargs)))


def start_sweep(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    sweep_class: type[Run] = Run,
    **run_kwargs: Any,
) -> Any:
    """Start a sweep in the background on the running loop and return it at once (widgets use this).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the run folder's, when ``run_dir`` is not given).
        sweep_class: the run class to build (the top floor passes :class:`seedance_nb.sweep.Sweep`).
        **run_kwargs: :meth:`Sweep.run`'s other arguments (``progress`` is off by default here).

    Raises:
        RuntimeError: no event loop is running (call it from a notebook cell or a coroutine).
    """
    asyncio.get_running_loop()  # no loop: fail before the run folder is created
    client = client_or_connect(client)
    sweep = sweep_class.create(grid, run_dir, name=name, backend=client.backend)
    run_kwargs.setdefault("progress", False)
    sweep.start(client, **run_kwargs)
    return sweep
