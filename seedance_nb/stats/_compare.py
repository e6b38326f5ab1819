"""``compare_groups``: for each pair of groups, is the difference larger than the spread between re-rolls?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .._names import set_public_module
from ..duels._fit import _by, _comparisons, group_keys, read_votes
from ..errors import InputError, Problem
from ..statuses import HAS_VIDEO
from ._tests import bootstrap_interval, davidson_fit, holm, permutation_p, takes_to_settle

#: The verdicts.
REAL, UNDECIDED = "real", "not yet distinguishable"
#: What a comparison can be measured by, besides a metric column.
SCORES = ("rating", "duels")
COMPARE_COLUMNS = [
    "a",
    "b",
    "takes_a",
    "takes_b",
    "mean_a",
    "mean_b",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "more_takes",
    "more_cost_usd",
    "more_votes",
]


def _frame_and_votes(source: Any) -> tuple[pd.DataFrame, Any]:
    """A DataFrame (a sweep's measured one, or the one given) and where its votes are (a run folder or None)."""
    if isinstance(source, pd.DataFrame):
        return source, None
    measured = getattr(source, "_measured_df", None)
    df = measured() if callable(measured) else getattr(source, "df", None)
    if not isinstance(df, pd.DataFrame):
        raise InputError([Problem("sweep", "not a sweep or a DataFrame", type(source).__name__, "sweep or sweep.df")])
    return df, getattr(source, "run_dir", None)


def _label(value: Any) -> str:
    return " / ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _take_values(df: pd.DataFrame, columns: list[str], metric: str) -> dict[Any, np.ndarray]:
    """Each group's take values of ``metric`` (finished takes with a value), groups in order of appearance."""
    if metric not in df.columns:
        known = ", ".join(c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]))
        raise InputError([Problem("metric", f"no column {metric!r}", metric, f"{known}, 'rating' or 'duels'")])
    done = df[df["status"].isin(HAS_VIDEO)] if "status" in df.columns else df
    values = pd.to_numeric(done[metric], errors="coerce")
    out: dict[Any, list[float]] = {}
    for key, value in zip(group_keys(done, columns), values.tolist(), strict=True):
        out.setdefault(key, [])
        if value == value:  # not NaN
            out[key].append(float(value))
    return {k: np.asarray(v, float) for k, v in out.items()}


def _cost_per_take(df: pd.DataFrame, columns: list[str]) -> dict[Any, float]:
    """Each group's estimated cost of one more take (the endpoint's estimate, ``est_cost_usd``)."""
    if "est_cost_usd" not in df.columns:
        return {}
    costs: dict[Any, list[float]] = {}
    for key, value in zip(group_keys(df, columns), pd.to_numeric(df["est_cost_usd"], errors="coerce"), strict=True):
        if value == value:
            costs.setdefault(key, []).append(float(value))
    return {k: float(np.median(v)) for k, v in costs.items()}


def _pooled_spread(groups: dict[Any, np.ndarray]) -> float:
    """The standard deviation between re-rolls of one cell, pooled over every group with two or more takes."""
    ss = sum(float(((v - v.mean()) ** 2).sum()) for v in groups.values() if len(v) >= 2)
    dof = sum(len(v) - 1 for v in groups.values() if len(v) >= 2)
    return math.sqrt(ss / dof) if dof else float("nan")


def _metric_rows(df: pd.DataFrame, columns: list[str], metric: str, level: float, seed: int) -> list[dict[str, Any]]:
    groups = _take_values(df, columns, metric)
    keys = [k for k, v in groups.items() if len(v)]
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    alpha = (1 - level) / max(1, len(pairs))
    spread, cost = _pooled_spread(groups), _cost_per_take(df, columns)
    rng = np.random.default_rng(seed)
    rows = []
    for a, b in pairs:
        xa, xb = groups[a], groups[b]
        effect = float(xa.mean() - xb.mean())
        row: dict[str, Any] = {"a": _label(a), "b": _label(b), "takes_a": len(xa), "takes_b": len(xb)}
        row.update(mean_a=float(xa.mean()), mean_b=float(xb.mean()), effect=effect)
        row["ci_low"], row["ci_high"] = bootstrap_interval(xa, xb, 1 - alpha, rng)
        row["p_value"] = permutation_p(xa, xb, rng)
        need = takes_to_settle(effect, spread, alpha)
        row["_need"], row["_cost"] = need, (cost.get(a, math.nan), cost.get(b, math.nan))
        rows.append(row)
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_adjusted"] = adjusted
        row["verdict"] = REAL if adjusted <= 1 - level else UNDECIDED
        need, (cost_a, cost_b) = row.pop("_need"), row.pop("_cost")
        more_a: int | None
        more_b: int | None
        if row["verdict"] == REAL:
            more_a = more_b = 0
        elif need is None:
            more_a = more_b = None
        else:
            more_a, more_b = max(0, need - row["takes_a"]), max(0, need - row["takes_b"])
        row["more_takes"] = None if more_a is None or more_b is None else more_a + more_b
        row["more_cost_usd"] = None if more_a is None or more_b is None else round(more_a * cost_a + more_b * cost_b, 4)
        row["more_votes"] = None
    return rows


