"""Draft, then promote: the chosen takes run again, with the same prompt, image and seed, on another endpoint.

::

    draft = sd.run_sweep(sd.Grid(endpoint=MINI, image=..., prompt=[...], seed=[1, 2, 3], resolution="480p"))
    ... rate the takes ...
    plan = draft.plan_promotion(best=3, endpoint=STANDARD, resolution="1080p")   # the estimate, nothing sent
    final = draft.promote(best=3, endpoint=STANDARD, resolution="1080p")         # says the estimate, then runs

A take whose seed was left to fal keeps the seed fal reported for it (``output_seed``). Inputs the new endpoint's
schema lacks are left out, with one note. The promoted round is a :class:`~seedance_nb.duels.Promotion` like a
promotion of values: its own folder beside the draft, ``round.json`` naming the draft and, in ``promoted_from``,
each new job's draft job (the ``promoted_from`` column of the promoted sweep's ``df`` and the report read it).
A second identical promotion is the same requests: served from the cache, nothing paid again.
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from ..columns import LINK_COLUMNS
from ..errors import InputError, Problem
from ..lineup import endpoint_list, model_label, schema_fields
from ..schema import VideoInput
from ..statuses import HAS_VIDEO

logger = logging.getLogger("seedance_nb.duels")

#: The column of a promoted sweep's DataFrame naming each job's draft (its job number in the parent run).
PROMOTED_FROM = LINK_COLUMNS[0]


@dataclass(frozen=True)
class _Take:
    """A chosen take as the round's grid builder reads a job: its input (retargeted) and its images."""

    job: int
    input: VideoInput
    image_data: Mapping[str, Any]


def chosen_takes(sweep: Any, best: Any, rank: Callable[[], pd.Series]) -> tuple[list[int], pd.Series]:
    """The job numbers ``best`` names, and the scores they were chosen by (an empty Series for explicit ones).

    Args:
        sweep: the draft sweep.
        best: how many of the best takes (an int), or the takes themselves: job numbers, or rows of ``df``
            (a DataFrame or a Series with a ``job`` column).
        rank: every take's score by job number, best first (called only when ``best`` is a number).
    """
    if isinstance(best, int) and not isinstance(best, bool):
        if best < 1:
            raise InputError([Problem("best", "must be at least 1", best, "best=3, or a list of job numbers")])
        scores = rank()
        ranked = [operator.index(cast(int, k)) for k, v in scores.items() if not math.isnan(v)]
        return ranked[:best], scores
    numbers = _job_numbers(best)
    by_number = {job.job: job for job in sweep.jobs}
    problems = [
        Problem("best", f"job {n} has no video to promote", n, "a finished job from sweep.df['job']")
        for n in numbers
        if n not in by_number or by_number[n].status not in HAS_VIDEO
    ]
    if problems or not numbers:
        raise InputError(problems or [Problem("best", "names no take", best, "best=3, or [job numbers]")])
    return list(dict.fromkeys(numbers)), pd.Series(dtype=float, name="score")


def _job_numbers(best: Any) -> list[int]:
    """Job numbers from a list of ints, or from rows of a sweep's DataFrame."""
    if isinstance(best, pd.DataFrame) and "job" in best.columns:
        return [int(v) for v in best["job"].tolist()]
    if isinstance(best, pd.Series) and "job" in best.index:  # one row (df.iloc[3])
        return [int(best["job"])]
    values = list(best) if isinstance(best, Sequence | pd.Index) and not isinstance(best, str) else None
    if values is not None and all(_is_int(v) for v in values):
        return [int(v) for v in values]
    raise InputError(
        [Problem("best", "must be a number of takes, job numbers, or rows of sweep.df", best, "best=3, best=[0, 4]")]
    )


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)  # ints, numpy's too
    except TypeError:
        return False
    return True


def retarget(inp: VideoInput, output_seed: Any, endpoint: str, changes: Mapping[str, Any]) -> VideoInput:
    """``inp`` for ``endpoint``: the same prompt, images and seed (fal's output seed when none was asked), with
    ``changes``; fields that endpoint's schema lacks are left out (the caller notes them).

    Args:
        inp: the draft's input.
        output_seed: the seed fal reported for the draft (used when ``inp`` set none).
        endpoint: the endpoint the take is promoted to.
        changes: input fields to change (``resolution="1080p"``, ...).

    Raises:
        InputError: a change (or a kept input) the new endpoint refuses, naming the field and the endpoint.
    """
    seed = inp.seed if inp.seed is not None else output_seed if isinstance(output_seed, int) else None
    lacking = set(lacked_fields(inp, endpoint))
    extra = {k: v for k, v in inp.extra.items() if k not in lacking}
    try:
        return inp.replace(**{"endpoint": endpoint, "seed": seed, "extra": extra, **changes})
    except InputError as exc:
        raise InputError(exc.problems, context=f"promote to {endpoint} ({model_label(endpoint)})") from None


def lacked_fields(inp: VideoInput, endpoint: str) -> list[str]:
    """The draft's extra fields (``bitrate_mode``) ``endpoint``'s schema does not list.

    Args:
        inp: the draft's input.
        endpoint: the endpoint the take is promoted to.
    """
    fields = schema_fields(endpoint)
    return [] if fields is None else [k for k in inp.extra if k not in fields]


def promoted_takes(
    sweep: Any, numbers: Sequence[int], endpoint: str | None, changes: Mapping[str, Any]
) -> tuple[list[_Take], str, list[str]]:
    """The chosen takes, retargeted, the round's endpoint, and the notes on what was left out.

    Args:
        sweep: the draft sweep.
        numbers: the chosen job numbers, in order.
        endpoint: the endpoint to promote to (None: each take's own).
        changes: input fields to change.
    """
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise InputError(
                [Problem("endpoint", "a promotion goes to one endpoint", endpoint, "endpoint='<fal endpoint id>'")]
            )
        endpoint = endpoint_list(endpoint)[0]
    by_number = {job.job: job for job in sweep.jobs}
    takes: list[_Take] = []
    dropped: dict[str, set[int]] = {}
    for number in numbers:
        job = by_number[number]
        target = endpoint or job.input.endpoint
        for name in lacked_fields(job.input, target):
            dropped.setdefault(name, set()).add(number)
        inp = retarget(job.input, job.output_seed, target, changes)
        takes.append(_Take(number, inp, dict(job.image_data or {})))
    notes = [
        f"{name!r} left out of promoted take(s) {sorted(jobs)}: {endpoint}'s schema does not list it"
        for name, jobs in dropped.items()
    ]
    for note in notes:
        logger.warning("%s", note)
    return takes, endpoint or (takes[0].input.endpoint if takes else ""), notes


def with_promoted_from(df: pd.DataFrame, round_info: Mapping[str, Any]) -> pd.DataFrame:
    """``df`` with a ``promoted_from`` column (each job's draft job number) when its round promoted takes.

    Args:
        df: a promoted sweep's DataFrame.
        round_info: its ``round.json``.
    """
    links = round_info.get(PROMOTED_FROM)
    if not isinstance(links, list) or "job" not in df.columns:
        return df
    by_job = dict(enumerate(links))
    df[PROMOTED_FROM] = pd.array([by_job.get(int(j)) for j in df["job"]], dtype="Int64")
    return df
