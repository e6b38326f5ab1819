"""The run's checks before anything is sent (concurrency, budget), and the small rules the run folder keeps
(how inputs are described in ``sweep.json``; the rating scale is :mod:`seedance_nb.ratings`'s)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._text import plural
from ..errors import BudgetExceeded, InputError, Problem
from ..files import ImageData
from ..keys import scrub
from ..ratings import normalize_rating as normalize_rating
from ..runs import Job

__all__ = ["SHARED_UPLOAD_MIN", "normalize_rating"]

#: Images used by more than one job of a run and larger than this are uploaded once and sent by URL,
#: rather than inlined as a data URI in every submit (below it, inlining is cheaper than the upload).
SHARED_UPLOAD_MIN = 256 * 1024


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError([Problem("concurrency", "must be a whole number of at least 1", concurrency, "1, 2, 4, ...")])


def _digest(job: Job, name: str, image: ImageData) -> str:
    """The sha256 of a job's image input (journalled with the job; hashed again only if missing)."""
    return job.images.get(name) or image.sha256


def _check_budget(jobs: int, high_usd: float, usd: float, budget_usd: float | None) -> None:
    """Refuse (sending nothing) when the high end of the estimate is over the budget."""
    if budget_usd is None:
        return
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float) or not budget_usd >= 0:
        raise InputError([Problem("budget_usd", "must be a number of dollars, 0 or more", budget_usd, "e.g. 10")])
    if high_usd > budget_usd + 1e-9:
        raise BudgetExceeded(
            f"{plural(jobs, 'video')} may cost up to ${high_usd:.2f} (about ${usd:.2f}), over the budget of "
            f"${budget_usd:.2f}; nothing was sent. Raise budget_usd or shrink the grid.",
            estimate_usd=high_usd,
            budget_usd=budget_usd,
        )


def _image_size(job: Job) -> tuple[int, int] | None:
    image = job.image_data.get("image_url")
    return image.size if isinstance(image, ImageData) else None


def _describe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not (isinstance(value, str) and value.startswith("data:")) else "data URI"
    if isinstance(value, Path):
        return value.name
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return type(value).__name__


def _json_dump(data: Any) -> str:
    return json.dumps(scrub(data), indent=2, ensure_ascii=False, default=str)  # no API key in sweep.json
