"""Where a job stands: :class:`JobStatus`, the one status vocabulary, and the named sets of statuses.

The ground floor: it imports nothing of the package but :mod:`seedance_nb._names`, so the journal, the runner,
the views, the report, the duels and the catalog all read the same words from here. No other module writes a
status as a string literal (``tests/test_words.py`` checks it); each set below is defined once, and says in its
comment what it means.

The money sets split every status three ways (checked below): :data:`PAID` (fal was paid for this job's request),
:data:`ESTIMATED` (not paid yet, so a cost is only an estimate) and :data:`NO_CHARGE` (ended with nothing paid
now). :data:`MAY_STILL_BE_PAID` is the part of :data:`ESTIMATED` fal may still bill without us asking again.
"""

from __future__ import annotations

from enum import Enum

from ._names import set_public_module

__all__ = [
    "ESTIMATED",
    "HAS_VIDEO",
    "MAY_STILL_BE_PAID",
    "NO_CHARGE",
    "PAID",
    "PENDING",
    "STATUS_ORDER",
    "TERMINAL",
    "UNDER_WAY",
    "UNSETTLED",
    "JobStatus",
    "is_paid",
]


class JobStatus(str, Enum):
    """Where a job stands. The one vocabulary for the journal, the DataFrame, the display and the report.

    A ``str`` enum: ``JobStatus.CACHED == "cached"``, and it is written to JSON, SQLite and HTML as its value.
    """

    PLANNED = "planned"  # in the grid, nothing sent
    SUBMITTING = "submitting"  # the submit is being sent (journalled first)
    SUBMITTED = "submitted"  # fal gave a request id: it is queued, and will be billed when it runs
    RUNNING = "running"  # generating on fal
    DOWNLOADING = "downloading"  # finished and paid; the video is being fetched
    COMPLETED = "completed"  # paid and downloaded
    CACHED = "cached"  # the same request finished before: nothing sent, nothing paid now
    FAILED = "failed"  # refused or failed: fal bills no failed request
    CANCELLED = "cancelled"  # cancelled before it finished (on fal too, or never sent)
    INTERRUPTED = "interrupted"  # our side stopped following it; it may still run (and be paid) on fal: resume
    UNKNOWN = "unknown"  # a submit that may have reached fal; settled through fal's request history

    def __str__(self) -> str:
        return self.value


_S = JobStatus

#: Statuses a job does not leave by itself.
TERMINAL = frozenset({_S.COMPLETED, _S.FAILED, _S.CANCELLED, _S.CACHED})
#: Statuses of a job that still needs work (a run or a resume picks it up).
PENDING = frozenset(JobStatus) - TERMINAL
#: Statuses whose job has a video: its file is on disk (or was: a moved folder), to show, measure and vote on.
HAS_VIDEO = frozenset({_S.COMPLETED, _S.CACHED})
#: Statuses whose request was paid for on fal by this job: it finished there (the video is downloaded, or being
#: fetched). Not ``cached``: that video was paid for by the earlier job it reuses, nothing now. An
#: ``interrupted`` job whose result was journalled was paid too: :func:`is_paid` says so for one job.
PAID = frozenset({_S.COMPLETED, _S.DOWNLOADING})
#: Statuses we stopped following: the request may have reached fal, or may run there still; a resume settles it.
UNSETTLED = frozenset({_S.INTERRUPTED, _S.UNKNOWN})
#: Statuses fal may still bill without our asking again: sent (or being sent) and not finished, or unsettled.
#: A budget counts them as spent, so that it stays a hard stop.
MAY_STILL_BE_PAID = frozenset({_S.SUBMITTING, _S.SUBMITTED, _S.RUNNING}) | UNSETTLED
#: Statuses whose cost is only an estimate (captions say "est."): nothing is paid yet, but may be.
ESTIMATED = MAY_STILL_BE_PAID | {_S.PLANNED}
#: Statuses that ended with nothing paid now: fal bills no failed or cancelled request, and a cached job
#: reuses a video paid for earlier.
NO_CHARGE = frozenset({_S.CACHED, _S.FAILED, _S.CANCELLED})
#: Work a run is still doing or will do by itself (the report's "still running"): pending and not unsettled.
UNDER_WAY = PENDING - UNSETTLED
#: The order statuses are listed in (summaries, the report): outcomes first, then work still to do.
STATUS_ORDER: tuple[JobStatus, ...] = (
    _S.COMPLETED,
    _S.CACHED,
    _S.FAILED,
    _S.CANCELLED,
    _S.INTERRUPTED,
    _S.UNKNOWN,
    _S.DOWNLOADING,
    _S.RUNNING,
    _S.SUBMITTED,
    _S.SUBMITTING,
    _S.PLANNED,
)

if set(STATUS_ORDER) != set(JobStatus) or len(STATUS_ORDER) != len(JobStatus):
    raise AssertionError("every status has one place in STATUS_ORDER")
if PAID | ESTIMATED | NO_CHARGE != set(JobStatus) or len(PAID) + len(ESTIMATED) + len(NO_CHARGE) != len(JobStatus):
    raise AssertionError("every status is exactly one of PAID, ESTIMATED and NO_CHARGE")


def is_paid(status: object, video_url: object = None) -> bool:
    """Was this job's request paid for on fal? A :data:`PAID` status, or one we stopped following after its
    result (a video URL) was journalled: fal finished it, so fal billed it.

    Args:
        status: the job's status (a :class:`JobStatus` or its value).
        video_url: the job's journalled video URL, if any (None when no result arrived).
    """
    return status in PAID or (status in MAY_STILL_BE_PAID and bool(video_url))


set_public_module(__name__)
