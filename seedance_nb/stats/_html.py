"""The report's "Is the difference real?" section: the winner marked, every pair's verdict, the frontier."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..markup import esc, varying_columns
from ..quality._measuring import HIGHER_IS_BETTER
from ._compare import REAL, compare_groups
from ._frontier import frontier

#: The report compares at most this many groups (66 pairs); beyond, call compare_groups for the pairs you need.
MAX_GROUPS = 12


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def winner_note(table: pd.DataFrame, means: dict[str, float], metric: str) -> str:
    """One sentence on the best group by ``metric``: whether it is really ahead of the runner-up, or not yet.

    Args:
        table: :func:`compare_groups`' table.
        means: each group's mean.
        metric: the metric (its natural direction decides "best").
    """
    ranked = sorted(means, key=lambda g: means[g], reverse=HIGHER_IS_BETTER.get(metric, True))
    if len(ranked) < 2:
        return ""
    best, second = ranked[0], ranked[1]
    pair = table[((table["a"] == best) & (table["b"] == second)) | ((table["a"] == second) & (table["b"] == best))]
    if pair.empty:
        return ""
    row = pair.iloc[0]
    if row["verdict"] == REAL:
        return f"Best by {esc(metric)}: <b>{esc(best)}</b>, really ahead of {esc(second)}."
    more = row["more_takes"]
    settle = (
        f" About {int(more)} more takes (${float(row['more_cost_usd']):.2f}) would settle it."
        if more is not None and more == more
        else ""
    )
    return (
        f'Best by {esc(metric)}: <b>{esc(best)}</b> <span class="sd-undecided">not yet distinguishable</span> '
        f"from {esc(second)}: the difference is within the spread between re-rolls.{settle}"
    )


def noise_section_html(df: pd.DataFrame, *, metric: str = "motion", by: str | None = None) -> str:
    """The report's section on whether the differences between groups are real, and cost against quality
    ("" when fewer than two groups have the metric).

    Args:
        df: the sweep's DataFrame (measured).
        metric: the metric compared.
        by: the group column (default: the first varying input other than the seed).
    """
    if metric not in df.columns:
        return ""
    vary = [c for c in varying_columns(df) if c not in ("take", "seed")]
    column = by or (vary[0] if vary else None)
    if column is None or column not in df.columns or df[column].astype(str).nunique() > MAX_GROUPS:
        return ""
    table = compare_groups(df, column, metric)
    if table.empty:
        return ""
    means = {
        **dict(zip(table["a"], table["mean_a"], strict=True)),
        **dict(zip(table["b"], table["mean_b"], strict=True)),
    }
    cost = frontier(df, metric, column) if "est_cost_usd" in df.columns else None
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(_fmt(v))}</td>" for v in rec.values()) + "</tr>" for rec in table.to_dict("records")
    )
    advice = ""
    if cost is not None and cost.next:
        advice = f"<p>What to buy next: <b>{esc(cost.next['group'])}</b> ({esc(cost.next['why'])}).</p>"
    return (
        '<section id="noise"><h2>Is the difference real?</h2>'
        f'<p class="sub">{esc(metric)} by {esc(column)}: each pair against the spread between re-rolls of one '
        "cell (permutation test over takes, Holm-adjusted; seedance_nb.compare_groups).</p>"
        f"<p>{winner_note(table, means, metric)}</p>"
        f'<div class="scroll"><table class="jobs"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        f"<h3>Cost per take against {esc(metric)}</h3>"
        f'<div class="scroll">{cost.svg() if cost is not None else ""}</div>{advice}</section>'
    )
