"""Show videos in a notebook: one result, a grid pivoted by any columns, or a synchronized comparison.

Pure builders return an HTML string; thin wrappers display it (or return it
with ``return_html=True``)::

    import seedance_nb.display as sdd
    sdd.gallery(sweep, rows="prompt", cols=("duration", "seed"), sync=True)
    sdd.compare(sweep.df.iloc[0], sweep.df.iloc[3])         # larger, played together

Sources are referenced, never copied, unless you ask: a video under the
current working directory (the notebook's folder, or ``base_dir=``) is linked
by a relative path, which JupyterLab serves through ``/files/`` with seeking;
otherwise its ``video_url``; otherwise a ``file://`` link (logged, because
browsers refuse those inside Jupyter). ``embed=True`` writes the bytes into
the output as base64 (Colab, which cannot serve local files; portable
reports) and warns past :data:`EMBED_WARN_BYTES`. Only http(s) URLs, paths
and the ``data:`` URIs made here ever become a ``src`` or ``href``: a
``javascript:`` (or any other) result URL is dropped (:func:`safe_url`).

Thumbnails: each video's first frame is an ``<img>`` under a transparent
``<video>`` in a box of the video's aspect ratio. JupyterLab 4 and Notebook 7
rewrite a relative ``src`` to ``/files/…`` but not a ``poster`` attribute, so
the image shows before anything plays, and the video paints over it once
loaded; VS Code shows the same markup, and Colab needs ``embed=True``. Every
video has ``preload="metadata"``, so a grid of 48 opens fast.

Widths: videos take the output's width up to their preferred width and
shrink down to :data:`MIN_VIDEO_PX` (:data:`MIN_COMPARE_PX` in
:func:`compare`); below that the grid scrolls inside its own box. Captions
start with the job number (``#3``, as :meth:`Sweep.rate` takes it); long
texts that share an opening (prompts) are shown by the part that differs,
the full text on hover (:func:`distinct_labels`). The summary names the
backend; on the emulator the cost reads "emulated, nothing billed", and the
figures are this run's (cached jobs counted as cached, their old timings
left out of the wall clock).

Grid layout: one table row per distinct value (or tuple of values) of
``rows`` and one column per value of ``cols``, in the order the data lists
them. Each cell shows its video with a caption of what varies across the grid
and is not already in the headers, then its queue and generation time and its
cost. Several rows in one cell (takes, or parameters left off both axes) are
shown side by side inside the cell, each with its own caption; put ``"take"``
on an axis (``cols=("seed", "take")``) to give takes their own columns.
Failed cells show the error type and message, unfinished cells their status,
and combinations with no job an empty slot.

Synchronized playback (``sync=True``) adds one control bar per grid (play and
pause, a shared seek slider, a time label) driven by a small inline script
scoped to that grid's container: the first video leads, the others are
snapped back when they drift by more than 0.1 s, and all are muted. Where
scripts do not run the bar stays hidden and each video keeps its own controls.

Every piece of user text (prompts, file names, errors, column values) is
escaped with :func:`html.escape`, in text and attributes alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pandas as pd

from ._names import set_public_module
from ._text import plural
from .figures import figure_html, grid_body
from .markup import (  # LargeOutputWarning and video_html: re-exported, where 0.1 had them
    CSS,
    MIN_COMPARE_PX,
    MIN_VIDEO_PX,
    OUTCOME_COLUMNS,
    LargeOutputWarning,
    Sources,
    as_text,
    auto_axes,
    axis_columns,
    backend_header,
    backend_of,
    esc,
    frame_of,
    is_missing,
    job_label,
    new_container_id,
    pairs_html,
    plain,
    row_of,
    short_maps,
    shorten,
    summary_body,
    sync_controls,
    varying_columns,
    video_html,
)

__all__ = [
    "LargeOutputWarning",
    "compare",
    "compare_html",
    "gallery",
    "grid_html",
    "result_html",
    "show",
    "show_html",
    "summary_html",
    "sweep_html",
    "video_html",
]


def _layout(df: pd.DataFrame, rows: Any, cols: Any, width: int | None) -> tuple[Any, Any, int]:
    """The axes (from what varies, unless given) and the videos' preferred width: one rule for ``sweep``,
    :func:`gallery`, :func:`show` and the report."""
    if rows is None and cols is None:
        rows, cols = auto_axes(df)
    if width is None:
        row_cols = [c for c in axis_columns(rows) if c in df.columns]
        groups = len({tuple(plain(v) for v in key) for key in df[row_cols].itertuples(index=False)}) if row_cols else 1
        per_row = len(df) / max(1, groups)
        width = 240 if per_row <= 4 else max(MIN_VIDEO_PX, int(1000 // per_row))
    return rows, cols, width


def _grid(
    data: Any,
    rows: Any,
    cols: Any,
    *,
    sync: bool = False,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    width: int | None = None,
    sort_by: str | None = None,
) -> tuple[pd.DataFrame, str | None, str]:
    """The frame, the backend and the grid's markup: the one body of :func:`grid_html` and :func:`sweep_html`."""
    df = frame_of(data)
    rows, cols, width = _layout(df, rows, cols, width)
    backend = backend_of(data)
    sources = Sources(base_dir, embed)
    body = grid_body(df, rows, cols, sync=sync, sources=sources, width=width, backend=backend, sort_by=sort_by)
    sources.finish()
    return df, backend, body


