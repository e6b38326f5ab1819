"""The run's numbers (totals, cost, the summary chips) and the live job table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._names import set_public_module
from .._text import plural
from ._status import STATUS_ORDER, JobStatus
from ._text import distinct_labels, esc, fmt_seconds, fmt_usd, is_missing


def backend_header(backend: str | None) -> str:
    """One chip naming where the videos came from (a grid's header); empty when unknown."""
    if not backend:
        return ""
    note = " · emulated, nothing billed" if backend == "emulator" else " · billed by fal"
    return (
        f'<div class="sd-out"><div class="sd-summary"><span class="sd-chip sd-backend" data-backend="{esc(backend)}">'
        f"{esc(backend)}{note}</span></div></div>"
    )


def _sum(df: pd.DataFrame, column: str, mask: Any = None) -> float:
    if column not in df.columns:
        return 0.0
    series = pd.to_numeric(df[column] if mask is None else df.loc[mask, column], errors="coerce")
    total = series.sum(skipna=True)
    return float(total) if not math.isnan(total) else 0.0


def totals(df: pd.DataFrame, backend: str | None = None) -> dict[str, Any]:
    """Counts by status, cost and time of THIS run (shared by the summary, the report and the CLI).

    A cached job was made (and paid) by an earlier run: it counts as cached, adds nothing to the cost, and its
    original timings stay out of this run's generation sum and wall clock. On the emulator nothing is billed:
    ``cost_usd`` is 0 and ``would_cost_usd`` says what fal would have charged.
    """
    unknown = JobStatus.UNKNOWN.value
    status = df["status"].fillna(unknown).astype(str) if "status" in df.columns else pd.Series([unknown] * len(df))
    counts = {k: int(v) for k, v in status.value_counts(sort=False).items()}
    completed = (status == JobStatus.COMPLETED).to_numpy()
    fresh = (status != JobStatus.CACHED).to_numpy()
    wall = None
    if "submitted_at" in df.columns and "completed_at" in df.columns and fresh.any():
        start = pd.to_datetime(df.loc[fresh, "submitted_at"], errors="coerce", utc=True).min()
        end = pd.to_datetime(df.loc[fresh, "completed_at"], errors="coerce", utc=True).max()
        if not is_missing(start) and not is_missing(end):
            wall = max(0.0, (end - start).total_seconds())
    billed = _sum(df, "est_cost_usd", completed)
    emulated = backend == "emulator"
    # What fal said the completed jobs cost (x-fal-billable-units), where it said it; estimates for the rest.
    actual_known = completed & df["cost_usd"].notna().to_numpy() if "cost_usd" in df.columns else completed & False
    return {
        "actual_usd": _sum(df, "cost_usd", actual_known) if actual_known.any() else None,
        "actual_jobs": int(actual_known.sum()),
        "estimated_rest_usd": _sum(df, "est_cost_usd", completed & ~actual_known),
        "jobs": len(df),
        "by_status": counts,
        "backend": backend,
        "emulated": emulated,
        "cost_usd": 0.0 if emulated else billed,
        "would_cost_usd": billed,
        "estimated_usd": _sum(df, "est_cost_usd"),
        "generation_seconds": _sum(df, "generation_seconds", fresh),
        "queue_seconds": _sum(df, "queue_seconds", fresh),
        "video_seconds": _sum(df, "video_seconds"),
        "wall_seconds": wall,
        "cached": counts.get(JobStatus.CACHED, 0),
    }


def cost_text(t: Mapping[str, Any]) -> str:
    """The cost line: ``emulated, nothing billed`` on the emulator, else the completed jobs' estimated cost."""
    cached = f"; {t['cached']} cached, no charge" if t.get("cached") else ""
    if t.get("emulated"):
        return f"emulated, nothing billed (about {fmt_usd(t['would_cost_usd'])} on fal){cached}"
    if t.get("actual_usd") is not None:
        rest = t["by_status"].get(JobStatus.COMPLETED, 0) - t["actual_jobs"]
        estimated = f" + {fmt_usd(t['estimated_rest_usd'])} estimated for {rest} more" if rest else ""
        return f"{fmt_usd(t['actual_usd'])} billed by fal for {plural(t['actual_jobs'], 'job')}{estimated}{cached}"
    return f"{fmt_usd(t['cost_usd'])} (estimated, completed jobs){cached}"


def summary_body(df: pd.DataFrame, backend: str | None = None) -> str:
    t = totals(df, backend)
    order = {str(status): n for n, status in enumerate(STATUS_ORDER)}
    statuses = sorted(t["by_status"], key=lambda s: order.get(s, len(order)))
    chips = []
    if backend:
        chips.append(f'<span class="sd-chip sd-backend" data-backend="{esc(backend)}">{esc(backend)}</span>')
    chips.append(f'<span class="sd-chip"><b>{t["jobs"]}</b> jobs</span>')
    chips += [f'<span class="sd-chip sd-{esc(s)}"><b>{t["by_status"][s]}</b> {esc(s)}</span>' for s in statuses]
    chips.append(f'<span class="sd-chip sd-cost">cost <b>{esc(cost_text(t))}</b></span>')
    chips.append(f'<span class="sd-chip">generation <b>{fmt_seconds(t["generation_seconds"])}</b> (sum)</span>')
    if t["wall_seconds"] is not None:
        chips.append(f'<span class="sd-chip">wall clock <b>{fmt_seconds(t["wall_seconds"])}</b></span>')
    return f'<div class="sd-summary">{"".join(chips)}</div>'


def jobs_table(jobs: Sequence[Any], *, over: bool, now: float) -> str:
    """The live job board's table (:class:`seedance_nb.widgets.JobBoard`): one row per job of a sweep.

    Args:
        jobs: the sweep's :class:`seedance_nb.Job` objects, in job order.
        over: whether the run has ended (a job still without an end time then shows no elapsed time).
        now: the current time (epoch seconds), the end of a running job's elapsed time.
    """
    prompts = distinct_labels([j.input.prompt for j in jobs], 50)
    rows = []
    for j, prompt in zip(jobs, prompts, strict=True):
        start = j.submitted_at
        end = j.completed_at or (now if start and not over else None)
        elapsed = f"{end - start:.1f} s" if start and end else ""
        where = str(j.queue_position) if j.status == JobStatus.SUBMITTED and j.queue_position is not None else ""
        seed = j.input.seed if j.input.seed is not None else ""
        rows.append(
            f'<tr data-status="{esc(j.status)}"><td>#{j.job}</td>'
            f'<td title="{esc(j.input.prompt)}">{esc(prompt)}</td>'
            f"<td>{esc(j.input.duration)}</td><td>{esc(seed)}</td>"
            f"<td>{esc(j.status)}</td><td>{where}</td><td>{elapsed}</td>"
            f'<td title="{esc(j.error or "")}">{esc((j.error or "")[:120])}</td></tr>'
        )
    return (
        "<style>.seedance-jobtable td,.seedance-jobtable th{padding:2px 8px;text-align:left;"
        "vertical-align:top}</style>"
        '<div style="overflow-x:auto;max-width:100%">'
        '<table class="seedance-jobtable" style="border-collapse:collapse;font-size:12px">'
        "<thead><tr><th>#</th><th>prompt</th><th>dur</th><th>seed</th><th>status</th><th>queue</th>"
        f"<th>elapsed</th><th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


set_public_module(__name__)
