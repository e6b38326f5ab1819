"""The report's timeline: each job's queue wait and generation as bars on one time axis."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import markup as m
from .._names import set_public_module
from ..markup import esc as _e
from ..statuses import JobStatus


def _nice_step(total: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if total / step <= 8:
            return step
    return 10.0 ** math.ceil(math.log10(total / 8))


#: One job on the timeline: its position, its row, and when (s from the first submission) it was queued, started
#: and ended (None: unknown, or not yet).
_Span = tuple[int, Any, float | None, float | None, float | None]


def _span_of(pos: int, row: Any, stamps: Mapping[str, pd.Series], t0: Any) -> _Span:
    if str(row.get("status") or "") == JobStatus.CACHED:
        return (pos, row, None, None, None)
    q0 = q1 = g1 = None
    if not m.is_missing(t0) and not m.is_missing(stamps["submitted_at"].iloc[pos]):
        n = len(stamps["submitted_at"])
        q0 = (stamps["submitted_at"].iloc[pos] - t0).total_seconds()
        started = stamps.get("started_at", pd.Series([pd.NaT] * n)).iloc[pos]
        done = stamps.get("completed_at", pd.Series([pd.NaT] * n)).iloc[pos]
        q1 = (started - t0).total_seconds() if not m.is_missing(started) else None
        g1 = (done - t0).total_seconds() if not m.is_missing(done) else None
        if q1 is None and g1 is not None:
            q1 = g1  # it ended (failed or cancelled) without ever starting
    elif not m.is_missing(row.get("queue_seconds")):
        q0 = 0.0
        q1 = float(row["queue_seconds"])
        gen: Any = row.get("generation_seconds")
        g1 = q1 + float(gen) if not m.is_missing(gen) else None
    return (pos, row, q0, q1, g1)


def _timeline_spans(df: pd.DataFrame) -> list[_Span]:
    stamps = {
        c: pd.to_datetime(df[c], errors="coerce", utc=True)
        for c in ("submitted_at", "started_at", "completed_at")
        if c in df
    }
    fresh = (df["status"] != JobStatus.CACHED).to_numpy() if "status" in df else [True] * len(df)
    t0: Any = stamps["submitted_at"][fresh].min() if "submitted_at" in stamps else pd.NaT
    return [_span_of(pos, row, stamps, t0) for pos, (_, row) in enumerate(df.iterrows())]


def _pct(t: float, total: float) -> str:
    return f"{100 * max(0.0, min(t, total)) / total:.2f}%"


def _timeline_axis(total: float) -> str:
    ticks = []
    step = _nice_step(total)
    tick = 0.0
    while tick <= total + 1e-9:
        ticks.append(f'<span style="left:{_pct(tick, total)}">{_e(m.fmt_seconds(tick))}</span>')
        tick += step
    return f'<div class="tl-row tl-axis"><span></span><div class="tl-track">{"".join(ticks)}</div><span></span></div>'


def _timeline_bars(span: _Span, status: str, tip: str, total: float) -> str:
    _, _, q0, q1, g1 = span
    assert q0 is not None

    def bar(cls: str, start: float, end: float) -> str:
        left, right = _pct(start, total), _pct(end, total)
        return f'<div class="{cls}" style="left:{left};width:calc({right} - {left})" title="{_e(tip)}"></div>'

    bars = [bar("tl-queue" + (" tl-open" if q1 is None else ""), q0, q1 if q1 is not None else total)]
    if q1 is not None and (g1 is None or g1 > q1):
        kind = " tl-failed" if status == JobStatus.FAILED else " tl-cancelled" if status == JobStatus.CANCELLED else ""
        bars.append(bar(f"tl-gen{kind}", q1, g1 if g1 is not None else total))
    return "".join(bars)


def _timeline_row(span: _Span, total: float) -> str:
    pos, row, q0, q1, g1 = span
    status = str(row.get("status") or "")
    job = m.as_text(row.get("job", pos))
    tip = (
        f"#{job} · {status} · queue {m.fmt_seconds(row.get('queue_seconds'))}"
        f" · generation {m.fmt_seconds(row.get('generation_seconds'))}"
    )
    label = f'<a class="tl-label" href="#sd-job-{pos}" title="{_e(tip)}">#{_e(_short_label(job))}</a>'
    if q0 is None:
        note = "cached (made in an earlier run)" if status == JobStatus.CACHED else status or "no timing"
        track, end_label = "", note
    else:
        track = _timeline_bars(span, status, tip, total)
        if g1 is None:  # still waiting or running: the bar runs to the end of the chart
            end_label = f"{status}, {m.fmt_seconds(total - q0)} so far" if status else m.fmt_seconds(total - q0)
        else:
            end_label = m.fmt_seconds(max(v for v in (q0, q1, g1) if v is not None) - q0)
    return (
        f'<div class="tl-row" data-status="{_e(status)}">{label}<div class="tl-track">{track}</div>'
        f'<span class="tl-end">{_e(end_label)}</span></div>'
    )


def _timeline(df: pd.DataFrame) -> str:
    """Each job's queue wait and generation as bars on one time axis (HTML, so the text stays readable at any
    width). Cached jobs ran in an earlier run: they are listed, not drawn."""
    spans = _timeline_spans(df)
    ends: list[float] = [x for _, _, q0, q1, g1 in spans for x in (q0, q1, g1) if x is not None]
    if not ends:
        return ""
    total = max(ends) or 1.0
    rows = [
        '<div class="timeline" role="img" aria-label="queue wait and generation time of each job">',
        _timeline_axis(total),
        *(_timeline_row(span, total) for span in spans),
        "</div>",
    ]
    legend = (
        '<div class="legend"><span><i style="background:var(--queue)"></i>queue wait</span>'
        '<span><i style="background:var(--gen)"></i>generation</span>'
        '<span><i style="background:var(--fail)"></i>failed</span></div>'
    )
    return f'<section id="timeline"><h2>Timeline</h2>{legend}<div class="scroll">{"".join(rows)}</div></section>'


def _short_label(text: str) -> str:
    return text if len(text) <= 16 else text[:15] + "…"


set_public_module(__name__)
