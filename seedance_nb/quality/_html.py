"""The metrics' HTML fragments (display, report): flags, filmstrips, the metrics table and plots."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._names import set_public_module
from .._text import plural
from ..errors import InputError
from ._measuring import FLAGS, _check_metric
from ._pictures import _flag_list, _plain, _sorted_records, _text, filmstrip_file

logger = logging.getLogger("seedance_nb.quality")

# --------------------------------------------------------------------------- HTML fragments (display, report)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


_FLAG_STYLE = (
    "display:inline-block;margin:1px 3px 1px 0;padding:0 5px;border-radius:8px;font-size:10.5px;"
    "line-height:16px;background:#fde2e4;color:#9f1239;border:1px solid #fecdd3"
)


def flags_html(row: Mapping[str, Any]) -> str:
    """Small badges for a take's flags (frozen, black, cut, silent, short, ignored camera move), each with its
    meaning as a tooltip; "" when it has none. Only known flag words are shown."""
    flags = _flag_list(row.get("flags") if hasattr(row, "get") else None)
    if not flags:
        return ""
    badges = "".join(
        f'<span class="sd-flag sd-flag-{_esc(f.replace(" ", "-"))}" title="{_esc(FLAGS[f])}" '
        f'style="{_FLAG_STYLE}">{_esc(f)}</span>'
        for f in flags
    )
    return f'<span class="sd-flags">{badges}</span>'


def _safe_src(src: str) -> bool:
    lowered = src.strip().lower()
    if lowered.startswith(("http://", "https://", "file://", "data:image/")):
        return True
    return ":" not in lowered.split("/", 1)[0]  # a relative path (no scheme such as javascript:)


def _metrics_sort_js() -> str:
    from ..markup import sortable_table_script  # the report's own sorting script, for the metrics table

    return sortable_table_script("sd-metrics")


def filmstrip_html(src: str | None, *, alt: str = "filmstrip", height: int | None = None) -> str:
    """An ``<img>`` for a filmstrip at ``src`` (a relative path, an http(s)/file URL or an image data URI)."""
    if not src or not _safe_src(str(src)):
        return ""
    size = f' height="{int(height)}"' if height else ""
    # Not loading="lazy": inside a notebook's scrolling output (and JupyterLab's windowed cells) a lazy image
    # below the fold stays unloaded until someone scrolls to it, and the strips are small.
    return f'<img class="sd-filmstrip" src="{_esc(src)}" alt="{_esc(alt)}"{size}>'


#: Columns of the report's metrics table (in order) and how each is shown.
_TABLE_METRICS = (
    "motion",
    "start_fidelity",
    "end_fidelity",
    "flicker",
    "cuts",
    "black_fraction",
    "loudness_db",
    "silent_fraction",
    "duration_error",
    "camera_move",
    "camera_asked",
    "camera_adherence",
)

#: The table's columns that hold words (sorted as text).
_TEXT_METRICS = frozenset({"camera_move", "camera_asked", "camera_adherence"})


def _fmt(value: Any, column: str) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in ("black_fraction", "silent_fraction"):
        return f"{value:.0%}"
    if column == "loudness_db":
        return f"{value:.1f} LUFS"
    if column == "duration_error":
        return f"{value:+.2f} s"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 0.001 or value == 0 else f"{value:.1e}"
    return str(value)


#: The plot's text in CSS pixels at its natural width (the SVG never shrinks below it: its box scrolls instead).
_TICK_PX, _TITLE_PX = 13, 14


def metric_plot_svg(df: Any, metric: str, by: str, *, width: int = 640, height: int = 260) -> str:
    """An inline SVG: one dot per take of ``metric`` against each value of the parameter ``by``, with the mean
    of each value as a bar. Pure SVG, no script; every label escaped."""
    import pandas as pd

    values = pd.to_numeric(df[metric], errors="coerce")
    keep = values.notna()
    if not keep.any():
        return ""
    groups: dict[str, list[float]] = {}
    for key, value in zip(df.loc[keep, by], values[keep], strict=True):
        groups.setdefault(_text(key, 40), []).append(float(value))
    lo, hi = min(min(v) for v in groups.values()), max(max(v) for v in groups.values())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 if lo else 0.0, hi + 0.5 if hi else 1.0
    left, right, top, bottom = 78, 16, 14, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / len(groups)

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    parts = [
        f'<svg class="sd-metric-plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{_esc(metric)} by {_esc(by)}">',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 5:.1f}" text-anchor="end" font-size="{_TICK_PX}" fill="#444">'
            f"{_esc(_fmt(tick, metric))}</text>"
        )
    for i, (label, items) in enumerate(groups.items()):
        cx = left + step * (i + 0.5)
        mean = sum(items) / len(items)
        parts.append(
            f'<line x1="{cx - step * 0.3:.1f}" x2="{cx + step * 0.3:.1f}" y1="{y(mean):.1f}" y2="{y(mean):.1f}" '
            f'stroke="#2563eb" stroke-width="3"><title>{_esc(label)}: mean {_esc(_fmt(mean, metric))}</title></line>'
        )
        for j, v in enumerate(items):
            jitter = (j - (len(items) - 1) / 2) * min(8.0, step * 0.4 / max(1, len(items)))
            parts.append(
                f'<circle cx="{cx + jitter:.1f}" cy="{y(v):.1f}" r="4" fill="#f97316" fill-opacity=".8">'
                f"<title>{_esc(label)}: {_esc(_fmt(v, metric))}</title></circle>"
            )
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 20}" text-anchor="middle" font-size="{_TICK_PX}" fill="#333">'
            f"{_esc(_text(label, max(6, int(step / 8))))}<title>{_esc(label)}</title></text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 44}" text-anchor="middle" font-size="{_TITLE_PX}" '
        f'font-weight="600" fill="#222">{_esc(by)}</text>'
    )
    parts.append(
        f'<text x="18" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="{_TITLE_PX}" font-weight="600" '
        f'fill="#222" transform="rotate(-90 18 {top + plot_h / 2:.1f})">{_esc(metric)}</text></svg>'
    )
    return "".join(parts)


def _section_axes(df: Any, by: str | None) -> tuple[list[str], str]:
    """The table's varying inputs, and the parameter the plot groups by (default: the first of them)."""
    from ..markup import varying_columns

    vary = [c for c in varying_columns(df) if c != "take"] or (["take"] if "take" in df.columns else [])
    return vary, by if by is not None and by in df.columns else (vary[0] if vary else "job")


