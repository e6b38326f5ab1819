"""Adaptive runs: successive halving over rounds within a budget (:func:`run_adaptive`)."""

from __future__ import annotations

import html
import inspect
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._names import set_public_module
from .._text import plural
from ..errors import InputError, Problem
from ..runs import RunFolder
from ..statuses import HAS_VIDEO, JobStatus
from ._fit import HUMAN_SCORES, _by, group_keys
from ._promotion import Promotion, _announce, _round_dir, _with_client, round_cost, score_values

if TYPE_CHECKING:
    from ..grids import Grid


# --------------------------------------------------------------------------- adaptive runs


def _per_round(value: Any, index: int, what: str) -> Any:
    if isinstance(value, list | tuple):
        if index >= len(value):
            raise InputError([Problem(what, f"has no entry for promoted round {index + 1}", value, "one per round")])
        return value[index]
    return value


@dataclass
class AdaptiveRun:
    """Successive halving over rounds (see :func:`run_adaptive`); ``sweeps`` holds one sweep per round."""

    grid: Grid
    budget_usd: float
    rounds: int = 2
    keep: float = 0.5
    score: Any = None
    by: str | Sequence[str] = "prompt"
    takes: Any = None
    changes: Any = None
    run_root: Path = field(default_factory=lambda: RunFolder.root())
    name: str | None = None
    concurrency: int = 4
    progress: bool | None = None
    #: The run class each round builds (``seedance_nb.run_adaptive`` passes the user-facing Sweep, which plugs
    #: the claims and the metrics into every round); None: the core's :class:`seedance_nb.runner.Run`.
    sweep_class: Any = None
    sweeps: list[Any] = field(default_factory=list)
    status: str = "planned"
    message: str = ""
    _asked: int = 0

    @property
    def human(self) -> bool:
        """Does the score need people (votes or ratings) between rounds?"""
        return self.score is None or (isinstance(self.score, str) and self.score in HUMAN_SCORES)

    @property
    def current(self) -> Any:
        return self.sweeps[-1] if self.sweeps else None

    @property
    def spent_usd(self) -> float:
        return round(sum(round_cost(s) for s in self.sweeps), 6)

    @property
    def remaining_usd(self) -> float:
        return round(self.budget_usd - self.spent_usd, 6)

    @property
    def rounds_df(self) -> pd.DataFrame:
        """One row per round: its folder, parent, values, videos, cached videos and cost."""
        rows = []
        for n, sweep in enumerate(self.sweeps, 1):
            info = sweep.round_info
            df = sweep.df
            columns = _by(self.by, df)
            rows.append(
                {
                    "round": n,
                    "run_dir": str(sweep.run_dir),
                    "parent": info.get("parent"),
                    "values": list(dict.fromkeys(group_keys(df, columns))),
                    "videos": int(df["status"].isin(HAS_VIDEO).sum()),
                    "cached": int((df["status"] == JobStatus.CACHED).sum()),
                    "cost_usd": round_cost(sweep),
                }
            )
        headers = ["round", "run_dir", "parent", "values", "videos", "cached", "cost_usd"]
        # annotated: pandas-stubs give Any when mypy checks for Python 3.10
        table: pd.DataFrame = pd.DataFrame(rows, columns=headers)
        return table

    def _say(self, text: str) -> None:
        self.message = text
        _announce(text)

    async def run_async(self, client: Any = None) -> AdaptiveRun:
        """Run (or resume) the rounds until the last, the budget, or a pause for votes; ``resume_async`` is
        the same call.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
        """
        kwargs: dict[str, Any] = {"concurrency": self.concurrency, "progress": self.progress}
        if not self.sweeps:
            await self._first_round(client, kwargs)
        while len(self.sweeps) < self.rounds:
            if self.human and self._asked < len(self.sweeps):
                self._pause_for_votes()
                return self
            plan = self._plan_next()
            remaining = self.remaining_usd
            est = plan.estimate
            self._say(f"{plan}; spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}, ${remaining:.2f} left")
            if est.high_usd > remaining + 1e-9:
                self.status = "budget"
                self._say(
                    f"Stopped before round {plan.round}: it may cost up to ${est.high_usd:.2f} and only "
                    f"${remaining:.2f} of the ${self.budget_usd:.2f} budget is left; nothing was sent."
                )
                return self
            self.status = "running"
            self.sweeps.append(await plan.run_async(client, budget_usd=remaining, **kwargs))
        self.status = "done"
        self._say(
            f"Done: {len(self.sweeps)} round(s), spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f} "
            f"(cached videos are free)."
        )
        return self

    async def _first_round(self, client: Any, kwargs: dict[str, Any]) -> None:
        from ..runner import Run, run_sweep_async

        est = self.grid.estimate()
        stem = self.name or f"adaptive-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
        self._say(f"Round 1 of {self.rounds}: {est}; budget ${self.budget_usd:.2f} for every round together")
        self.status = "running"
        first = await run_sweep_async(
            self.grid,
            client=client,
            run_dir=_round_dir(Path(self.run_root), stem, 1),
            budget_usd=self.budget_usd,
            sweep_class=self.sweep_class or Run,
            **kwargs,
        )
        self.sweeps.append(first)

    def _pause_for_votes(self) -> None:
        self._asked = len(self.sweeps)
        self.status = "waiting"
        self._say(
            f"Round {len(self.sweeps)} is done (spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}). "
            f"Vote ({'.duel()' if self.score != 'rating' else 'rate the videos'}), then call .resume() "
            f"for round {len(self.sweeps) + 1}."
        )

    def _plan_next(self) -> Promotion:
        """The next round: the best ``keep`` share of the current round's scored values."""
        index = len(self.sweeps) - 1
        current = self.current
        scores = score_values(current, self.by, self.score)
        top = max(1, math.ceil(self.keep * int(scores.notna().sum())))
        plan: Promotion = current.plan_promotion(
            self.by,
            top,
            _per_round(self.takes, index, "takes"),
            score=self.score,
            **(_per_round(self.changes, index, "changes") or {}),
        )
        return plan

    def run(self, client: Any = None) -> AdaptiveRun:
        """Sync :meth:`run_async` (works inside Jupyter too); ``resume`` is the same call.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
        """
        from .._sync import run_sync

        return run_sync(_with_client(client, self.run_async))

    resume = run
    resume_async = run_async

    def duel(self, **options: Any) -> Any:
        """The duel widget on the current round, with a button that runs the next round.

        Args:
            **options: the widget's options (``same``, ``seed``, ``voter``, ``width``, ``client``).
        """
        from ._widget import Duel

        if self.current is None:
            raise RuntimeError("no round has run yet: call .run() first")
        return Duel(self.current, by=self.by, adaptive=self, **options)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{r['round']}</td><td>{html.escape(Path(r['run_dir']).name)}</td>"
            f"<td>{len(r['values'])}</td><td>{r['videos']}</td><td>{r['cached']}</td><td>${r['cost_usd']:.2f}</td></tr>"
            for r in self.rounds_df.to_dict("records")
        )
        return (
            f'<div class="seedance-adaptive" style="font:13px sans-serif"><b>Adaptive run</b> '
            f"{html.escape(self.status)}: {html.escape(self.message)}"
            '<table style="border-collapse:collapse;margin-top:4px"><thead><tr><th>round</th><th>folder</th>'
            "<th>values</th><th>videos</th><th>cached</th><th>cost</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        return (
            f"<AdaptiveRun {self.status}: {len(self.sweeps)}/{plural(self.rounds, 'round')}, "
            f"spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}>"
        )


