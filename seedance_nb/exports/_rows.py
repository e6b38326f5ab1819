"""What every exporter sends, target by target the same: a sweep's key, each take's params, metrics, tags and files.

Pure (pandas and the sweep's public surface): the exporters (``_mlflow``, ``_wandb``) only move these to a
tracker. Every string passes through :func:`seedance_nb.keys.scrub` on its way out, so a key that somehow
reached a cell never reaches a tracker.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError, Problem, SeedanceError
from ..keys import scrub, scrub_text
from ..statuses import HAS_VIDEO

logger = logging.getLogger("seedance_nb.exports")

#: The tag that names the sweep an exported run belongs to (what a second export finds it by).
SWEEP_TAG = "seedance_nb.sweep_key"
#: The tag that names the take (``job`` number) inside its sweep.
JOB_TAG = "seedance_nb.job"
#: The metrics (numbers) an exporter sends, when the sweep has them; other numeric columns go too.
PARAM_LIMIT = 6000  # MLflow's longest param value (3.x); longer text is cut (the prompt is also a tag)
#: Columns never sent as params or metrics (bookkeeping, not what a team compares).
SKIP = {"job", "take", "path", "poster", "video_url", "cache_key", "end_user_id"}
#: The pip extra to install for each exporter.
EXTRAS = {"mlflow": "mlflow", "wandb": "wandb", "fiftyone": "fiftyone"}


class MissingExtra(SeedanceError, ImportError):
    """An exporter's library is not installed; the message names the extra that installs it."""


def require(module: str) -> Any:
    """Import an exporter's library, or raise :class:`MissingExtra` naming the extra to install.

    Args:
        module: the library's import name (``"mlflow"``, ``"wandb"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module.split(".")[0], module)
        raise MissingExtra(
            f"exporting to {extra} needs the {extra!r} library: pip install 'seedance-nb[{extra}]'"
        ) from exc


def check_name(field_name: str, value: Any, example: str) -> None:
    """Refuse a tracker name that is not a non-empty string (``None`` means the default).

    Args:
        field_name: the argument's name, as the user wrote it.
        value: what was given.
        example: a good value, for the message.
    """
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InputError([Problem(field_name, "must be a non-empty name", value, f"a name such as {example!r}")])


@dataclass
class Take:
    """One take as a tracker sees it."""

    job: int
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    files: dict[str, Path] = field(default_factory=dict)  # artefact folder -> file


def sweep_key(sweep: Any) -> str:
    """A stable id for a sweep across exports and machines: its name, endpoint and creation time, hashed.

    Args:
        sweep: the sweep.
    """
    meta = getattr(sweep, "meta", {}) or {}
    basis = json.dumps([meta.get("name"), meta.get("endpoint"), meta.get("created_at")], default=str)
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def _number(value: Any) -> float | None:
    """A finite float for a metric, else None (bools count as 0/1; text, NaN and missing are not numbers)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    try:
        import numpy as np

        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return _number(value.item())
    except ImportError:  # pragma: no cover - numpy comes with pandas
        pass
    return None


