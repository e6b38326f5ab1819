"""The gallery's figures and pivoted grid: each take's player with its caption and metric flags.

The one view that needs both the HTML kit (:mod:`seedance_nb.markup`, ground floor) and the metrics wing
(:mod:`seedance_nb.quality`: a take's flags, takes ranked within a row), so it stands above both;
:mod:`seedance_nb.display` (the notebook's grid) and :mod:`seedance_nb.reporting` (the report) build their
grids here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from ._names import set_public_module
from .markup import (
    HAS_VIDEO,
    MIN_VIDEO_PX,
    ShortMap,
    Sources,
    as_text,
    axis_columns,
    esc,
    header_html,
    image_size,
    input_columns,
    is_missing,
    job_label,
    meta_text,
    new_container_id,
    pairs_html,
    plain,
    short_maps,
    shorten,
    sync_controls,
    varying_columns,
    video_tag,
)
from .quality._html import flags_html, ranked_cells
from .statuses import JobStatus

__all__ = ["caption_html", "figure_html", "grid_body"]


def caption_html(
    row: Mapping[str, Any], vary: Sequence[str], short: ShortMap | None = None, backend: str | None = None
) -> str:
    parts = []
    label = job_label(row)
    if label:
        parts.append(f'<span class="sd-job">{esc(label)}</span>')
    if vary:
        parts.append(f'<span class="sd-vary">{pairs_html(row, vary, short)}</span>')
    parts.append(flags_html(row))  # frozen, black, cut, silent, short: "" for a clean take
    meta = meta_text(row, backend)
    if meta:
        parts.append(esc(meta))
    return "".join(parts)


def _dims(row: Mapping[str, Any], poster: Any) -> tuple[int, int] | None:
    w, h = plain(row.get("width")), plain(row.get("height"))
    if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0:
        return int(w), int(h)
    if not is_missing(poster) and Path(str(poster)).is_file():
        return image_size(Path(str(poster)))
    return None


def figure_html(
    row: Mapping[str, Any],
    vary: Sequence[str],
    sources: Sources,
    width: int,
    *,
    anchor: str | None = None,
    title: str | None = None,
    slot_height: int | None = None,
    short: ShortMap | None = None,
    backend: str | None = None,
) -> str:
    slot = f' style="min-height:{min(slot_height, 400)}px"' if slot_height else ""
    has_video = not is_missing(row.get("path")) or not is_missing(row.get("video_url"))
    status = str(row.get("status")) if not is_missing(row.get("status")) else (JobStatus.COMPLETED if has_video else "")
    job = "" if is_missing(row.get("job")) else f' data-job="{esc(as_text(row.get("job")))}"'
    size = f' style="max-width:{width}px"'
    id_attr = (f' id="{esc(anchor)}"' if anchor else "") + size + job
    head = f'<div class="sd-title">{esc(title)}</div>' if title else ""
    caption = caption_html(row, vary, short, backend)
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    if status == JobStatus.FAILED:
        kind = as_text(row.get("error_type")) if not is_missing(row.get("error_type")) else "error"
        message = as_text(row.get("error")) if not is_missing(row.get("error")) else "the job failed"
        body = (
            f'<div class="sd-slot sd-error"{slot} title="{esc(message)}">'
            f"<span><b>{esc(kind)}</b>: {esc(shorten(message, 300))}</span></div>"
        )
        return f'<figure class="sd-fig" data-status="failed"{id_attr}>{head}{body}{cap}</figure>'
    if status not in HAS_VIDEO and status:
        badge = f'<span class="sd-status sd-{esc(status)}">{esc(status)}</span>'
        if not is_missing(row.get("error")):  # e.g. interrupted: say why and what finishes it
            message = as_text(row.get("error"))
            badge += f'<br><small title="{esc(message)}">{esc(shorten(message, 160))}</small>'
        body = f'<div class="sd-slot"{slot}><span>{badge}</span></div>'
        return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    src = sources.video(row.get("path"), row.get("video_url"))
    if src is None:
        body = f'<div class="sd-slot"{slot}>no video file</div>'
        return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    dims = _dims(row, row.get("poster"))
    tag = video_tag(
        src,
        poster=sources.poster(row.get("poster")),
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
    )
    return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{tag}{cap}</figure>'


# --------------------------------------------------------------------------- grid


_EMPTY_CELL = '<td class="sd-cell sd-missing"><div class="sd-slot" title="no job for this combination"></div></td>'
_ROWHEAD_PX = 170
_GAP_PX = 6


Key = tuple[Any, ...]


@dataclass
class _Pivot:
    """A sweep's rows placed in a grid: the axes, their keys in first-seen order, and each cell's row numbers."""

    records: list[dict[str, Any]]
    row_cols: tuple[str, ...]
    col_cols: tuple[str, ...]
    vary: list[str]
    row_keys: dict[Key, None] = field(default_factory=dict)
    col_keys: dict[Key, None] = field(default_factory=dict)
    cells: dict[tuple[Key, Key], list[int]] = field(default_factory=dict)


def _pivot(
    df: pd.DataFrame, rows: str | Sequence[str] | None, cols: str | Sequence[str] | None, sort_by: str | None
) -> _Pivot:
    row_cols, col_cols = axis_columns(rows), axis_columns(cols)
    unknown = [c for c in (*row_cols, *col_cols) if c not in df.columns]
    if unknown:
        raise KeyError(
            f"cannot pivot on {', '.join(map(repr, unknown))}: no such column; "
            f"the inputs are {', '.join(input_columns(df)) or '(none)'}"
        )
    vary = [c for c in varying_columns(df) if c not in row_cols and c not in col_cols]
    records = cast("list[dict[str, Any]]", df.to_dict("records"))  # column names are strings
    pivot = _Pivot(records, row_cols, col_cols, vary)
    for i, rec in enumerate(records):
        rk = tuple(plain(rec.get(c)) for c in row_cols)
        ck = tuple(plain(rec.get(c)) for c in col_cols)
        pivot.row_keys.setdefault(rk)
        pivot.col_keys.setdefault(ck)
        pivot.cells.setdefault((rk, ck), []).append(i)
    if sort_by is not None:  # each row lists its takes best first by a metric; captions say what the columns were
        pivot.vary = [*vary, *(c for c in col_cols if c not in vary)]
        ranked = ranked_cells(records, pivot.row_keys, pivot.cells, pivot.col_keys, sort_by)
        pivot.col_cols, pivot.col_keys, pivot.cells = ranked  # type: ignore[assignment]
    return pivot


def _slot_height(records: Sequence[Mapping[str, Any]], width: int) -> int | None:
    """Placeholders take the size of the grid's videos (their median ratio), so rows line up."""
    ratios = [
        h / w
        for w, h in ((plain(r.get("width")), plain(r.get("height"))) for r in records)
        if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0
    ]
    return round(width * sorted(ratios)[len(ratios) // 2]) if ratios else None


def _table_open(pivot: _Pivot, width: int, min_width: int) -> str:
    """The ``<table>`` tag and its ``<colgroup>``.

    The table fills the output up to the videos' preferred width and shrinks them down to min_width; below that
    it keeps its size and the box scrolls (.sd-out has overflow-x:auto).
    """
    per_col = [max([len(pivot.cells.get((rk, ck), ())) for rk in pivot.row_keys] or [1]) or 1 for ck in pivot.col_keys]
    slots = sum(per_col)
    head = _ROWHEAD_PX if pivot.row_cols else 0
    gaps = _GAP_PX * (len(per_col) + (1 if pivot.row_cols else 0) + 1) + _GAP_PX * (slots - len(per_col))
    table = f'<table class="sd-grid" style="min-width:{head + slots * min_width + gaps}px;'
    table += f'max-width:{head + slots * width + gaps}px">'
    cols_html = f'<col style="width:{head}px">' if pivot.row_cols else ""
    cols_html += "".join(f'<col style="width:{100 * k / slots:.3f}%">' for k in per_col)
    return f"{table}<colgroup>{cols_html}</colgroup>"


def _thead(pivot: _Pivot, short: ShortMap) -> str:
    if not pivot.col_cols:
        return ""
    corner = " · ".join(esc(c) for c in pivot.row_cols)
    out = [
        f'<thead><tr><th class="sd-corner"><span class="sd-k">{corner}</span></th>' if pivot.row_cols else "<thead><tr>"
    ]
    for ck in pivot.col_keys:
        out.append(f'<th class="sd-colhead">{header_html(pivot.col_cols, ck, limit=40, short=short)}</th>')
    out.append("</tr></thead>")
    return "".join(out)


def _row_html(pivot: _Pivot, rk: Key, figure: Callable[[int], str], short: ShortMap) -> str:
    out = ['<tr class="sd-row">']
    if pivot.row_cols:
        out.append(f'<th class="sd-rowhead" scope="row">{header_html(pivot.row_cols, rk, limit=160, short=short)}</th>')
    for ck in pivot.col_keys:
        members = pivot.cells.get((rk, ck))
        if not members:
            out.append(_EMPTY_CELL)
            continue
        figs = "".join(figure(i) for i in members)
        out.append(f'<td class="sd-cell"><div class="sd-takes">{figs}</div></td>')
    out.append("</tr>")
    return "".join(out)


def grid_body(
    df: pd.DataFrame,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "seed",
    *,
    sync: bool = False,
    sources: Sources,
    width: int = 240,
    anchors: Mapping[int, str] | None = None,
    backend: str | None = None,
    min_width: int = MIN_VIDEO_PX,
    sort_by: str | None = None,
) -> str:
    """The grid without its ``<style>`` block (the report shares one). See :func:`seedance_nb.display.grid_html`.

    Args:
        df: one row per take (a sweep's DataFrame).
        rows: the column(s) down the side (None: one row).
        cols: the column(s) across the top (None: one column).
        sync: add the play-all bar and its script.
        sources: where each video and poster is served from.
        width: the videos' preferred width (px).
        anchors: an element id per row number (the report links its table to the grid).
        backend: ``"emulator"`` or ``"fal"``, for the captions' cost notes.
        min_width: the narrowest a video may shrink to before the grid scrolls.
        sort_by: a metric: each row lists its takes best first by it.
    """
    pivot = _pivot(df, rows, cols, sort_by)
    short = short_maps(df)
    slot_height = _slot_height(pivot.records, width)

    def figure(i: int) -> str:
        return figure_html(
            pivot.records[i],
            pivot.vary,
            sources,
            width,
            anchor=(anchors or {}).get(i),
            slot_height=slot_height,
            short=short,
            backend=backend,
        )

    container = new_container_id()
    bar, script = sync_controls(container) if sync else ("", "")
    body = "".join(_row_html(pivot, rk, figure, short) for rk in pivot.row_keys)
    return (
        f'<div class="sd-out sd-gridwrap" id="{container}">{bar}{_table_open(pivot, width, min_width)}'
        f"{_thead(pivot, short)}<tbody>{body}</tbody></table></div>{script}"
    )


set_public_module(__name__)