def _adaptive(grid: Grid, *, budget_usd: float, **options: Any) -> AdaptiveRun:
    """The checked :class:`AdaptiveRun` of :func:`run_adaptive`'s arguments (nothing run yet)."""
    problems = []
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float) or not budget_usd > 0:
        problems.append(Problem("budget_usd", "must be a positive amount of dollars", budget_usd, "e.g. 5.0"))
    rounds = options.get("rounds", 2)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        problems.append(Problem("rounds", "must be a whole number of at least 1", rounds, "2, 3, ..."))
    keep = options.get("keep", 0.5)
    if isinstance(keep, bool) or not isinstance(keep, int | float) or not 0 < keep <= 1:
        problems.append(Problem("keep", "must be a fraction in (0, 1]", keep, "e.g. 0.5 keeps the better half"))
    if problems:
        raise InputError(problems, context="run_adaptive")
    run_root = options.get("run_root")
    options["run_root"] = Path(run_root) if run_root is not None else RunFolder.root()
    return AdaptiveRun(grid=grid, budget_usd=float(budget_usd), **options)


async def run_adaptive_async(grid: Grid, *, client: Any = None, **options: Any) -> AdaptiveRun:
    """:func:`run_adaptive` for ``await`` in a notebook cell, with the same keyword arguments.

    Args:
        grid: the first round's inputs.
        client: the client (default: :func:`seedance_nb.connect`).
        **options: :func:`run_adaptive`'s (``budget_usd`` is required); a missing or unknown name is a
            ``TypeError``.
    """
    try:
        inspect.signature(run_adaptive).bind(grid, client=client, **options)
    except TypeError as exc:  # a missing or unknown name, refused as Python refuses it for run_adaptive
        raise TypeError(f"run_adaptive_async() {exc}") from None
    return await _adaptive(grid, **options).run_async(client)


