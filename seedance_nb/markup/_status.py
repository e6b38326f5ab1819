"""Status words and column lists as the views use them: re-exported from the ground floor.

:mod:`seedance_nb.statuses` owns the status vocabulary and its named sets, :mod:`seedance_nb.columns` the column
lists; the views read them through this module, which imports nothing else.
"""

from __future__ import annotations

from ..columns import OUTCOME_COLUMNS as OUTCOME_COLUMNS
from ..statuses import ESTIMATED as ESTIMATED
from ..statuses import HAS_VIDEO as HAS_VIDEO
from ..statuses import NO_CHARGE as NO_CHARGE
from ..statuses import PAID as PAID
from ..statuses import STATUS_ORDER as STATUS_ORDER
from ..statuses import JobStatus as JobStatus

__all__ = ["ESTIMATED", "HAS_VIDEO", "NO_CHARGE", "OUTCOME_COLUMNS", "PAID", "STATUS_ORDER", "JobStatus"]
