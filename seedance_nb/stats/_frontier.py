"""``frontier``: cost per take against a chosen quality, by group; the Pareto frontier and what to buy next."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._names import set_public_module
from ..duels._fit import _by, _comparisons, group_keys, read_votes
from ..errors import InputError, Problem
from ..markup import esc
from ..statuses import HAS_VIDEO
from ._compare import UNDECIDED, _frame_and_votes, _label, _take_values, compare_groups
from ._tests import davidson_fit

FRONTIER_COLUMNS = ["group", "cost_usd", "quality", "takes", "on_frontier"]


@dataclass(frozen=True)
class CostFrontier:
    """Cost per take against quality by group: the table, the Pareto frontier, and what to buy next.

    A notebook shows it as an SVG plot (frontier joined, other groups grey) with the table and the advice.
    """

    #: One row per group: ``group``, ``cost_usd`` (per take, the endpoint's estimate), ``quality`` (mean),
    #: ``takes``, ``on_frontier`` (no other group is as cheap and at least as good, one of them strictly).
    table: pd.DataFrame
    #: What ``quality`` is ("motion", "rating", "duels", ...).
    quality: str
    #: The cheapest group on the frontier with an undecided comparison, with the takes and cost that would
    #: settle it (None when every comparison of a frontier group is decided).
    next: dict[str, Any] | None = None
    #: The comparisons (:func:`compare_groups`' table) the advice read.
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def svg(self, width: int = 560, height: int = 300) -> str:
        """The plot as inline SVG (no script; every label escaped).

        Args:
            width: pixels.
            height: pixels.
        """
        return frontier_svg(self.table, self.quality, width=width, height=height)

    def _repr_html_(self) -> str:
        advice = (
            f"<p>What to buy next: <b>{esc(self.next['group'])}</b> ({esc(self.next['why'])})</p>"
            if self.next
            else "<p>Every comparison of a group on the frontier is decided.</p>"
        )
        return f"<div>{self.svg()}{advice}{self.table.to_html(index=False)}</div>"


def _quality_by_group(df: pd.DataFrame, columns: list[str], quality: str, run_dir: Any) -> dict[Any, float]:
    if quality == "duels":
        if run_dir is None:
            raise InputError([Problem("quality", "a DataFrame has no votes", quality, "a sweep, or a metric")])
        values, _index, pairs, _counts = _comparisons(df, read_votes(run_dir), columns)
        theta, _cov, _nu = davidson_fit(pairs, len(values))
        return {v: float(theta[i]) if len(theta) else math.nan for i, v in enumerate(values)}
    return {k: float(v.mean()) if len(v) else math.nan for k, v in _take_values(df, columns, quality).items()}


def pareto(cost: Sequence[float], quality: Sequence[float]) -> list[bool]:
    """Which points are on the Pareto frontier of low cost and high quality.

    Args:
        cost: each point's cost.
        quality: each point's quality (NaN is never on it).
    """
    out = []
    for i, (c, q) in enumerate(zip(cost, quality, strict=True)):
        if not (math.isfinite(c) and math.isfinite(q)):
            out.append(False)
            continue
        beaten = any(
            j != i and c2 <= c and q2 >= q and (c2 < c or q2 > q)
            for j, (c2, q2) in enumerate(zip(cost, quality, strict=True))
            if math.isfinite(c2) and math.isfinite(q2)
        )
        out.append(not beaten)
    return out


def _advice(table: pd.DataFrame, comparisons: pd.DataFrame) -> dict[str, Any] | None:
    """The cheapest frontier group with an undecided comparison, and what would settle it."""
    for row in table[table["on_frontier"]].sort_values("cost_usd", kind="stable").to_dict("records"):
        open_ = comparisons[
            ((comparisons["a"] == row["group"]) | (comparisons["b"] == row["group"]))
            & (comparisons["verdict"] == UNDECIDED)
        ]
        if open_.empty:
            continue
        first = open_.iloc[0]
        other = first["b"] if first["a"] == row["group"] else first["a"]
        takes, cost, votes = first["more_takes"], first["more_cost_usd"], first["more_votes"]
        if votes is not None and votes == votes:
            why = f"against {other}: about {int(votes)} more votes would settle it"
        elif takes is not None and takes == takes:
            why = f"against {other}: about {int(takes)} more takes (${float(cost):.2f}) would settle it"
        else:
            why = f"against {other}: no difference seen yet"
        return {"group": row["group"], "against": other, "more_takes": takes, "more_cost_usd": cost, "why": why}
    return None


def frontier(
    sweep: Any, quality: str = "motion", by: str | Sequence[str] = "prompt", *, level: float = 0.95, seed: int = 0
) -> CostFrontier:
    """The Pareto frontier of cost per take against ``quality``, by group, with what to buy next.

    Args:
        sweep: a sweep (metrics measured first) or a DataFrame like ``sweep.df``.
        quality: a metric column, ``"rating"`` or ``"duels"`` (the Davidson strength from the votes).
        by: the group column(s): prompt, resolution, duration, endpoint, ...
        level: the confidence of the comparisons behind the advice (:func:`compare_groups`).
        seed: the seed of their resampling.
    """
    df, run_dir = _frame_and_votes(sweep)
    columns = _by(by, df)
    if "est_cost_usd" not in df.columns:
        raise InputError([Problem("sweep", "no est_cost_usd column", None, "a sweep's df")])
    done = df[df["status"].isin(HAS_VIDEO)] if "status" in df.columns else df
    keys = group_keys(done, columns)
    cost = pd.to_numeric(done["est_cost_usd"], errors="coerce").groupby(pd.Series(keys, index=done.index)).mean()
    takes = pd.Series(keys).value_counts()
    scores = _quality_by_group(done, columns, quality, run_dir)
    groups = list(dict.fromkeys(keys))
    rows = [
        {
            "group": _label(g),
            "cost_usd": float(cost.get(g, np.nan)),
            "quality": scores.get(g, math.nan),
            "takes": int(takes.get(g, 0)),
        }
        for g in groups
    ]
    table = pd.DataFrame(rows, columns=FRONTIER_COLUMNS[:-1])
    table["on_frontier"] = pareto(table["cost_usd"].tolist(), table["quality"].tolist())
    table = table.sort_values(["cost_usd", "quality"], ascending=[True, False], kind="stable").reset_index(drop=True)
    source = sweep if quality == "duels" else done
    comparisons = compare_groups(source, columns, quality, level=level, seed=seed) if len(groups) > 1 else None
    comparisons = comparisons if comparisons is not None else pd.DataFrame(columns=["a", "b", "verdict"])
    table.attrs.update(by=columns, quality=quality)
    return CostFrontier(table, quality, _advice(table, comparisons) if len(comparisons) else None, comparisons)


def frontier_svg(table: pd.DataFrame, quality: str, *, width: int = 560, height: int = 300) -> str:
    """Cost per take (x) against quality (y): frontier groups joined in order of cost, the others grey.

    Args:
        table: :class:`CostFrontier`'s table.
        quality: the y axis's name.
        width: pixels.
        height: pixels.
    """
    points = table.dropna(subset=["cost_usd", "quality"])
    if points.empty:
        return ""
    left, right, top, bottom = 56, 16, 16, 40
    x0, x1 = float(points["cost_usd"].min()), float(points["cost_usd"].max())
    y0, y1 = float(points["quality"].min()), float(points["quality"].max())
    xs = (x1 - x0) or max(abs(x1), 1e-9)
    ys = (y1 - y0) or max(abs(y1), 1e-9)

    def px(c: float, q: float) -> tuple[float, float]:
        x = left + (c - x0 + xs * 0.05) / (xs * 1.1) * (width - left - right)
        y = height - bottom - (q - y0 + ys * 0.05) / (ys * 1.1) * (height - top - bottom)
        return round(x, 1), round(y, 1)

    parts = [
        f'<svg class="sd-frontier" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(quality)} against cost per take">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>',
        f'<text x="{(width + left) / 2}" y="{height - 8}" text-anchor="middle" font-size="12">cost per take (USD)'
        "</text>",
        f'<text x="14" y="{(height - bottom) / 2}" font-size="12" transform="rotate(-90 14 {(height - bottom) / 2})" '
        f'text-anchor="middle">{esc(quality)}</text>',
    ]
    on = points[points["on_frontier"]].sort_values("cost_usd")
    if len(on) > 1:
        line = " ".join(f"{x},{y}" for x, y in (px(c, q) for c, q in zip(on["cost_usd"], on["quality"], strict=True)))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1a7f37" stroke-width="2"/>')
    for rec in points.to_dict("records"):
        x, y = px(float(rec["cost_usd"]), float(rec["quality"]))
        colour = "#1a7f37" if rec["on_frontier"] else "#999"
        label = esc(str(rec["group"])[:40])
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="5" fill="{colour}"><title>{label}: ${rec["cost_usd"]:.3f}, '
            f"{esc(quality)} {rec['quality']:.3g}</title></circle>"
            f'<text x="{x + 7}" y="{y - 7}" font-size="11">{label}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


set_public_module(__name__)