def run_adaptive(
    grid: Grid,
    *,
    budget_usd: float,
    rounds: int = 2,
    keep: float = 0.5,
    score: Any = None,
    by: str | Sequence[str] = "prompt",
    takes: Any = None,
    changes: Any = None,
    client: Any = None,
    run_root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    concurrency: int = 4,
    progress: bool | None = None,
    sweep_class: Any = None,
) -> AdaptiveRun:
    """Successive halving: run ``grid``, keep the best ``keep`` fraction of ``by``'s values by ``score``,
    run them again with ``takes``/``changes`` (one value, or a list with one per promoted round), and so
    on for ``rounds`` rounds, never over ``budget_usd`` in total.

    The budget is a hard stop: the first round is refused (``BudgetExceeded``, nothing sent) when its
    high estimate is over it; a later round that no longer fits in what is left is not started
    (``status == "budget"``). Each round's estimate and the money left are shown before it starts.
    The estimate counts every video of a round, those the cache will serve included (they then cost
    nothing and are not counted as spent), so the check errs on the safe side.
    ``score`` is a column (a metric, ``"rating"``), a callable over the DataFrame, or ``"votes"``;
    with ``"votes"``/``"rating"`` (or None) the run stops after each round (``status == "waiting"``)
    for people to vote (``.duel()``) or rate, and ``.resume()`` goes on. Every round is its own run
    folder under ``run_root`` (default ``sweeps/``), linked to its parent by ``round.json``.

    Args:
        grid: the first round's inputs.
        budget_usd: the most all rounds together may cost.
        rounds: how many rounds, the first included.
        keep: the fraction of ``by``'s values each round keeps, in (0, 1].
        score: what ranks the values (see :func:`score_values`).
        by: the input column(s) whose values compete.
        takes: takes of each input in the promoted rounds (one value, or one per promoted round).
        changes: input fields to change in the promoted rounds (a dict, or one per promoted round).
        client: the client (default: :func:`seedance_nb.connect`).
        run_root: the folder the rounds' run folders go in.
        name: the stem of the rounds' folders, ``<name>-round<N>`` (default: ``adaptive-<time>``).
        concurrency: requests on fal at once.
        progress: a progress bar.
        sweep_class: each round's run class (``sd.run_adaptive`` passes :class:`seedance_nb.Sweep`).
    """
    options = dict(locals())
    del options["grid"], options["client"]
    return _adaptive(grid, **options).run(client)


set_public_module(__name__)
