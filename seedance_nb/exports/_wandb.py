"""A sweep into Weights & Biases: one run per sweep, a ``wandb.Table`` of its takes, summary metrics.

The table holds every column of ``sweep.df`` and a ``video`` column of ``wandb.Video`` cells made from the
original files (a path goes up as it is: no re-encoding, the file's own frame rate; W&B's own viewer may still
transcode for display, wandb#11949, so the full-bitrate side by side stays with ``sweep.gallery()`` and the
report). The sweep's fixed inputs and axes are the run's config, its totals and means the run's summary.

Idempotent: the run's id is the sweep's key (``resume="allow"``), so a second export updates the same run (a new
version of the table) instead of making another. The ``wandb`` library does the talking (online, offline, its
file formats and sync), which no code of ours should copy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..keys import scrub_text
from . import _rows as r

#: The project a sweep goes to when none is named.
DEFAULT_PROJECT = "seedance-nb"
#: The key the takes' table is logged under.
TABLE_KEY = "takes"


def _cell(value: Any) -> Any:
    """A DataFrame cell as a W&B table cell: numbers and bools as they are, times as ISO text, missing as None."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return scrub_text(str(value))


def table(sweep: Any) -> Any:
    """The sweep's takes as a ``wandb.Table``: a ``video`` column (the original files) and every ``sweep.df`` column.

    Args:
        sweep: the sweep.
    """
    wandb = r.require("wandb")
    df = sweep.df
    columns = ["video", *[str(c) for c in df.columns]]
    out = wandb.Table(columns=columns)
    for row in df.to_dict("records"):
        path = row.get("path")
        video = None
        if isinstance(path, str) and path and Path(path).is_file():
            video = wandb.Video(path, caption=scrub_text(str(row.get("prompt") or ""))[:200])
        out.add_data(video, *[_cell(row[c]) for c in df.columns])
    return out


def to_wandb(sweep: Any, project: str | None = None, *, entity: str | None = None, **init: Any) -> Any:
    """Export a sweep to W&B: a run (id: the sweep's key) with a table of its takes and summary metrics.

    ``WANDB_MODE=offline`` (or ``mode="offline"``) writes the run to ``$WANDB_DIR`` for ``wandb sync`` later.

    Args:
        sweep: the sweep.
        project: the W&B project (default ``"seedance-nb"``).
        entity: the W&B team or user (default: W&B's own default).
        **init: more ``wandb.init`` arguments (``mode``, ``dir``, ``tags``, ``group``, ...).

    Returns:
        The finished ``wandb`` run (its ``id``, ``path`` and ``dir``).

    Raises:
        InputError: ``project`` or ``entity`` is not a non-empty string.
        MissingExtra: wandb is not installed (``pip install 'seedance-nb[wandb]'``).
    """
    r.check_name("project", project, "harbour")
    r.check_name("entity", entity, "my-team")
    wandb = r.require("wandb")
    meta = getattr(sweep, "meta", {}) or {}
    init.setdefault("name", r.text(meta.get("name")) or None)
    init.setdefault("job_type", "seedance-sweep")
    config = {**r.sweep_params(sweep), "backend": r.text(meta.get("backend"))}
    run = wandb.init(
        project=project or DEFAULT_PROJECT,
        entity=entity,
        id=r.sweep_key(sweep),
        resume="allow",
        config=config,
        reinit="create_new",
        **init,
    )
    try:
        run.log({TABLE_KEY: table(sweep)})
        run.summary.update(r.summary(sweep))
    finally:
        run.finish()
    return run