def _metrics_head(vary: Sequence[str], columns: Sequence[str], strips: bool) -> str:
    head = ['<th scope="col" data-type="num">job</th>']
    head += [f'<th scope="col">{_esc(c)}</th>' for c in vary]
    head.append('<th scope="col">flags</th>')
    number = ' data-type="num"'
    head += [f'<th scope="col"{"" if c in _TEXT_METRICS else number}>{_esc(c.replace("_", " "))}</th>' for c in columns]
    if strips:
        head.append('<th scope="col">filmstrip</th>')
    return "".join(head)


def _strip_cell(rec: Mapping[str, Any], strip_dir: Path, image_src: Any) -> str:
    """The take's filmstrip (written once into ``strip_dir``), empty when its video cannot be read."""
    strip = ""
    video = rec.get("path")
    if isinstance(video, str) and Path(video).is_file():
        try:
            file = filmstrip_file(video, strip_dir / f"{Path(video).stem}.jpg")
            strip = filmstrip_html(
                image_src(str(file)), alt=f"job {_text(_plain(rec.get('job')))} filmstrip", height=48
            )
        except (InputError, OSError) as exc:
            logger.info("no filmstrip for %s: %s", video, exc)
    return f"<td>{strip}</td>"


def _metrics_row(
    pos: Any, rec: Mapping[str, Any], vary: Sequence[str], columns: Sequence[str], strip: str | None
) -> str:
    job = _plain(rec.get("job"))
    cells = [f'<td class="n" data-v="{_esc(job if job is not None else "")}">{_esc(_text(job))}</td>']
    for c in vary:
        text = _text(rec.get(c), 400)
        wide = " wide" if c in ("prompt", "image", "end_image") else ""
        cells.append(
            f'<td class="txt{wide}" data-v="{_esc(text)}" title="{_esc(text)}">{_esc(_text(rec.get(c), 80))}</td>'
        )
    flags = _flag_list(rec.get("flags"))
    cells.append(f'<td data-v="{_esc(", ".join(flags))}">{flags_html(rec)}</td>')
    for c in columns:
        value = _plain(rec.get(c))
        sort = "" if value is None else str(abs(value) if c == "duration_error" else value)
        cells.append(f'<td class="n" data-v="{_esc(sort)}">{_esc(_fmt(value, c))}</td>')
    if strip is not None:
        cells.append(strip)
    return f'<tr id="sd-metrics-{_esc(pos)}">{"".join(cells)}</tr>'