def _duel_rows(df: pd.DataFrame, columns: list[str], votes: pd.DataFrame, level: float) -> list[dict[str, Any]]:
    values, _index, pairs, counts = _comparisons(df, votes, columns)
    theta, cov, _nu = davidson_fit(pairs, len(values))
    m = len(values) * (len(values) - 1) // 2
    alpha = (1 - level) / max(1, m)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    rows = []
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            effect = float(theta[i] - theta[j]) if len(theta) else 0.0
            var = float(cov[i, i] + cov[j, j] - 2 * cov[i, j]) if len(theta) else math.inf
            se = math.sqrt(max(var, 0.0))
            p = 2 * (1 - NormalDist().cdf(abs(effect) / se)) if se > 0 else 1.0
            voted = int(counts["votes"].get(values[i], 0) + counts["votes"].get(values[j], 0))
            real = se > 0 and abs(effect) > z * se
            more = 0 if real else (None if not effect else max(1, math.ceil(voted * ((z * se / effect) ** 2 - 1))))
            rows.append(
                {
                    "a": _label(values[i]),
                    "b": _label(values[j]),
                    "takes_a": int(counts["videos"].get(values[i], 0)),
                    "takes_b": int(counts["videos"].get(values[j], 0)),
                    "mean_a": float(theta[i]),
                    "mean_b": float(theta[j]),
                    "effect": effect,
                    "ci_low": effect - z * se,
                    "ci_high": effect + z * se,
                    "p_value": min(1.0, p),
                    "p_adjusted": min(1.0, p * m),
                    "verdict": REAL if real else UNDECIDED,
                    "more_takes": None,
                    "more_cost_usd": 0.0,  # votes cost nothing
                    "more_votes": more,
                }
            )
    return rows


def compare_groups(
    sweep: Any,
    by: str | Sequence[str] = "prompt",
    metric: str = "motion",
    *,
    level: float = 0.95,
    seed: int = 0,
    votes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """For each pair of groups (e.g. prompts), whether their difference is larger than the spread between re-rolls
    of the same cell: one row per pair, most certain first.

    For a metric or ``"rating"``: the effect is the difference in mean over the takes; the verdict is an exact
    permutation test over the takes (Monte Carlo beyond 20,000 splits), Holm-adjusted over all the pairs; the
    interval is a percentile bootstrap at the Bonferroni-adjusted level; ``more_takes`` is how many more takes (both
    groups together) would separate this effect at the pooled re-roll spread with 80 % power, ``more_cost_usd``
    their cost at the endpoint's estimate per take. For ``"duels"``: Davidson's tie model (a tie is its own
    outcome, not half a win) fitted to the votes between groups; the effect is the difference in log strength with
    a Wald interval at the Bonferroni level, and ``more_votes`` the votes that would settle it (votes cost nothing).
    ``verdict`` is "real" or "not yet distinguishable". Seeded: the same input gives the same table.

    Args:
        sweep: a sweep (its metrics are measured first) or a DataFrame like ``sweep.df``.
        by: the column(s) whose values are the groups.
        metric: a metric column (``"motion"``, ``"start_fidelity"``, ...), ``"rating"`` or ``"duels"``.
        level: the family-wise confidence over all the pairs.
        seed: the seed of the resampling.
        votes: the votes for ``"duels"`` (default: the sweep's journal).
    """
    df, run_dir = _frame_and_votes(sweep)
    columns = _by(by, df)
    if not 0 < level < 1:
        raise InputError([Problem("level", "must be between 0 and 1", level, "e.g. 0.95")])
    if metric == "duels":
        if votes is None:
            if run_dir is None:
                raise InputError([Problem("votes", "a DataFrame has no votes", None, "pass votes= or a sweep")])
            votes = read_votes(run_dir)
        rows = _duel_rows(df, columns, votes, level)
    else:
        rows = _metric_rows(df, columns, metric, level, seed)
    rows.sort(key=lambda r: (r["p_adjusted"], -abs(r["effect"])))  # most certain first
    table: pd.DataFrame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    table.attrs.update(by=columns, metric=metric, level=level)
    return table


set_public_module(__name__)
