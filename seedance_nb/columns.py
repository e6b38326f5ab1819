"""The column names of a sweep's DataFrame and of a catalog row: one list of each, on the ground floor.

The journal's DataFrame (:func:`seedance_nb.runs.to_dataframe`), the metrics (:mod:`seedance_nb.quality`), the
views (:mod:`seedance_nb.markup`) and the catalog (:mod:`seedance_nb.catalogs`) all read their columns here, so a
column added to a list shows everywhere at once. It imports nothing of the package.
"""

from __future__ import annotations

__all__ = ["COLUMNS", "INPUT_COLUMNS", "LINK_COLUMNS", "METRIC_COLUMNS", "OUTCOME_COLUMNS", "RECORD_COLUMNS"]

#: The request's fields, as a sweep's DataFrame names them (images by label), in order.
INPUT_COLUMNS = [
    "prompt",
    "image",
    "end_image",
    "resolution",
    "duration",
    "aspect_ratio",
    "generate_audio",
    "seed",
    "end_user_id",
]

#: A sweep's DataFrame (``sweep.df``), in order: the job, its inputs, its take, then what became of it.
COLUMNS = [
    "job",
    *INPUT_COLUMNS,
    "take",
    "endpoint",
    "model",
    "request_id",
    "status",
    "error_type",
    "error",
    "submitted_at",
    "started_at",
    "completed_at",
    "queue_seconds",
    "generation_seconds",
    "video_url",
    "path",
    "poster",
    "file_size",
    "width",
    "height",
    "fps",
    "video_seconds",
    "has_audio",
    "output_seed",
    "seed_honoured",
    "est_cost_usd",
    "billed_units",
    "cost_usd",
    "inference_seconds",
    "cache_key",
    "rating",
    "notes",
    "backend",
]

#: The DataFrame columns metrics add: one per :class:`seedance_nb.quality.VideoMetrics` field (``has_audio`` is
#: already a column, from the download's probe) and ``flags``. quality checks that its fields match this list.
METRIC_COLUMNS: tuple[str, ...] = (
    "motion",
    "frozen",
    "black_fraction",
    "start_fidelity",
    "end_fidelity",
    "flicker",
    "cuts",
    "loudness_db",
    "silent_fraction",
    "duration_error",
    "seconds",
    "frames",
    "camera_move",
    "camera_confidence",
    "camera_speed",
    "camera_asked",
    "camera_adherence",
    "flags",
)

#: Columns a catalog row (seedance_nb.catalogs) adds about the record rather than the request, in its order.
RECORD_COLUMNS = (
    "run_name",
    "billed",
    "votes",
    "metrics",
    "extra",
    "endpoint",
    "user",
    "host",
    "run_dir",
    "run_id",
    "planned_at",
    "at",
)

#: Columns a promoted round's DataFrame adds (seedance_nb.duels): ``promoted_from``, each take's draft job number
#: in the parent run (``round.json`` names the parent).
LINK_COLUMNS = ("promoted_from",)

#: Columns that describe a job's outcome or record rather than its input (the display captions what varies among
#: inputs, so a sweep's row and a catalog row show the same caption). ``model``, the endpoint's short label, is
#: captioned like an input when a grid compares endpoints (its long ``endpoint`` id is not).
OUTCOME_COLUMNS: frozenset[str] = (
    (frozenset(COLUMNS) - set(INPUT_COLUMNS) - {"take", "model"})
    | set(METRIC_COLUMNS)
    | set(RECORD_COLUMNS)
    | set(LINK_COLUMNS)
)
