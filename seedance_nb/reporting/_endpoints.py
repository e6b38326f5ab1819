"""The report's "By endpoint" section: cost, time, metrics and ratings of each endpoint side by side; and, for a
round that promoted takes, each promoted take linked to its draft.

:func:`endpoint_table` is the same comparison as a DataFrame (the "Which model?" tutorial's cost/quality table).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .. import markup as m
from .._names import set_public_module
from ..columns import LINK_COLUMNS
from ..markup import esc as _e
from ..statuses import HAS_VIDEO

__all__ = ["endpoint_table"]

#: Metrics shown per endpoint when they were measured (the mean over its videos).
_METRICS = ("motion", "flicker", "start_fidelity", "duration_error")


def _mean(series: pd.Series) -> float | None:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return None if values.empty else round(float(values.mean()), 4)


def endpoint_table(sweep_or_df: Any) -> pd.DataFrame:
    """One row per endpoint of a sweep: its videos, what they cost (estimated and billed), how long they took,
    their mean metrics and ratings; cheapest first.

    Args:
        sweep_or_df: a sweep, or its DataFrame (``endpoint`` and ``model`` columns).
    """
    df = m.frame_of(sweep_or_df)
    rows = []
    if "endpoint" not in df.columns:
        empty: pd.DataFrame = pd.DataFrame(columns=["endpoint", "model", "videos", "est_cost_usd", "cost_usd"])
        return empty
    for endpoint, part in df.groupby("endpoint", sort=False, dropna=True):
        done = part[part["status"].isin(HAS_VIDEO)] if "status" in part else part
        row: dict[str, Any] = {
            "endpoint": endpoint,
            "model": part["model"].iloc[0] if "model" in part else endpoint,
            "videos": len(done),
            "jobs": len(part),
            "est_cost_usd": round(float(pd.to_numeric(part["est_cost_usd"], errors="coerce").sum()), 6),
            "cost_usd": round(float(pd.to_numeric(part["cost_usd"], errors="coerce").sum()), 6),
            "usd_per_video": None,
            "generation_seconds": _mean(done.get("generation_seconds", pd.Series(dtype=float))),
            "queue_seconds": _mean(done.get("queue_seconds", pd.Series(dtype=float))),
        }
        spent = row["cost_usd"] or row["est_cost_usd"]
        row["usd_per_video"] = round(spent / len(done), 6) if len(done) else None
        for name in _METRICS:
            if name in done.columns:
                row[name] = _mean(done[name])
        ratings = pd.to_numeric(done.get("rating", pd.Series(dtype=float)), errors="coerce").dropna()
        row["rating"] = round(float(ratings.mean()), 3) if len(ratings) else None
        row["rated"] = len(ratings)
        rows.append(row)
    table: pd.DataFrame = pd.DataFrame(rows).sort_values("est_cost_usd", kind="stable").reset_index(drop=True)
    return table


def _cell(value: Any, money: bool = False) -> str:
    if value is None or m.is_missing(value):
        return "–"
    if money:
        return f"${float(value):.4f}"
    return _e(f"{value:.3g}" if isinstance(value, float) else value)


def by_endpoint_section(df: pd.DataFrame) -> str:
    """The "By endpoint" section ("" unless the jobs ran on more than one endpoint).

    Args:
        df: the sweep's DataFrame.
    """
    if "endpoint" not in df.columns or df["endpoint"].nunique(dropna=True) < 2:
        return ""
    table = endpoint_table(df)
    shown = [c for c in table.columns if c not in ("endpoint",) and table[c].notna().any()]
    head = "".join(f"<th>{_e(c)}</th>" for c in shown)
    body = []
    for _, row in table.iterrows():
        cells = "".join(
            f"<td>{_cell(row[c], money=c.endswith('usd') or c == 'usd_per_video')}</td>"
            if c != "model"
            else f'<td title="{_e(row["endpoint"])}">{_e(row[c])}</td>'
            for c in shown
        )
        body.append(f'<tr data-endpoint="{_e(row["endpoint"])}">{cells}</tr>')
    return (
        '<section id="by-endpoint"><h2>By endpoint</h2>'
        "<p>Each endpoint's videos side by side: cost (estimated at its own price, and billed), time, the mean "
        "metrics and ratings of its finished videos.</p>"
        f'<table class="sd-by-endpoint"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        "</section>"
    )


def promoted_section(df: pd.DataFrame, run_dir: Path | None) -> str:
    """The "Promoted from" section: each promoted take beside its draft in the parent run ("" for other runs).

    Args:
        df: the sweep's DataFrame.
        run_dir: the run folder (its ``round.json`` names the parent).
    """
    column = LINK_COLUMNS[0]
    info = _round_info(run_dir)
    links = info.get(column)
    if not isinstance(links, list):
        return ""
    parent = Path(str(info.get("parent") or ""))
    parent_name = str(info.get("parent_name") or parent.name)
    report = parent / "report.html"
    href = os.path.relpath(report, run_dir) if run_dir is not None and report.is_file() else None
    where = f'<a href="{_e(href)}">{_e(parent_name)}</a>' if href else _e(parent_name)
    items = []
    for _, row in df.iterrows():
        job = int(row["job"])
        draft = links[job] if job < len(links) else None
        model = row.get("model") or row.get("endpoint") or ""
        items.append(
            f'<tr data-job="{job}" data-draft="{_e(draft)}"><td>{job}</td><td>{_e(model)}</td>'
            f"<td>{_e(row.get('resolution'))}</td><td>draft job {_e(draft)} of {where}</td></tr>"
        )
    return (
        '<section id="promoted"><h2>Promoted from</h2>'
        "<p>Each take here runs a draft again with the same prompt, image and seed.</p>"
        "<table><thead><tr><th>job</th><th>model</th><th>resolution</th><th>draft</th></tr></thead>"
        f"<tbody>{''.join(items)}</tbody></table></section>"
    )


def _round_info(run_dir: Path | None) -> dict[str, Any]:
    path = Path(run_dir) / "round.json" if run_dir is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


set_public_module(__name__)
