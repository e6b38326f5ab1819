"""Ranking a sweep's takes by their metrics, and :class:`MetricsMixin` (what a sweep gains from them)."""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._names import set_public_module
from ..adherence import MATCH, MISMATCH, NO_MOVE_ASKED
from ..errors import InputError, Problem
from ..statuses import HAS_VIDEO
from ._measuring import _check_metric, _direction, measure_job
from ._pictures import contact_sheet, export_previews

logger = logging.getLogger("seedance_nb.quality")

#: ``camera_adherence`` ranked: the takes that did the asked move first, those that were asked none next.
_ADHERENCE_ORDER = {MATCH: 2, NO_MOVE_ASKED: 1, MISMATCH: 0}


def rank_frame(
    df: Any,
    by: str | Sequence[str] = "motion",
    *,
    ascending: bool | Sequence[bool] | None = None,
    within: str | Sequence[str] | None = None,
    flagged: bool = True,
) -> Any:
    """The takes with a video, best first by ``by`` (one column or several), with a ``rank`` column (1 = best).

    ``within`` ranks inside groups (e.g. ``within="prompt"``); ``flagged=False`` leaves out takes with flags.
    Each metric has a natural direction (:data:`HIGHER_IS_BETTER`); ``duration_error`` ranks by closeness to 0.
    """
    import pandas as pd

    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise InputError([Problem("by", "name at least one column", by, "motion, start_fidelity, ...")])
    for key in keys:
        _check_metric(df, key)
    if ascending is None or isinstance(ascending, bool):
        directions = [_direction(k, ascending) for k in keys]
    else:
        directions = list(ascending)
    groups = [] if within is None else ([within] if isinstance(within, str) else list(within))
    for group in groups:
        _check_metric(df, group, "within")
    out = df[df["status"].isin(HAS_VIDEO)] if "status" in df.columns else df
    if not flagged and "flags" in out.columns:
        out = out[out["flags"].fillna("").astype(str) == ""]
    out = out.copy()
    sort_cols = []
    for key in keys:
        values = pd.to_numeric(out[key], errors="coerce")
        if key == "camera_adherence":  # match first, then no move asked, then mismatch
            values = out[key].map(_ADHERENCE_ORDER)
        if key == "duration_error":
            values = values.abs()
        out[f"_sort_{key}"] = values
        sort_cols.append(f"_sort_{key}")
    out = out.sort_values(sort_cols, ascending=directions, na_position="last", kind="stable")
    if groups:
        out["rank"] = out.groupby(groups, sort=False, dropna=False).cumcount() + 1
        order = {key: i for i, key in enumerate(dict.fromkeys(map(tuple, df[groups].astype(str).values.tolist())))}
        out["_group"] = [order.get(tuple(v), 0) for v in out[groups].astype(str).values.tolist()]
        out = out.sort_values(["_group", "rank"], kind="stable").drop(columns=["_group"])
    else:
        out["rank"] = range(1, len(out) + 1)
    return out.drop(columns=sort_cols)


class MetricsMixin:
    """What a :class:`~seedance_nb.sweep.Sweep` gains from metrics: measuring, ranking, contact sheets, previews.
    Mixed in on the top floor only (the core's :class:`seedance_nb.runner.Run` never names it).

    Written against the sweep's public surface: ``jobs``, ``run_dir``, ``df``, ``close()`` and
    ``record_metrics()`` (which journals a measure).
    """

    def compute_metrics(self, *, force: bool = False, workers: int | None = None) -> Any:
        """Measure every downloaded video that has no metrics yet, journal the results, and return the sweep
        (so ``sweep.compute_metrics().best()`` reads well).

        Args:
            force: measure every video again.
            workers: threads measuring at once (default: 2, or 1 on a one-core machine).
        """
        sweep: Any = self
        todo = [
            job
            for job in sweep.jobs
            if job.status in HAS_VIDEO and job.path and (force or not getattr(job, "metrics", None))
        ]
        if not todo:
            return self
        count = workers or min(2, os.cpu_count() or 1)
        with concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="seedance-metrics") as pool:
            futures = {job.job: pool.submit(measure_job, sweep, job) for job in todo}
            for job in todo:
                try:
                    sweep.record_metrics(job, futures[job.job].result())
                except (InputError, OSError) as exc:
                    logger.warning("could not measure job %s: %s", job.job, exc)
        task = getattr(sweep, "task", None)
        if task is None or task.done():
            sweep.close()
        return self

    def _measured_df(self) -> Any:
        sweep: Any = self
        if any(job.status in HAS_VIDEO and job.path and not getattr(job, "metrics", None) for job in sweep.jobs):
            self.compute_metrics()
        return sweep.df

    def rank(
        self,
        by: str | Sequence[str] = "motion",
        *,
        ascending: bool | Sequence[bool] | None = None,
        within: str | Sequence[str] | None = None,
        flagged: bool = True,
    ) -> Any:
        """Every take with a video, best first by ``by``, with a ``rank`` column (see :func:`rank_frame`).

        Missing metrics are measured first.

        Args:
            by: a metric or column, or several (ties broken by the next).
            ascending: the direction, one for all or one per ``by`` (default: each metric's natural one,
                :data:`HIGHER_IS_BETTER`).
            within: rank inside groups, e.g. ``within="prompt"`` ranks the takes of each prompt separately.
            flagged: keep takes with flags (frozen, black, ...).
        """
        return rank_frame(self._measured_df(), by, ascending=ascending, within=within, flagged=flagged)

    def best(
        self, by: str | Sequence[str] = "motion", n: int = 1, *, ascending: bool | None = None, flagged: bool = False
    ) -> Any:
        """The ``n`` best takes by ``by`` (a DataFrame), leaving out flagged takes unless ``flagged=True``.

        Args:
            by: a metric or column, or several (see :meth:`rank`).
            n: how many takes.
            ascending: the direction (default: the metric's natural one).
            flagged: keep takes with flags.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError([Problem("n", "must be a whole number of at least 1", n, "1, 2, 3, ...")])
        return self.rank(by, ascending=ascending, flagged=flagged).head(n)

    def contact_sheet(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """One PNG of the whole sweep (see :func:`contact_sheet`); returns the PIL image, which a notebook shows.

        Args:
            path: where to write it (default ``<run_dir>/contact_sheet.png``).
            **kwargs: :func:`contact_sheet`'s options (``rows``, ``cols``, ``sort_by``, ``frames``, ...).
        """
        sweep: Any = self
        target = Path(path) if path is not None else Path(sweep.run_dir) / "contact_sheet.png"
        return contact_sheet(self._measured_df(), target, **kwargs)

    def export_previews(self, folder: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Animated WebP (and GIF) previews of every take and a Markdown grid of them (see
        :func:`export_previews`); returns the Markdown page's path.

        Args:
            folder: where to write them.
            **kwargs: :func:`export_previews`'s options (``width``, ``fps``, ``gif``, ...).
        """
        return export_previews(self._measured_df(), folder, **kwargs)


set_public_module(__name__)
