"""How one job of a sweep ends when something goes wrong: the verdict (:func:`classify_failure`), the job deadline
(:func:`job_timeout_seconds`, :func:`within_deadline`) and a journal the disk stopped taking
(:func:`settle_unjournalled`).

The rule throughout: only fal's own verdict on a request makes it ``failed``. Anything that stops us following an
accepted request (a deadline, a transport or protocol oddity, a full disk) leaves it ``interrupted``: it may still
run, and be paid for, on fal, so it is never cancelled there for a local reason, and ``resume()`` re-attaches to it
by request id and downloads it without submitting again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import os
from collections.abc import Awaitable
from typing import Any, TypeVar

from ._names import set_public_module
from ._text import plural
from .errors import (
    AmbiguousSubmit,
    InputError,
    ModerationError,
    Problem,
    RejectedInput,
    RequestCancelled,
    RequestFailed,
    SeedanceError,
)
from .runs import Job, JobStatus

__all__ = ["DEFAULT_JOB_TIMEOUT", "JobDeadline", "classify_failure", "job_timeout_seconds", "within_deadline"]

logger = logging.getLogger("seedance_nb.sweep")

#: Seconds a job may take from its submit (or its re-attachment on resume) until fal's result is read. fal's
#: Seedance jobs take a few minutes even in a busy queue: half an hour is generous, and ends a status that says
#: IN_PROGRESS forever. ``SEEDANCE_JOB_TIMEOUT`` (seconds) changes it for a process; ``job_timeout=`` for a run.
DEFAULT_JOB_TIMEOUT = 1800.0
JOB_TIMEOUT_ENV = "SEEDANCE_JOB_TIMEOUT"

T = TypeVar("T")


class JobDeadline(SeedanceError):
    """A job had no result within its deadline. The request was not cancelled on fal: it may still finish (and be
    paid for), and ``resume()`` re-attaches to it by request id and downloads it."""

    error_type = "job_timeout"

    def __init__(self, message: str, *, request_id: str | None = None, timeout: float | None = None) -> None:
        self.request_id = request_id
        self.timeout = timeout
        super().__init__(message)


def job_timeout_seconds(value: Any = None) -> float | None:
    """The job deadline in seconds for a run: ``value``, else ``SEEDANCE_JOB_TIMEOUT``, else
    :data:`DEFAULT_JOB_TIMEOUT`. ``math.inf`` means no deadline (None is returned).

    Args:
        value: ``job_timeout=`` as the user wrote it (None: the environment's or the default).

    Raises:
        InputError: not a number of seconds above 0 (naming ``job_timeout``, or the environment variable).
    """
    field = "job_timeout"
    if value is None:
        text = os.environ.get(JOB_TIMEOUT_ENV, "").strip()
        if not text:
            return DEFAULT_JOB_TIMEOUT
        field = JOB_TIMEOUT_ENV
        try:
            value = float(text)
        except ValueError:
            value = text
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and value > 0):  # nan compares false: refused here too
        raise InputError(
            [Problem(field, "must be a number of seconds above 0", value, "e.g. 1800 (half an hour), or math.inf")]
        )
    return None if math.isinf(value) else float(value)


async def within_deadline(work: Awaitable[T], seconds: float | None, job: Job) -> T:
    """``await work``, given up after ``seconds`` with :class:`JobDeadline` (the remote request is left as it is).

    A cancel from outside (the user's) still reaches ``work`` and is raised as a cancel, not as a deadline.

    Args:
        work: following the job's request until its result is read.
        seconds: the deadline (None: none).
        job: the job, named in the error.
    """
    if seconds is None:
        return await work
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        return await asyncio.wait_for(work, seconds)
    except asyncio.TimeoutError:
        if loop.time() - began < seconds * 0.9:
            raise  # a timeout inside the work itself, well before the deadline
        raise JobDeadline(
            f"request {job.request_id} had no result within the job deadline of {seconds:g} s (job_timeout=, "
            f"{JOB_TIMEOUT_ENV}); it was not cancelled on fal",
            request_id=job.request_id,
            timeout=seconds,
        ) from None


def classify_failure(exc: BaseException, job: Job) -> tuple[str, dict[str, Any]]:
    """The journal event (and its fields) that ends ``job`` after ``exc``. Pure; one job only.

    - an ambiguous submit → ``unknown`` (settled through fal's history, never re-sent blindly);
    - fal's own verdicts → ``failed`` (refusals marked not retryable) or ``cancelled``;
    - anything else once fal has the request (a paid result to fetch, or a request still running: a deadline, a
      redirect or a bare 5xx on the result, a full disk) → ``interrupted``: resumable, and never cancelled
      remotely because of a local error;
    - anything else before anything was sent → ``failed``, retryable.

    Args:
        exc: what ended the job.
        job: the job, as it stands.
    """
    message = str(exc) or type(exc).__name__
    if isinstance(exc, AmbiguousSubmit):
        return JobStatus.UNKNOWN, {"error_type": "ambiguous_submit", "error": message}
    if isinstance(exc, RequestCancelled):
        return JobStatus.CANCELLED, {"error": message}
    if isinstance(exc, RequestFailed):
        retryable = exc.retryable
        if isinstance(exc, ModerationError) and retryable is None:
            retryable = "prompt" not in message.lower()
        if isinstance(exc, RejectedInput):
            retryable = False
        return JobStatus.FAILED, {
            "error_type": exc.error_type or type(exc).__name__,
            "error": message,
            "retryable": retryable,
        }
    if isinstance(exc, InputError):
        return JobStatus.FAILED, {"error_type": "input_error", "error": message, "retryable": False}
    error_type = getattr(exc, "error_type", None) or type(exc).__name__
    if job.status == JobStatus.DOWNLOADING or job.request_id is not None:
        what = "the video is paid for" if job.status == JobStatus.DOWNLOADING else "the request may still run on fal"
        return JobStatus.INTERRUPTED, {
            "error_type": error_type,
            "error": f"{message} ({what}; resume() picks it up without submitting again)",
        }
    return JobStatus.FAILED, {"error_type": error_type, "error": message, "retryable": True}


def settle_unjournalled(jobs: list[Job], run_dir: Any, error: OSError) -> list[int]:
    """After the journal's disk refused a write, with ``jobs`` rebuilt from the journal on disk (what ``resume()``
    works from: the request ids were written while it could be): every job it leaves in flight (submitted,
    running, downloading) is marked ``interrupted`` here, and one error is logged naming the run folder. A job
    whose submit went out unrecorded stays ``submitting``/``unknown``: resume() settles it through fal's history,
    never sends it blindly. Returns the jobs marked.

    Args:
        jobs: the sweep's jobs as the journal on disk leaves them.
        run_dir: the run folder.
        error: the write the disk refused.
    """
    why = error.strerror or str(error)
    marked = []
    for job in jobs:
        if job.status not in (JobStatus.SUBMITTED, JobStatus.RUNNING, JobStatus.DOWNLOADING):
            continue
        marked.append(job.job)
        job.apply(
            {
                "event": JobStatus.INTERRUPTED,
                "job": job.job,
                "error_type": "disk_full" if error.errno == errno.ENOSPC else "journal_write",
                "error": f"the journal could not record what became of this job ({why} on the disk holding "
                f"{run_dir}); resume() picks it up from what was written, without submitting again",
            }
        )
    which = (
        f"{plural(len(marked), 'job')} ({', '.join(map(str, marked))}) interrupted"
        if marked
        else "no job was in flight"
    )
    logger.error(
        "the journal in %s could not be written (%s): is the disk holding it full? The sweep stopped where the "
        "journal did: %s, nothing is lost or paid twice. Free space there, then Sweep.resume(%r): it re-attaches "
        "to every request by id and downloads what is done",
        run_dir,
        why,
        which,
        str(run_dir),
    )
    return marked


set_public_module(__name__)
