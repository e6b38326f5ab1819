"""Votes and the fit: the journal's vote lines, the win matrix and the Bradley–Terry leaderboard."""

from __future__ import annotations

import math
import operator
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .._names import set_public_module
from ..columns import INPUT_COLUMNS
from ..errors import InputError, Problem
from ..runs import Journal
from ..statuses import HAS_VIDEO

#: What a vote can say about its two videos ``a`` and ``b``.
WINNERS = ("a", "b", "tie", "both_bad")
VOTE_COLUMNS = ["vote", "at", "a", "b", "winner", "voter"]
BOARD_STATS = ["strength", "ci_low", "ci_high", "wins", "losses", "ties", "both_bad", "votes", "videos"]
#: Statuses whose video exists (and can be voted on).
#: Scores that need people (the adaptive run stops for them after each round).
HUMAN_SCORES = frozenset({"votes", "leaderboard", "rating"})


# --------------------------------------------------------------------------- the fit (pure)


def win_matrix(pairs: Iterable[tuple[int, int, str]], n: int) -> np.ndarray:
    """``W[i, j]`` = how often ``i`` beat ``j`` from ``(i, j, winner)`` triples; a tie is half a win each,
    ``both_bad`` adds nothing."""
    wins = np.zeros((n, n))
    for i, j, winner in pairs:
        if winner == "a":
            wins[i, j] += 1.0
        elif winner == "b":
            wins[j, i] += 1.0
        elif winner == "tie":
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    return wins