def grid_html(
    data: Any,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    *,
    sync: bool = False,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    width: int | None = None,
    sort_by: str | None = None,
) -> str:
    """A table of videos pivoted by ``rows`` and ``cols``. See the module docstring for the layout.

    Args:
        data: a sweep, its DataFrame, or a list of rows.
        rows: the column (or tuple of columns) whose values make the table's rows. With neither axis given, the
            axes come from what varies (:func:`auto_axes`), exactly as a bare ``sweep`` shows them.
        cols: the column (or tuple of columns) whose values make the table's columns.
        sync: add one control bar that plays, pauses and seeks every video together.
        embed: write the videos and posters into the HTML as base64 (Colab; portable files). Warns past
            :data:`seedance_nb.markup.EMBED_WARN_BYTES`.
        base_dir: the folder relative links start from (default: the working directory, the notebook's).
        width: each video's preferred width in px (default: 240, smaller when a row holds more than four).
        sort_by: a metric column (``"motion"``...): each row lists its takes best first instead of by column.
    """
    df, backend, body = _grid(data, rows, cols, sync=sync, embed=embed, base_dir=base_dir, width=width, sort_by=sort_by)
    return CSS + backend_header(backend) + body


# --------------------------------------------------------------------------- compare, result, summary


def _labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    df = pd.DataFrame(list(rows))
    vary = varying_columns(df)
    short = short_maps(df, limit=60)
    labels = []
    for n, row in enumerate(rows, 1):
        number = job_label(row)
        if vary:
            text = " · ".join(
                f"{c} {short.get(c, {}).get(plain(row.get(c))) or shorten(as_text(row.get(c)), 60)}" for c in vary
            )
            labels.append(f"{number} {text}".strip())
            continue
        ref = row.get("path") if not is_missing(row.get("path")) else row.get("video_url")
        if not is_missing(ref) and not str(ref).startswith("data:"):
            labels.append(f"{number} {Path(urlsplit(str(ref)).path).name}".strip() or f"video {n}")
        else:
            labels.append(number or f"video {n}")
    return labels