def text(value: Any, limit: int = PARAM_LIMIT) -> str:
    """A cell as text for a param or tag: ``""`` for missing, ISO time for timestamps, key scrubbed, cut at
    ``limit``.

    Args:
        value: the cell.
        limit: the longest text kept.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return scrub_text(str(value))[:limit]


def axes(sweep: Any) -> list[str]:
    """The grid's axes (what varies), in the grid's order; ``take`` when the grid has several takes.

    Args:
        sweep: the sweep.
    """
    meta = getattr(sweep, "meta", {}) or {}
    names = [name for name in (meta.get("axes") or {}) if name not in SKIP]
    return names


def bt_scores(sweep: Any) -> dict[int, float]:
    """Each voted take's Bradley–Terry strength (the leaderboard by job), or ``{}`` without votes.

    Args:
        sweep: the sweep.
    """
    if not callable(getattr(sweep, "leaderboard", None)) or len(getattr(sweep, "votes", ())) == 0:
        return {}
    board = sweep.leaderboard(by="job")
    return {int(row["job"]): float(row["strength"]) for row in board.to_dict("records") if row.get("votes")}


def takes(sweep: Any, *, include_files: bool = True) -> list[Take]:
    """Every take of the sweep as params (the axes), metrics (every number) and tags (every other cell).

    Args:
        sweep: the sweep.
        include_files: name each take's video, poster and filmstrip (made here when missing).
    """
    df = sweep.df
    axis_names = axes(sweep)
    scores = bt_scores(sweep)
    meta = getattr(sweep, "meta", {}) or {}
    out = []
    for row in df.to_dict("records"):
        job = int(row["job"])
        params = {name: text(row.get(name)) for name in axis_names if name in row}
        params["take"] = text(row.get("take"))
        metrics: dict[str, float] = {}
        tags = {
            SWEEP_TAG: sweep_key(sweep),
            JOB_TAG: str(job),
            "endpoint": text(meta.get("endpoint")),
            "request_id": text(row.get("request_id")),
            "backend": text(row.get("backend") or meta.get("backend")),
        }
        for name, value in row.items():
            if name in SKIP or name in params or name in tags:
                continue
            number = _number(value)
            if number is not None:
                metrics[name] = number
            elif (cell := text(value)) != "":
                tags[f"sd.{name}"] = cell
        if job in scores:
            metrics["bt_score"] = scores[job]
        if "camera_adherence" in row and isinstance(row["camera_adherence"], str):
            metrics["camera_adherence_match"] = 1.0 if row["camera_adherence"] == "match" else 0.0
        name = f"{job:03d} " + " · ".join(params[a] for a in axis_names if params.get(a))
        take = Take(job, scrub_text(name)[:250], scrub(params), metrics, scrub(tags))
        if include_files:
            take.files = files(sweep, row)
        out.append(take)
    return out


def files(sweep: Any, row: dict[str, Any]) -> dict[str, Path]:
    """A take's video, poster and filmstrip (the filmstrip written into the run folder once).

    Args:
        sweep: the sweep.
        row: the take's ``sweep.df`` row.
    """
    found: dict[str, Path] = {}
    video = Path(str(row["path"])) if isinstance(row.get("path"), str) and row["path"] else None
    if video is None or not video.is_file():
        return found
    found["video"] = video
    poster = row.get("poster")
    if isinstance(poster, str) and poster and Path(poster).is_file():
        found["poster"] = Path(poster)
    from ..quality._pictures import filmstrip_file

    strip = Path(sweep.run_dir) / "filmstrips" / (video.stem + ".jpg")  # the report's filmstrips, shared
    try:
        found["filmstrip"] = filmstrip_file(video, strip)
    except Exception as exc:  # an unreadable video still exports (without its filmstrip)
        logger.warning("no filmstrip for %s: %s", video.name, scrub_text(str(exc)))
    return found


def sweep_params(sweep: Any) -> dict[str, str]:
    """The parent's params: what the grid held fixed, its takes, endpoint and backend.

    Args:
        sweep: the sweep.
    """
    meta = getattr(sweep, "meta", {}) or {}
    params = {f"fixed.{k}": text(v) for k, v in (meta.get("fixed") or {}).items()}
    params.update({f"axis.{k}": text(json.dumps(v, default=str)) for k, v in (meta.get("axes") or {}).items()})
    params.update(takes=text(meta.get("takes")), endpoint=text(meta.get("endpoint")), jobs=text(meta.get("jobs")))
    return {k: scrub_text(v) for k, v in params.items()}


def summary(sweep: Any) -> dict[str, float]:
    """The sweep's summary numbers: jobs, completed, total cost, mean of every metric over the takes.

    Args:
        sweep: the sweep.
    """
    df = sweep.df
    out: dict[str, float] = {"jobs": float(len(df))}
    if "status" in df:
        out["with_video"] = float(df["status"].isin(HAS_VIDEO).sum())
    if "cost_usd" in df:
        out["total_cost_usd"] = float(pd.to_numeric(df["cost_usd"], errors="coerce").fillna(0).sum())
    for name in ("motion", "start_fidelity", "flicker", "rating", "generation_seconds", "queue_seconds"):
        if name in df:
            mean = pd.to_numeric(df[name], errors="coerce").mean()
            if _number(mean) is not None:
                out[f"mean_{name}"] = float(mean)
    return out