def bradley_terry(wins: np.ndarray, *, prior: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Centred Bradley–Terry strengths and their covariance from a (fractional) win matrix.

    ``prior`` virtual tied games against an average opponent per item keep every strength finite
    (see the module docstring). The covariance is the pseudo-inverse of the Fisher information of the
    augmented data at the estimate, mapped onto the centred strengths.
    """
    import choix

    wins = np.asarray(wins, dtype=float)
    n = wins.shape[0]
    if wins.shape != (n, n) or (wins < 0).any() or not np.isfinite(wins).all():
        raise ValueError("wins must be a square matrix of non-negative counts")
    if not prior > 0:
        raise ValueError("prior must be positive (it keeps the fit finite)")
    if n <= 1:
        return np.zeros(n), np.zeros((n, n))
    augmented = np.zeros((n + 1, n + 1))
    augmented[:n, :n] = wins
    np.fill_diagonal(augmented, 0.0)
    augmented[:n, n] = augmented[n, :n] = prior / 2.0
    theta = np.asarray(choix.ilsr_pairwise_dense(augmented, alpha=0.0, max_iter=1000, tol=1e-10), dtype=float)
    games = augmented + augmented.T
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j] = P(i beats j)
    weight = games * p * p.T
    info = np.diag(weight.sum(axis=1)) - weight
    centre = np.hstack([np.eye(n) - 1.0 / n, np.zeros((n, 1))])
    cov = centre @ np.linalg.pinv(info, hermitian=True) @ centre.T
    strength = theta[:n] - theta[:n].mean()
    return strength, (cov + cov.T) / 2.0


def _bootstrap(
    pairs: list[tuple[int, int, str]], n: int, *, prior: float, level: float, n_boot: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, n))
    for b in range(n_boot):
        sample = [pairs[k] for k in rng.integers(0, len(pairs), len(pairs))] if pairs else []
        draws[b] = bradley_terry(win_matrix(sample, n), prior=prior)[0]
    tail = (1.0 - level) / 2.0
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1.0 - tail, axis=0)


# --------------------------------------------------------------------------- votes and values


def read_votes(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every vote in a run folder's journal, in order (a torn last line from a crash, or a line that is
    not a well-formed vote, is skipped)."""
    rows: list[dict[str, Any]] = []
    for event in Journal.read(Path(run_dir) / "journal.jsonl"):
        if event.get("event") != "vote" or event.get("winner") not in WINNERS:
            continue
        try:
            a, b = operator.index(event["a"]), operator.index(event["b"])
        except (KeyError, TypeError):
            continue
        rows.append(
            {
                "vote": len(rows) + 1,
                "at": event.get("at"),
                "a": a,
                "b": b,
                "winner": event["winner"],
                "voter": event.get("voter"),
            }
        )
    votes = pd.DataFrame(rows, columns=VOTE_COLUMNS)
    votes["at"] = pd.to_datetime(votes["at"], unit="s", utc=True)
    # annotated: pandas-stubs give Any when mypy checks for Python 3.10
    typed: pd.DataFrame = votes.astype({"vote": "int64", "a": "int64", "b": "int64"})
    return typed


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _by(by: str | Sequence[str], df: pd.DataFrame, field: str = "by") -> list[str]:
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise InputError([Problem(field, "needs at least one column", by, "a column name such as 'prompt'")])
    missing = [c for c in columns if c not in df.columns]
    if missing:
        shown = ", ".join(c for c in df.columns if c in INPUT_COLUMNS or c in ("job", "take"))
        raise InputError(
            [
                Problem(field, f"no column {c!r} in the sweep's DataFrame", c, f"a column such as {shown}")
                for c in missing
            ]
        )
    return columns


def group_keys(df: pd.DataFrame, columns: Sequence[str]) -> list[Any]:
    """The value (a scalar for one column, else a tuple) of each row."""
    if len(columns) == 1:
        return [_plain(v) for v in df[columns[0]].tolist()]
    return [tuple(_plain(v) for v in row) for row in df[list(columns)].itertuples(index=False)]


def _finished(df: pd.DataFrame) -> pd.Series:
    return df["status"].isin(HAS_VIDEO) if "status" in df.columns else pd.Series(True, index=df.index)


def _comparisons(
    df: pd.DataFrame, votes: pd.DataFrame, columns: Sequence[str]
) -> tuple[list[Any], dict[Any, int], list[tuple[int, int, str]], dict[str, Any]]:
    """Values (ordered by first appearance), their index, fit triples and the per-value counts."""
    key_of = dict(zip(df["job"].astype(int).tolist(), group_keys(df, columns), strict=True))
    values: dict[Any, int] = {}
    for key, done in zip(group_keys(df, columns), _finished(df).tolist(), strict=True):
        if done:
            values.setdefault(key, len(values))
    counts: dict[str, Counter[Any]] = {k: Counter() for k in ("wins", "losses", "ties", "both_bad", "votes")}
    videos: dict[Any, set[int]] = {}
    pairs: list[tuple[int, int, str]] = []
    counted = 0
    for a, b, winner in zip(votes["a"].tolist(), votes["b"].tolist(), votes["winner"].tolist(), strict=True):
        if a not in key_of or b not in key_of:
            continue
        ka, kb = key_of[a], key_of[b]
        if ka == kb:
            continue  # two videos of the same value say nothing about that value
        counted += 1
        for key in (ka, kb):
            values.setdefault(key, len(values))
            counts["votes"][key] += 1
        videos.setdefault(ka, set()).add(a)
        videos.setdefault(kb, set()).add(b)
        if winner == "both_bad":
            counts["both_bad"][ka] += 1
            counts["both_bad"][kb] += 1
            continue
        if winner == "tie":
            counts["ties"][ka] += 1
            counts["ties"][kb] += 1
        else:
            won, lost = (ka, kb) if winner == "a" else (kb, ka)
            counts["wins"][won] += 1
            counts["losses"][lost] += 1
        pairs.append((values[ka], values[kb], winner))
    extra = {**counts, "videos": {k: len(v) for k, v in videos.items()}, "counted": counted}
    return list(values), values, pairs, extra


def leaderboard_frame(
    df: pd.DataFrame,
    votes: pd.DataFrame,
    by: str | Sequence[str] = "prompt",
    *,
    ci: str = "wald",
    level: float = 0.95,
    prior: float = 1.0,
    n_boot: int = 200,
    seed: int | None = 0,
) -> pd.DataFrame:
    """The leaderboard of ``by``'s values from a sweep DataFrame and its votes, best first (pure).

    One row per value that has a finished video or a vote: the value column(s), ``strength``,
    ``ci_low``/``ci_high`` (``level`` interval, ``ci="wald"`` or ``"bootstrap"``), ``wins``,
    ``losses``, ``ties``, ``both_bad``, ``votes`` (every vote against another value, both-bad
    included) and ``videos`` (distinct videos of the value that were voted on).
    ``attrs`` holds ``votes`` (all votes counted), ``level``, ``ci`` and ``by``.
    """
    columns = _by(by, df)
    if ci not in ("wald", "bootstrap"):
        raise InputError([Problem("ci", "unknown interval method", ci, "'wald' or 'bootstrap'")])
    if not 0 < level < 1:
        raise InputError([Problem("level", "must be between 0 and 1", level, "e.g. 0.95")])
    if ci == "bootstrap" and (isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 20):
        raise InputError([Problem("n_boot", "too few resamples for an interval", n_boot, "at least 20, e.g. 200")])
    values, _index, pairs, counts = _comparisons(df, votes, columns)
    n = len(values)
    strength, cov = bradley_terry(win_matrix(pairs, n), prior=prior)
    if n <= 1:
        low = high = np.full(n, np.nan)
    elif ci == "wald":
        z = NormalDist().inv_cdf((1 + level) / 2)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        low, high = strength - z * se, strength + z * se
    else:
        low, high = _bootstrap(pairs, n, prior=prior, level=level, n_boot=n_boot, seed=seed)
    rows = []
    for i, value in enumerate(values):
        row = dict(zip(columns, value if len(columns) > 1 else (value,), strict=True))
        row.update(
            strength=float(strength[i]),
            ci_low=float(low[i]),
            ci_high=float(high[i]),
            **{k: int(counts[k][value]) for k in ("wins", "losses", "ties", "both_bad", "votes")},
            videos=int(counts["videos"].get(value, 0)),
        )
        rows.append(row)
    # annotated: pandas-stubs give Any when mypy checks for Python 3.10
    board: pd.DataFrame = pd.DataFrame(rows, columns=[*columns, *BOARD_STATS])
    if n:
        order = sorted(range(n), key=lambda i: (-round(float(strength[i]), 9), -rows[i]["wins"], i))
        board = board.iloc[order].reset_index(drop=True)
    board.index = pd.RangeIndex(1, len(board) + 1, name="rank")
    board.attrs.update(votes=counts["counted"], level=level, ci=ci, by=columns)
    return board


set_public_module(__name__)
