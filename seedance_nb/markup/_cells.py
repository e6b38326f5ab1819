"""A grid cell's text: short labels for long values, the varying inputs, a job's meta line, headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .._names import set_public_module
from ._status import ESTIMATED, NO_CHARGE, PAID, JobStatus
from ._text import (
    _ROW_FIRST,
    as_text,
    distinct_labels,
    esc,
    fmt_seconds,
    fmt_usd,
    is_loopback_url,
    is_missing,
    plain,
    shorten,
)

# --------------------------------------------------------------------------- cells


#: Text columns whose long values are told apart by their differing part (:func:`distinct_labels`).
_TEXT_COLUMNS = ("prompt", "image", "end_image")
ShortMap = Mapping[str, Mapping[Any, str]]


def short_maps(df: pd.DataFrame, columns: Iterable[str] = _TEXT_COLUMNS, limit: int = 80) -> dict[str, dict[Any, str]]:
    """For each long-text column, each distinct value → its short label (shared prefixes elided)."""
    out: dict[str, dict[Any, str]] = {}
    for c in columns:
        if c in df.columns:
            values = list(dict.fromkeys(plain(v) for v in df[c]))
            out[c] = dict(zip(values, distinct_labels(values, limit), strict=True))
    return out


def _value_html(column: str, value: Any, short: ShortMap | None, limit: int) -> str:
    full = as_text(value)
    label = (short or {}).get(column, {}).get(plain(value))
    label = label if label is not None else shorten(full, limit)
    if label == full:
        return esc(full)
    return f'<span title="{esc(full)}">{esc(label)}</span>'


def pairs_html(row: Mapping[str, Any], columns: Sequence[str], short: ShortMap | None = None) -> str:
    parts = []
    for c in columns:
        limit = 80 if c in _ROW_FIRST else 40
        parts.append(f'<span class="sd-k">{esc(c)}</span> {_value_html(c, row.get(c), short, limit)}')
    return " · ".join(parts)


def meta_text(row: Mapping[str, Any], backend: str | None = None) -> str:
    bits = []
    if not is_missing(row.get("queue_seconds")):
        bits.append(f"queue {fmt_seconds(row['queue_seconds'])}")
    if not is_missing(row.get("generation_seconds")):
        bits.append(f"gen {fmt_seconds(row['generation_seconds'])}")
    status = str(row.get("status") or "")
    cost = row.get("est_cost_usd")
    row_backend = row.get("backend") if not is_missing(row.get("backend")) else backend
    if row_backend is None and is_loopback_url(row.get("video_url")):
        row_backend = "emulator"  # an older run folder that names no backend
    if status == JobStatus.CACHED:
        bits.append("cached, no charge")
    elif row_backend == "emulator" and status not in NO_CHARGE:
        bits.append("emulated, nothing billed")
    elif status in ESTIMATED and not is_missing(cost):
        bits.append(f"est. {fmt_usd(cost)}")
    elif status in PAID and not is_missing(cost):
        bits.append(fmt_usd(cost))  # fal bills finished jobs only
    return " · ".join(bits)


def job_label(row: Mapping[str, Any]) -> str:
    """``#3`` (``#3 take 2`` for a later take): the number ``sweep.rate()`` and the widgets take."""
    job = row.get("job")
    if is_missing(job):
        return ""
    take = plain(row.get("take"))
    return f"#{as_text(job)}" + (f" take {take}" if isinstance(take, int) and take > 1 else "")


def axis_columns(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (spec,)
    return tuple(spec)


def header_html(columns: Sequence[str], key: tuple[Any, ...], *, limit: int, short: ShortMap | None = None) -> str:
    if not columns:
        return ""
    lines = []
    for c, v in zip(columns, key, strict=True):
        value = _value_html(c, v, short, limit)
        if len(columns) == 1 and c in _ROW_FIRST:
            lines.append(value)
        else:
            lines.append(f'<span class="sd-k">{esc(c)}</span> {value}')
    return "<br>".join(lines)


set_public_module(__name__)