def metrics_section_html(
    df: Any,
    *,
    metric: str = "motion",
    by: str | None = None,
    image_src: Any = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> str:
    """The report's metrics section: a sortable table of every measured take (flags, metrics, and a filmstrip
    when ``run_dir`` and ``image_src`` — a function from a local image path to a ``src`` — are given) and one
    plot of ``metric`` per value of the parameter ``by`` (default: the first varying input). "" when nothing
    was measured."""

    if "flags" not in df.columns:
        return ""
    if metric not in df.columns:
        _check_metric(df, metric, "metric")
    measured = df[df["frames"].notna()] if "frames" in df.columns else df.iloc[0:0]
    if measured.empty:
        return ""
    vary, by = _section_axes(df, by)
    columns = [c for c in _TABLE_METRICS if c in measured.columns]
    strip_dir = Path(run_dir) / "filmstrips" if run_dir is not None and image_src is not None else None
    body = [
        _metrics_row(pos, rec, vary, columns, _strip_cell(rec, strip_dir, image_src) if strip_dir else None)
        for pos, rec in zip(measured.index, measured.to_dict("records"), strict=True)
    ]
    plot = metric_plot_svg(measured, metric, by) if by in measured.columns else ""
    flagged = sum(1 for f in measured["flags"] if _flag_list(f))
    legend = " · ".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in FLAGS.items())
    return (
        '<section id="metrics"><h2>Metrics</h2>'
        f'<p class="sub">{plural(len(measured), "take")} measured, {flagged} flagged. Click a column header to sort '
        "(duration error sorts by size). Definitions: seedance_nb.quality.VideoMetrics.</p>"
        f'<p class="sub">{legend}</p>'
        f'<figure class="sd-metric-figure"><figcaption>{_esc(metric)} of each take by {_esc(by)} '
        f'(dots: takes; bar: their mean)</figcaption><div class="scroll">{plot}</div></figure>'
        '<div class="scroll"><table class="jobs" id="sd-metrics">'
        f"<thead><tr>{_metrics_head(vary, columns, strip_dir is not None)}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
        f"</section>{_metrics_sort_js()}"
    )


def ranked_cells(
    records: Sequence[Mapping[str, Any]],
    row_keys: Iterable[tuple[Any, ...]],
    cells: Mapping[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]],
    col_keys: Iterable[tuple[Any, ...]],
    by: str,
) -> tuple[tuple[str, ...], list[tuple[Any, ...]], dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]]]:
    """A grid's cells re-laid so each row lists its takes best first by ``by``: returns the new column axis
    (``("rank by <by>",)``), its keys (1, 2, ...) and the cells. The grid then captions what the columns were."""
    col_keys = list(col_keys)
    out: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]] = {}
    width = 0
    for rk in row_keys:
        members = [i for ck in col_keys for i in cells.get((rk, ck), [])]
        order = _sorted_records([{**records[i], "_i": i} for i in members], by)
        for position, rec in enumerate(order, 1):
            out[(rk, (position,))] = [rec["_i"]]
        width = max(width, len(order))
    return (f"rank by {by}",), [(p,) for p in range(1, width + 1)], out


set_public_module(__name__)
