"""Pair selection (pure): which two takes a person compares next."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .._names import set_public_module
from ..columns import INPUT_COLUMNS
from ._fit import _by, _comparisons, _finished, bradley_terry, group_keys, win_matrix


@dataclass(frozen=True)
class Pair:
    """The next duel: two job numbers (shown left and right) and the two values they stand for."""

    left: int
    right: int
    values: tuple[Any, Any]
    priority: float


def _context_columns(df: pd.DataFrame, columns: Sequence[str], same: Sequence[str] | None) -> list[str]:
    if same is None:
        same = [c for c in INPUT_COLUMNS if c in df.columns and c not in columns]
    else:
        same = _by(same, df, "same") if same else []
    if "image" in df.columns and "image" not in same and "image" not in columns:
        same = ["image", *same]
    return list(same)


def comparable_pairs(
    df: pd.DataFrame, by: str | Sequence[str] = "prompt", *, same: Sequence[str] | None = None
) -> dict[tuple[Any, Any], list[tuple[int, int]]]:
    """Pairs of values (in first-appearance order) → the pairs of finished videos that may duel for them."""
    columns = _by(by, df)
    context = _context_columns(df, columns, same)
    done = df[_finished(df)]
    jobs = done["job"].astype(int).tolist()
    keys = group_keys(done, columns)
    contexts = group_keys(done, context) if context else [None] * len(jobs)
    order = {k: i for i, k in reversed(list(enumerate(keys)))}
    groups: dict[Any, list[tuple[int, Any]]] = {}
    for job, key, ctx in zip(jobs, keys, contexts, strict=True):
        groups.setdefault(ctx, []).append((job, key))
    out: dict[tuple[Any, Any], list[tuple[int, int]]] = {}
    for members in groups.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                (ja, ka), (jb, kb) = members[x], members[y]
                if ka == kb:
                    continue
                if order[ka] > order[kb]:
                    (ja, ka), (jb, kb) = (jb, kb), (ja, ka)
                out.setdefault((ka, kb), []).append((ja, jb))
    return out


def next_pair(
    df: pd.DataFrame,
    votes: pd.DataFrame,
    by: str | Sequence[str] = "prompt",
    *,
    same: Sequence[str] | None = None,
    rng: random.Random | int | None = 0,
    exclude: Iterable[tuple[int, int]] = (),
    prior: float = 1.0,
) -> Pair | None:
    """The duel that teaches the ranking most (see the module docstring), or None when nothing is comparable.

    ``exclude`` lists job pairs not to show (skipped ones); ``rng`` is a ``random.Random`` or a seed.
    """
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    columns = _by(by, df)
    skipped = {frozenset(p) for p in exclude}
    candidates = {
        pair: [jobs for jobs in videos if frozenset(jobs) not in skipped]
        for pair, videos in comparable_pairs(df, columns, same=same).items()
    }
    candidates = {pair: videos for pair, videos in candidates.items() if videos}
    if not candidates:
        return None
    values, index, fit_pairs, _counts = _comparisons(df, votes, columns)
    strength, cov = bradley_terry(win_matrix(fit_pairs, len(values)), prior=prior)
    between = Counter(frozenset((values[i], values[j])) for i, j, _w in fit_pairs)
    shown = Counter(votes["a"].tolist() + votes["b"].tolist())
    same_pair = Counter(frozenset((a, b)) for a, b in zip(votes["a"].tolist(), votes["b"].tolist(), strict=True))

    def priority(pair: tuple[Any, Any]) -> float:
        i, j = index[pair[0]], index[pair[1]]
        var = cov[i, i] + cov[j, j] - 2 * cov[i, j]
        p = 1.0 / (1.0 + math.exp(strength[j] - strength[i]))
        return float(var * p * (1 - p))

    ranked = sorted(
        candidates,
        key=lambda pair: (-round(priority(pair), 9), between[frozenset(pair)], rng.random()),
    )
    best = ranked[0]
    videos = sorted(
        candidates[best],
        key=lambda jobs: (same_pair[frozenset(jobs)], shown[jobs[0]] + shown[jobs[1]], rng.random()),
    )
    a, b = videos[0]
    values_ab = best
    if rng.random() < 0.5:
        a, b, values_ab = b, a, (best[1], best[0])
    return Pair(left=a, right=b, values=values_ab, priority=priority(best))


set_public_module(__name__)
