"""The HTML seam: every piece of markup the notebook views, the report and the widgets share.

:mod:`seedance_nb.display` (grids, compares and results in a notebook), :mod:`seedance_nb.reporting` (the
self-contained report), :mod:`seedance_nb.widgets` (the job board) and :mod:`seedance_nb.quality` build their
HTML from these pieces and nothing else: escaping (:func:`esc`, :func:`as_text`), which URLs may become a
``src``/``href`` (:func:`safe_url`), labels that tell long prompts apart (:func:`distinct_labels`,
:func:`short_maps`), the formatters (:func:`fmt_usd`, :func:`fmt_seconds`, :func:`fmt_when`), where a video
is served from (:class:`Sources`), one video (:func:`video_html`), a grid's headers and cells, the
run's totals and summary (:func:`totals`, :func:`summary_body`), the job table (:func:`jobs_table`), the
stylesheet (:data:`CSS`) and the sortable-table script (:func:`sortable_table_script`). No other module reaches
into another's private names for markup (ruff's SLF001 is on); a piece two of them need is added here, public,
with its own test.

Status words and their sets come from :mod:`seedance_nb.statuses` only (:data:`HAS_VIDEO`, :data:`ESTIMATED`,
:data:`PAID`, :data:`NO_CHARGE`, :data:`STATUS_ORDER` are re-exported here), column lists from
:mod:`seedance_nb.columns`, and ratings are read by :func:`seedance_nb.ratings.stars` (:func:`rating_stars` is
that function), so a new status shows everywhere at once.

Every piece of user or server text is escaped with :func:`html.escape`, in text and attributes alike, and only
http(s) URLs, local paths and the ``data:`` URIs made here ever become a ``src`` or ``href``.

It is the ground floor: it imports nothing from a wing. The gallery's grid, whose captions show metric flags,
is built a floor up in :mod:`seedance_nb.figures`, which imports this kit and :mod:`seedance_nb.quality`.

The package's parts: ``_text`` (escaping, URLs, labels, formatters), ``_status`` (status groups),
``_rows`` (what a view is given), ``_media`` (sources and the player), ``_styles`` (stylesheet and scripts),
``_cells`` (a cell's text and headers) and ``_summary`` (totals, the summary, the job table). Import every
name from here: :data:`EMBED_WARN_BYTES` is read from this package, where you may set it.
"""

from __future__ import annotations

from .._names import set_public_module
from ..ratings import stars as rating_stars
from ._cells import ShortMap, axis_columns, header_html, job_label, meta_text, pairs_html, short_maps
from ._media import (
    EMBED_WARN_BYTES,
    MIN_COMPARE_PX,
    MIN_VIDEO_PX,
    LargeOutputWarning,
    Sources,
    embed_warn_bytes,
    image_size,
    thumbnail_data_uri,
    video_html,
    video_tag,
)
from ._rows import auto_axes, backend_of, frame_of, input_columns, row_of, run_dir_of, varying_columns
from ._status import ESTIMATED, HAS_VIDEO, NO_CHARGE, OUTCOME_COLUMNS, PAID, STATUS_ORDER
from ._styles import CSS, sortable_table_script, sync_controls
from ._summary import backend_header, cost_text, jobs_table, summary_body, totals
from ._text import (
    as_text,
    distinct_labels,
    esc,
    fmt_seconds,
    fmt_usd,
    fmt_when,
    is_loopback_url,
    is_missing,
    new_container_id,
    plain,
    safe_url,
    script_json,
    shorten,
)

__all__ = [
    "CSS",
    "EMBED_WARN_BYTES",
    "ESTIMATED",
    "HAS_VIDEO",
    "LargeOutputWarning",
    "MIN_COMPARE_PX",
    "MIN_VIDEO_PX",
    "NO_CHARGE",
    "OUTCOME_COLUMNS",
    "PAID",
    "STATUS_ORDER",
    "ShortMap",
    "Sources",
    "as_text",
    "auto_axes",
    "axis_columns",
    "backend_header",
    "backend_of",
    "cost_text",
    "distinct_labels",
    "embed_warn_bytes",
    "esc",
    "fmt_seconds",
    "fmt_usd",
    "fmt_when",
    "frame_of",
    "header_html",
    "image_size",
    "input_columns",
    "is_loopback_url",
    "is_missing",
    "job_label",
    "jobs_table",
    "meta_text",
    "new_container_id",
    "pairs_html",
    "plain",
    "rating_stars",
    "row_of",
    "run_dir_of",
    "safe_url",
    "script_json",
    "short_maps",
    "shorten",
    "sortable_table_script",
    "summary_body",
    "sync_controls",
    "thumbnail_data_uri",
    "totals",
    "varying_columns",
    "video_html",
    "video_tag",
]

set_public_module(__name__)
