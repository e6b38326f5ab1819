"""Status words as the views group them, all built from :class:`seedance_nb.runs.JobStatus`."""

from __future__ import annotations

from .._names import set_public_module

# TODO(issue 25, next phase): the one upward arrow left in the ground floor. markup is the pure HTML kit and
# should import nothing above errors/settings, but JobStatus and OUTCOME_COLUMNS live in runs.py (the journal),
# which this phase may not edit. When JobStatus moves to a ground-floor module, import it from there and drop
# this import of runs (runs also imports quality.METRIC_COLUMNS, so this arrow closes a lazy circle
# markup -> runs -> quality -> markup until then).
from ..runs import OUTCOME_COLUMNS as _OUTCOME_COLUMNS
from ..runs import JobStatus

#: Sweep DataFrame columns that describe a job's outcome rather than its input (docs/contracts.md).
OUTCOME_COLUMNS = _OUTCOME_COLUMNS
_S = JobStatus
#: Statuses whose row has a video to show.
HAS_VIDEO = frozenset({_S.COMPLETED, _S.CACHED})
#: Statuses whose cost is only an estimate: nothing is billed yet (fal bills a request when it completes).
ESTIMATED = frozenset({_S.PLANNED, _S.SUBMITTING, _S.SUBMITTED, _S.RUNNING, _S.INTERRUPTED, _S.UNKNOWN})
#: Statuses fal bills nothing for.
NOT_BILLED = frozenset({_S.FAILED, _S.CANCELLED})
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
assert set(STATUS_ORDER) == set(JobStatus), "every status has a place in STATUS_ORDER"


set_public_module(__name__)