def compare_html(
    *items: Any,
    sync: bool = True,
    labels: Sequence[str] | None = None,
    width: int = 480,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """A few videos side by side at a larger size, titled by what differs, played together by default.

    The videos share the output's width (up to ``width`` each, down to :data:`MIN_COMPARE_PX`, then the row
    scrolls).

    Args:
        *items: rows, results, paths or URLs; a DataFrame or a sweep contributes all its rows.
        sync: play, pause and seek them together (one control bar).
        labels: titles, one per video (default: what differs between them, with the job number).
        width: each video's preferred width in px.
        embed: write the videos into the HTML as base64.
        base_dir: the folder relative links start from (default: the working directory).
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, pd.DataFrame) or isinstance(getattr(item, "df", None), pd.DataFrame):
            rows.extend(cast("list[dict[str, Any]]", frame_of(item).to_dict("records")))
        else:
            rows.append(row_of(item))
    if not rows:
        raise ValueError("compare needs at least one video")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"got {plural(len(labels), 'label')} for {plural(len(rows), 'video')}")
    titles = list(labels) if labels is not None else _labels(rows)
    sources = Sources(base_dir, embed)
    container = new_container_id()
    bar, script = sync_controls(container) if sync else ("", "")
    figs = "".join(figure_html(r, (), sources, width, title=t) for r, t in zip(rows, titles, strict=True))
    sources.finish()
    n = len(rows)
    box = f"min-width:{n * MIN_COMPARE_PX + (n - 1) * 12}px;max-width:{n * width + (n - 1) * 12}px"
    return (
        f'{CSS}<div class="sd-out" id="{container}">{bar}<div class="sd-compare" style="{box}">{figs}</div></div>'
        f"{script}"
    )


def result_html(
    row_or_result: Any, *, width: int = 480, embed: bool = False, base_dir: str | os.PathLike[str] | None = None
) -> str:
    """One job: its video (or error, or status), its prompt and settings, timing and cost.

    Args:
        row_or_result: a DataFrame row, a mapping, a :class:`seedance_nb.Result`, a path or a URL.
        width: the video's preferred width in px.
        embed: write the video into the HTML as base64.
        base_dir: the folder relative links start from (default: the working directory).
    """
    row = row_of(row_or_result)
    sources = Sources(base_dir, embed)
    fig = figure_html(row, (), sources, width)
    sources.finish()
    settings = [c for c in row if c not in OUTCOME_COLUMNS and c != "prompt" and not is_missing(row.get(c))]
    lines = []
    if not is_missing(row.get("prompt")):
        lines.append(f'<div class="sd-title">{esc(as_text(row["prompt"]))}</div>')
    if settings:
        lines.append(f'<div class="sd-cap">{pairs_html(row, settings)}</div>')
    return f'{CSS}<div class="sd-out" style="max-width:{width}px">{"".join(lines)}{fig}</div>'


def summary_html(data: Any) -> str:
    """One line: the backend, counts by status, the cost, summed generation time and wall-clock time of this run.

    Args:
        data: a sweep, its DataFrame, or a list of rows.
    """
    return f'{CSS}<div class="sd-out">{summary_body(frame_of(data), backend_of(data))}</div>'


def sweep_html(
    data: Any,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    **options: Any,
) -> str:
    """The summary and the grid of a sweep (``Sweep._repr_html_``); :func:`gallery` lays out the same grid.

    Args:
        data: a sweep, its DataFrame, or a list of rows.
        rows: as in :func:`grid_html` (default: chosen from what varies).
        cols: as in :func:`grid_html`.
        **options: :func:`grid_html`'s ``sync``, ``embed``, ``base_dir``, ``width`` and ``sort_by``.
    """
    df, backend, body = _grid(data, rows, cols, **options)
    return f'{CSS}<div class="sd-out">{summary_body(df, backend)}</div>{body}'


def show_html(x: Any, **kwargs: Any) -> str:
    """What :func:`show` displays: a sweep or DataFrame as :func:`sweep_html`, else :func:`result_html`.

    Args:
        x: a sweep, a DataFrame, a list of rows, a row, a result, a path or a URL.
        **kwargs: passed on to :func:`sweep_html` or :func:`result_html`.
    """
    if isinstance(x, pd.DataFrame) or isinstance(getattr(x, "df", None), pd.DataFrame) or isinstance(x, list):
        return sweep_html(x, **kwargs)
    return result_html(x, **kwargs)


# --------------------------------------------------------------------------- thin display wrappers


def _display(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def show(x: Any, return_html: bool = False, **kwargs: Any) -> str | None:
    """Display one result, row, path or URL, or a whole sweep.

    Args:
        x: what to show (see :func:`show_html`).
        return_html: return the HTML instead of displaying it.
        **kwargs: passed on to :func:`sweep_html` (a sweep) or :func:`result_html` (one video).
    """
    markup = show_html(x, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None


def gallery(data: Any, rows: Any = None, cols: Any = None, *, return_html: bool = False, **kwargs: Any) -> str | None:
    """Display a sweep's videos as a grid pivoted by ``rows`` and ``cols`` (was ``sd.grid``).

    Args:
        data: a sweep, its DataFrame, or a list of rows.
        rows: the column(s) whose values make the rows (default: chosen from what varies).
        cols: the column(s) whose values make the columns.
        return_html: return the HTML instead of displaying it.
        **kwargs: :func:`grid_html`'s ``sync``, ``embed``, ``base_dir``, ``width`` and ``sort_by``.
    """
    markup = grid_html(data, rows, cols, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None


def compare(*items: Any, return_html: bool = False, **kwargs: Any) -> str | None:
    """Display a few videos side by side, larger, played together.

    Args:
        *items: rows, results, paths or URLs; a DataFrame or a sweep contributes all its rows.
        return_html: return the HTML instead of displaying it.
        **kwargs: :func:`compare_html`'s ``sync``, ``labels``, ``width``, ``embed`` and ``base_dir``.
    """
    markup = compare_html(*items, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None


set_public_module(__name__)
