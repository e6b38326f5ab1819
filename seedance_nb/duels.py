"""Choose with people: blind pairwise votes, a Bradley–Terry leaderboard with intervals, and adaptive rounds.

::

    sweep.duel(by="prompt")                    # two takes of the same image side by side, labels hidden
    sweep.vote(3, 7, "a")                      # or in code: job 3 beat job 7 ("a", "b", "tie", "both_bad")
    sweep.leaderboard(by="prompt")             # strength, 95 % interval, wins, losses, ties, votes, videos
    top = sweep.promote(by="prompt", top=2, takes=2, resolution="720p")   # the next round, for the winners
    sd.run_adaptive(grid, budget_usd=5, rounds=2, keep=0.5, score=my_metric)  # successive halving

**Votes** are sweep-level journal lines ``{"event": "vote", "at", "a", "b", "winner", "voter"}``
(fsynced like every other line), so they survive a crash and a reload; ``sweep.votes`` reads them
back from ``journal.jsonl``.

**The fit.** Each value of ``by`` (a prompt, or a tuple of several columns) gets a Bradley–Terry
strength θ: the chance that ``i`` beats ``j`` is ``1 / (1 + exp(θj - θi))``, so a difference of 1
means about 73 % to win. Strengths are centred (0 = the average value on the board). The maximum
likelihood is computed by ``choix.ilsr_pairwise_dense`` (iterative Luce spectral ranking, Maystre &
Grossglauser 2015; choix is a small, maintained library of these algorithms — the reason for the
dependency) on a matrix of win counts where:

- a **tie** is half a win for each side;
- **both bad** says nothing about which is better: it is left out of the fit but counted (column
  ``both_bad``, and in ``votes``);
- a vote between two videos of the *same* value says nothing about the value either: it is ignored
  for that leaderboard (and not counted);
- a **prior**: each value also plays ``prior`` (default 1) virtual *tied* games against a virtual
  average opponent. This keeps every strength finite and the fit defined when the votes are sparse
  or one-sided: a value that never lost gets a large but finite strength with a wide interval, a
  value nobody voted on gets strength 0 with the widest interval, all ties give all strengths 0.

**Intervals** (``level=0.95``): ``ci="wald"`` (default) is the fit's own — strength ± z·se, the
standard errors from the inverse of the (prior-augmented) Fisher information at the estimate, taken
on the centred strengths (a Laplace approximation; instant, so the duel widget refits after every
vote). ``ci="bootstrap"`` resamples the votes with replacement ``n_boot`` times (seeded by ``seed``)
and takes percentiles. With a single value there is nothing to compare: strength 0, no interval (NaN).

**Pair selection** (:func:`next_pair`): only videos of the same start image and, by default, the same
other inputs (``same=``) are paired. Among the pairs of values that have such videos, the next one is
the pair whose strength difference is least certain and least predictable: the largest
``Var(θu − θv) · p(1 − p)``, which is the pair whose one more vote shrinks the variance of its
difference the most (p = the fitted chance that u wins). Never-compared pairs score high because
only the prior constrains them. Ties go to the pair with fewer votes, then to a seeded random draw;
within the pair the two videos least shown so far are taken, and sides are a seeded coin flip. The
same seed and the same votes give the same pairs.

**Rounds.** :meth:`DuelsMixin.promote` makes the next round for the ``top`` values by a score
(``"votes"`` = the leaderboard, ``"rating"``, any numeric column such as a metric, or a callable
over the DataFrame giving one number per video; higher is better) with any input changed
(``resolution="720p"``), runs it in its own folder beside the parent and writes ``round.json``
(``"parent"``: the parent's run folder). :func:`run_adaptive` repeats that with a budget that is a
hard stop across rounds, shown before each round; with a human score it stops after each round for
votes (``.duel()``, then ``.resume()``). Repeated requests are served by the cache at no cost.
"""

from __future__ import annotations

import html
import inspect
import json
import logging
import math
import operator
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _set_module
from .errors import BudgetExceeded, InputError, Problem
from .runs import INPUT_COLUMNS, Journal, RunFolder, input_row, now
from .schema import DEFAULT_ENDPOINT

if TYPE_CHECKING:  # sweep imports this module: no import of it at run time here
    from .sweep import Grid, Sweep

__all__ = [
    "WINNERS",
    "AdaptiveRun",
    "DuelsMixin",
    "Pair",
    "Promotion",
    "bradley_terry",
    "leaderboard_frame",
    "leaderboard_html",
    "leaderboard_section",
    "next_pair",
    "read_votes",
    "round_cost",
    "run_adaptive",
    "run_adaptive_async",
    "score_values",
    "win_matrix",
]

logger = logging.getLogger("seedance_nb.duels")

#: What a vote can say about its two videos ``a`` and ``b``.
WINNERS = ("a", "b", "tie", "both_bad")
VOTE_COLUMNS = ["vote", "at", "a", "b", "winner", "voter"]
BOARD_STATS = ["strength", "ci_low", "ci_high", "wins", "losses", "ties", "both_bad", "votes", "videos"]
#: Statuses whose video exists (and can be voted on).
_WITH_VIDEO = frozenset({"completed", "cached"})
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
    return votes.astype({"vote": "int64", "a": "int64", "b": "int64"})


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
    return df["status"].isin(_WITH_VIDEO) if "status" in df.columns else pd.Series(True, index=df.index)


def _comparisons(
    df: pd.DataFrame, votes: pd.DataFrame, columns: Sequence[str]
) -> tuple[list[Any], dict[Any, int], list[tuple[int, int, str]], dict[str, Any]]:
    """Values (ordered by first appearance), their index, fit triples and the per-value counts."""
    key_of = dict(zip(df["job"].astype(int).tolist(), group_keys(df, columns), strict=True))
    values: dict[Any, int] = {}
    for key, done in zip(group_keys(df, columns), _finished(df).tolist(), strict=True):
        if done:
            values.setdefault(key, len(values))
    counts: dict[str, Counter] = {k: Counter() for k in ("wins", "losses", "ties", "both_bad", "votes")}
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
    board = pd.DataFrame(rows, columns=[*columns, *BOARD_STATS])
    if n:
        order = sorted(range(n), key=lambda i: (-round(float(strength[i]), 9), -rows[i]["wins"], i))
        board = board.iloc[order].reset_index(drop=True)
    board.index = pd.RangeIndex(1, len(board) + 1, name="rank")
    board.attrs.update(votes=counts["counted"], level=level, ci=ci, by=columns)
    return board


# --------------------------------------------------------------------------- pair selection (pure)


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


# --------------------------------------------------------------------------- HTML (pure)


_BOARD_CSS = """<style>
.sd-board{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:inherit;max-width:100%;
overflow-x:auto}
.sd-board table{border-collapse:collapse}
.sd-board th,.sd-board td{padding:3px 8px;border-bottom:1px solid rgba(128,128,128,.3);text-align:left;
vertical-align:middle}
.sd-board table td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.sd-board table td.v,.sd-board table th{text-align:left;max-width:340px;word-break:break-word}
.sd-board .sd-sub{opacity:.75;margin:2px 0 6px}
.sd-board svg{display:block}
</style>"""


def _fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


def _interval_svg(row: Mapping[Any, Any], lo: float, hi: float, width: int = 220, height: int = 16) -> str:
    def x(v: float) -> float:
        return 6 + (width - 12) * (v - lo) / (hi - lo)

    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    zero = x(0.0)
    parts.append(
        f'<line x1="{zero:.1f}" y1="1" x2="{zero:.1f}" y2="{height - 1}" stroke="#9ca3af" stroke-dasharray="2,2"/>'
    )
    low, high = row["ci_low"], row["ci_high"]
    if not (math.isnan(low) or math.isnan(high)):
        parts.append(
            f'<line class="sd-ci" x1="{x(low):.1f}" y1="{height / 2}" x2="{x(high):.1f}" y2="{height / 2}" '
            'stroke="#2563eb" stroke-width="3" stroke-linecap="round" opacity=".45"/>'
        )
    parts.append(f'<circle cx="{x(row["strength"]):.1f}" cy="{height / 2}" r="4" fill="#1d4ed8"/>')
    parts.append("</svg>")
    return "".join(parts)


def _board_of(obj: Any, by: str | Sequence[str] | None, **fit: Any) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame) and "strength" in obj.columns:
        return obj
    if isinstance(obj, pd.DataFrame):
        run_dir = obj.attrs.get("run_dir")
        votes = read_votes(run_dir) if run_dir else pd.DataFrame(columns=VOTE_COLUMNS)
        return leaderboard_frame(obj, votes, by or default_by(obj), **fit)
    return leaderboard_frame(obj.df, read_votes(obj.run_dir), by or default_by(obj.df), **fit)


def default_by(df: pd.DataFrame) -> str:
    """``prompt`` when it varies, else the first input column that does (else ``job``)."""
    for column in ["prompt", *INPUT_COLUMNS]:
        if column in df.columns and df[column].map(_plain).nunique(dropna=False) > 1:
            return column
    return "job"


def leaderboard_html(obj: Any, by: str | Sequence[str] | None = None, **fit: Any) -> str:
    """The leaderboard as HTML: a table with each value's interval drawn as a bar (inline SVG).

    ``obj`` is a sweep, a sweep DataFrame (its run folder gives the votes) or a leaderboard DataFrame.
    Every value is HTML-escaped; nothing is fetched.
    """
    board = _board_of(obj, by, **fit)
    columns = list(board.attrs.get("by") or [c for c in board.columns if c not in BOARD_STATS])
    level = board.attrs.get("level", 0.95)
    votes = board.attrs.get("votes", int(board["votes"].sum() // 2) if len(board) else 0)
    finite = [v for v in [*board["ci_low"], *board["ci_high"], *board["strength"], 0.0] if not math.isnan(v)]
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    head += (
        f"<th>strength ({int(round(level * 100))} % interval)</th><th></th>"
        "<th>W</th><th>L</th><th>T</th><th>both bad</th><th>votes</th><th>videos</th>"
    )
    body = []
    for rank, row in zip(board.index, board.to_dict("records"), strict=True):
        cells = [f'<td class="n">{int(rank)}</td>']
        for c in columns:
            text = "" if _plain(row[c]) is None else str(row[c])
            short = text if len(text) <= 120 else text[:117] + "…"
            cells.append(f'<td class="v" title="{html.escape(text)}">{html.escape(short)}</td>')
        interval = f"{_fmt(row['ci_low'])} … {_fmt(row['ci_high'])}"
        cells.append(f"<td>{_interval_svg(row, lo, hi)}</td>")
        cells.append(f'<td class="n" title="{html.escape(interval)}">{_fmt(row["strength"])}</td>')
        cells += [f'<td class="n">{int(row[k])}</td>' for k in ("wins", "losses", "ties", "both_bad", "votes")]
        cells.append(f'<td class="n">{int(row["videos"])}</td>')
        body.append(f'<tr data-rank="{int(rank)}">{"".join(cells)}</tr>')
    note = (
        f"{votes} vote{'s' if votes != 1 else ''} · Bradley–Terry strength (0 = average; +1 ≈ 73 % to win) "
        f"with {int(round(level * 100))} % intervals · a tie is half a win each, “both bad” is counted but not fitted"
    )
    return (
        f'{_BOARD_CSS}<div class="sd-board" data-votes="{int(votes)}"><div class="sd-sub">{html.escape(note)}</div>'
        f"<table><thead><tr><th>#</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def leaderboard_section(df: pd.DataFrame, run_dir: str | os.PathLike[str] | None) -> str:
    """The report's leaderboard section (empty when the run has no votes)."""
    if run_dir is None or not (Path(run_dir) / "journal.jsonl").is_file() or "job" not in df.columns:
        return ""
    votes = read_votes(run_dir)
    if votes.empty:
        return ""
    by = default_by(df)
    board = leaderboard_frame(df, votes, by)
    return f'<section id="leaderboard"><h2>Leaderboard by {html.escape(by)}</h2>{leaderboard_html(board)}</section>'


# --------------------------------------------------------------------------- scores and rounds


def _billed(job: Any) -> bool:
    """Did this job cost money now? Completed, or a result that arrived before an interruption, or an
    unsettled submit (counted, so the budget stays a hard stop). Cached videos cost nothing now."""
    if job.status == "completed":
        return True
    if job.status in ("interrupted", "downloading") and getattr(job, "video_url", None):
        return True
    return job.status in ("unknown", "submitting", "submitted", "running")


def _images_of(job: Any) -> Mapping[str, Any]:
    """A job's loaded input images by field."""
    return job.image_data or {}


def round_cost(sweep: Any) -> float:
    """What a round cost: the high estimate of each billed video (cached ones are free)."""
    total = 0.0
    for job in sweep.jobs:
        if _billed(job):
            image = _images_of(job).get("image_url")
            size = getattr(image, "size", None)
            total += job.input.estimate(size).high_usd
    return round(total, 6)


def score_values(
    sweep: Any, by: str | Sequence[str] = "prompt", score: str | Callable[[pd.DataFrame], Any] | None = None
) -> pd.Series:
    """One score per value of ``by`` (higher is better), best first; values with no score last (NaN).

    ``score``: ``"votes"`` (or ``"leaderboard"``): the Bradley–Terry strength; ``"rating"`` or any
    numeric column (a metric): its mean over the value's finished videos; a callable: given the
    DataFrame of finished videos, returns one number per row (a Series on the same index), averaged
    per value. ``None`` picks ``"votes"`` when there are votes, else ``"rating"`` when any video is rated.
    """
    df = sweep.df
    columns = _by(by, df)
    if score is None:
        if not read_votes(sweep.run_dir).empty:
            score = "votes"
        elif "rating" in df.columns and df["rating"].notna().any():
            score = "rating"
        else:
            raise InputError(
                [
                    Problem(
                        "score",
                        "there are no votes or ratings to rank by yet",
                        None,
                        "vote (sweep.duel() or sweep.vote), rate, or pass score=<column or callable>",
                    )
                ]
            )
    if isinstance(score, str) and score in ("votes", "leaderboard"):
        board = sweep.leaderboard(by=columns)
        if board.attrs.get("votes", 0) == 0:
            raise InputError([Problem("score", "no votes between different values yet", score, "vote first")])
        keys = group_keys(board, columns)
        return pd.Series(board["strength"].tolist(), index=pd.Index(keys, tupleize_cols=False), name="score")
    done = df[_finished(df)]
    if callable(score):
        per_video = score(done)
        if not isinstance(per_video, pd.Series) or not per_video.index.equals(done.index):
            raise InputError(
                [Problem("score", "must return a Series with one number per row of the DataFrame it is given", None)]
            )
        numbers = pd.to_numeric(per_video, errors="coerce")
    elif isinstance(score, str):
        if score not in df.columns:
            raise InputError([Problem("score", f"no column {score!r}", score, "'votes', 'rating', a metric column")])
        numbers = pd.to_numeric(done[score], errors="coerce")
    else:
        raise InputError([Problem("score", "unknown score", score, "'votes', 'rating', a column name or a callable")])
    sums: dict[Any, list[float]] = {}
    for key, value in zip(group_keys(done, columns), numbers.tolist(), strict=True):
        sums.setdefault(key, [])
        if value is not None and not math.isnan(value):
            sums[key].append(float(value))
    if not any(sums.values()):
        raise InputError(
            [Problem("score", f"no finished video has a {score if isinstance(score, str) else 'score'} yet", None)]
        )
    keys = list(sums)
    means = [sum(v) / len(v) if v else math.nan for v in sums.values()]
    order = sorted(
        range(len(keys)), key=lambda i: (math.isnan(means[i]), -means[i] if not math.isnan(means[i]) else 0, i)
    )
    return pd.Series(
        [means[i] for i in order], index=pd.Index([keys[i] for i in order], tupleize_cols=False), name="score"
    )


def _describe_score(score: Any) -> str:
    if score is None:
        return "votes or ratings"
    if callable(score):
        return getattr(score, "__name__", "a callable")
    return str(score)


def _round_dir(parent: Path, stem: str, number: int) -> Path:
    base = parent / f"{stem}-round{number}"
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _announce(text: str) -> None:
    """Say it where the user looks: the notebook cell when there is one, and the log."""
    logger.info(text)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import HTML, display

        display(
            HTML(f'<div class="seedance-round" style="font:13px sans-serif;margin:2px 0">{html.escape(text)}</div>')
        )


@dataclass
class Promotion:
    """The next round, planned and not yet run: ``grid`` holds the ``top`` values' inputs with ``changes``."""

    parent: Any
    grid: Grid
    by: list[str]
    values: list[Any]
    scores: pd.Series
    score: str | Callable[[pd.DataFrame], Any]
    takes: int
    changes: dict[str, Any]
    round: int
    run_dir: Path

    @property
    def estimate(self) -> Any:
        return self.grid.estimate()

    def __str__(self) -> str:
        by = ", ".join(self.by)
        est = self.estimate
        cost = f"about ${est.usd:.2f}" + (f" (up to ${est.high_usd:.2f})" if est.high_usd > est.usd + 1e-9 else "")
        changed = ", ".join(f"{k}={v}" for k, v in self.changes.items())
        return (
            f"Round {self.round}: the top {len(self.values)} of {len(self.scores)} by {_describe_score(self.score)} "
            f"({by}), {self.takes} take(s) each{', ' + changed if changed else ''}: {est.jobs} videos, {cost}"
        )

    def _check(self, budget_usd: float | None) -> None:
        est = self.estimate
        if budget_usd is not None and est.high_usd > budget_usd + 1e-9:
            raise BudgetExceeded(
                f"round {self.round} ({est.jobs} videos) may cost up to ${est.high_usd:.2f}, over the "
                f"${budget_usd:.2f} left; nothing was sent. Lower top= or takes=, or raise the budget.",
                estimate_usd=est.high_usd,
                budget_usd=budget_usd,
            )

    def _write_round(self, budget_usd: float | None) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        est = self.estimate
        info = {
            "round": self.round,
            "parent": str(self.parent.run_dir),
            "parent_name": self.parent.name,
            "by": self.by,
            "values": _jsonable(self.values),
            "scores": _jsonable([[k, None if math.isnan(v) else v] for k, v in self.scores.items()]),
            "score": _describe_score(self.score),
            "takes": self.takes,
            "changes": _jsonable(self.changes),
            "budget_usd": budget_usd,
            "estimate_usd": round(est.usd, 6),
            "estimate_high_usd": round(est.high_usd, 6),
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        part = self.run_dir / "round.json.part"
        part.write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(part, self.run_dir / "round.json")

    async def run_async(self, client: Any = None, *, budget_usd: float | None = None, **run_kwargs: Any) -> Sweep:
        """Run this round (refused, with nothing sent, when its high estimate is over ``budget_usd``).

        The run folder is created first and ``round.json`` written into it before anything is sent, so
        the link to the parent survives a crash of the round.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            **run_kwargs: :meth:`seedance_nb.Sweep.run`'s options.
        """
        from .sweep import Sweep

        self._check(budget_usd)
        if client is None:
            from .backends import connect

            client = connect()
        sweep = Sweep.create(self.grid, self.run_dir, backend=client.backend)
        try:
            self._write_round(budget_usd)
            await sweep.run(client, budget_usd=budget_usd, **run_kwargs)
        finally:
            sweep.close()
        return sweep

    def run(self, client: Any = None, *, budget_usd: float | None = None, **run_kwargs: Any) -> Sweep:
        """Sync :meth:`run_async` (works inside Jupyter too).

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            **run_kwargs: :meth:`seedance_nb.Sweep.run`'s options.
        """
        from ._sync import run_sync

        return run_sync(_with_client(client, lambda c: self.run_async(c, budget_usd=budget_usd, **run_kwargs)))


async def _with_client(client: Any, body: Callable[[Any], Any]) -> Any:
    """``body(client)``, connecting when ``client`` is None and closing its connections after (the sweep's own)."""
    from .backends import with_client

    return await with_client(client, body)


def _grid_from_jobs(
    jobs: Sequence[Any], endpoint: str, takes: int, changes: Mapping[str, Any], *, same_seed_ok: bool = False
) -> Grid:
    from .sweep import Grid

    seeded = takes > 1 and any(
        (job.input.replace(**changes) if changes else job.input).seed is not None for job in jobs
    )
    if seeded and not same_seed_ok:
        raise InputError(
            [
                Problem(
                    "takes",
                    f"takes={takes} of inputs with a fixed seed repeats the same request, which likely pays again "
                    "for the same video",
                    takes,
                    "seed=None (each take then gets its own random seed), takes=1, or same_seed_ok=True",
                )
            ],
            context="promote",
        )

    rows: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for job in jobs:
        inp = job.input.replace(**changes) if changes else job.input
        if inp in seen:
            continue
        seen.add(inp)
        images = _images_of(job)
        rows.append(
            input_row(inp, images.get("image_url", inp.image_url), images.get("end_image_url", inp.end_image_url))
        )
    names = list(dict.fromkeys(k for row in rows for k in row))
    fields: dict[str, Any] = {}
    for name in names:
        column = [row.get(name) for row in rows]
        if all(value is column[0] or value == column[0] for value in column) and not isinstance(column[0], list):
            if column[0] is not None:
                fields[name] = column[0]
        else:
            fields[name] = column
    # The fields are the parent's, already sent (their names were checked then); changes are checked above.
    return Grid(takes=takes, mode="zip", endpoint=endpoint, same_seed_ok=same_seed_ok, allow_unknown=True, **fields)


#: Inputs a promoted round may change (``**changes`` of :meth:`DuelsMixin.promote`).
CHANGEABLE = ("resolution", "duration", "aspect_ratio", "generate_audio", "seed", "end_user_id")


def _changes_check(changes: Mapping[str, Any], extra: Iterable[str] = ()) -> None:
    """Refuse a change to a value's identity (prompt, images) and unknown names (a typo would go to fal)."""
    allowed = set(CHANGEABLE) | set(extra)
    problems = []
    for name in changes:
        if name in ("image", "image_url", "end_image", "end_image_url", "prompt"):
            problems.append(Problem(name, "a promoted round keeps each value's own inputs; it cannot be changed"))
        elif name not in allowed:
            problems.append(Problem(name, "not an input a round can change", name, ", ".join(sorted(allowed))))
    if problems:
        raise InputError(problems, context="promote")


# --------------------------------------------------------------------------- the Sweep mixin


class DuelsMixin:
    """Votes, the leaderboard, the duel widget and promotion, for :class:`seedance_nb.sweep.Sweep`."""

    jobs: list[Any]
    run_dir: Path
    name: str
    meta: dict[str, Any]

    if TYPE_CHECKING:  # provided by the host class (Sweep)

        @property
        def df(self) -> pd.DataFrame: ...

        def _open(self) -> Journal: ...

        def close(self) -> None: ...

    # ------------------------------------------------------------------ votes

    def vote(self, a: int, b: int, winner: str, *, voter: str | None = None) -> dict[str, Any]:
        """Record one blind vote between two videos. Journalled (fsynced) at once; returns the journal line.

        Args:
            a: the job number of the video shown first.
            b: the job number of the other video.
            winner: ``"a"``, ``"b"``, ``"tie"`` or ``"both_bad"``.
            voter: who voted (kept with the vote).
        """
        numbers = {}
        by_number = {job.job: job for job in self.jobs}
        problems = []
        for name, value in (("a", a), ("b", b)):
            try:
                if isinstance(value, bool):
                    raise TypeError
                number = operator.index(value)
            except TypeError:
                problems.append(Problem(name, "must be a job number", value, "an int from sweep.df['job']"))
                continue
            job = by_number.get(number)
            if job is None:
                problems.append(Problem(name, f"no job {number} in this sweep", value, f"0..{len(self.jobs) - 1}"))
            elif job.status not in _WITH_VIDEO:
                problems.append(
                    Problem(name, f"job {number} has no video to judge (status {job.status})", value, "a finished job")
                )
            else:
                numbers[name] = number
        if len(numbers) == 2 and numbers["a"] == numbers["b"]:
            problems.append(Problem("b", "a video cannot duel itself", b, "another job number"))
        if winner not in WINNERS:
            problems.append(Problem("winner", "unknown outcome", winner, ", ".join(repr(w) for w in WINNERS)))
        if voter is not None and not isinstance(voter, str):
            problems.append(Problem("voter", "must be text", voter, "a name or None"))
        if problems:
            raise InputError(problems, context="vote not recorded")
        entry: dict[str, Any] = {"event": "vote", "at": now(), "a": numbers["a"], "b": numbers["b"], "winner": winner}
        if voter is not None:
            entry["voter"] = voter
        self._open().append(entry)
        task = getattr(self, "task", None)
        if task is None or task.done():
            self.close()
        return entry

    @property
    def votes(self) -> pd.DataFrame:
        """Every vote so far: ``vote``, ``at``, ``a``, ``b``, ``winner``, ``voter`` (read from the journal)."""
        return read_votes(self.run_dir)

    def leaderboard(self, by: str | Sequence[str] = "prompt", **fit: Any) -> pd.DataFrame:
        """The Bradley–Terry leaderboard of ``by``'s values, best first (see :func:`leaderboard_frame`).

        Args:
            by: the input column(s) whose values are ranked.
            **fit: :func:`leaderboard_frame`'s options (``ci``, ``level``, ``prior``, ``n_boot``, ``seed``).
        """
        return leaderboard_frame(self.df, self.votes, by, **fit)

    def duel(self, by: str | Sequence[str] = "prompt", **options: Any) -> Any:
        """The duel widget (:class:`seedance_nb.duel_widget.Duel`): vote by buttons or keys, watch the board.

        Args:
            by: the input column(s) whose values compete (``"prompt"``, ``["prompt", "seed"]``, ...).
            **options: the widget's options (``same``, ``seed``, ``voter``, ``width``, ``client``).
        """
        from .duel_widget import Duel

        return Duel(self, by=by, **options)

    # ------------------------------------------------------------------ rounds

    @property
    def round_info(self) -> dict[str, Any]:
        """This run's ``round.json`` (``round``, ``parent``, ``values``, ...) or ``{"round": 1}`` for a first run."""
        path = Path(self.run_dir) / "round.json"
        if not path.is_file():
            return {"round": 1}
        return json.loads(path.read_text(encoding="utf-8"))

    def plan_promotion(
        self,
        by: str | Sequence[str] = "prompt",
        top: int | None = None,
        takes: int | None = None,
        *,
        score: str | Callable[[pd.DataFrame], Any] | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        same_seed_ok: bool = False,
        **changes: Any,
    ) -> Promotion:
        """The next round for the ``top`` values by ``score`` (see :func:`score_values`), not yet run.

        Each chosen value keeps its own inputs (every distinct input of its finished videos) with
        ``changes`` applied, e.g. ``resolution="720p"``; ``takes`` defaults to this run's takes. More
        than one take of an input with a fixed seed would repeat the same paid request: pass
        ``seed=None`` (each take gets its own random seed) or, knowingly, ``same_seed_ok=True``.

        Args:
            by: the input column(s) whose values are ranked.
            top: how many values go on (default: half the scored values, rounded up).
            takes: takes of each input in the next round (default: this run's).
            score: what ranks the values (see :func:`score_values`).
            run_dir: the next round's folder (default: beside this one, named ``<name>-round<N>``).
            same_seed_ok: allow more takes of inputs with a fixed seed.
            **changes: input fields to change in the next round (``resolution="720p"``, ``seed=None``, ...).
        """
        columns = _by(by, self.df)
        _changes_check(changes, {k for job in self.jobs for k in job.input.extra})
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
            raise InputError([Problem("top", "must be a whole number of at least 1", top, "1, 2, 3, ...")])
        if takes is None:
            takes = int(self.meta.get("takes") or 1)
        if isinstance(takes, bool) or not isinstance(takes, int) or takes < 1:
            raise InputError([Problem("takes", "must be a whole number of at least 1", takes, "1, 2, 3, ...")])
        scores = score_values(self, columns, score)
        ranked = [k for k, v in scores.items() if not math.isnan(v)]
        top = top if top is not None else max(1, math.ceil(len(ranked) / 2))
        chosen = ranked[:top]
        df = self.df
        key_of = dict(zip(df["job"].astype(int).tolist(), group_keys(df, columns), strict=True))
        jobs = [j for j in self.jobs if j.status in _WITH_VIDEO and key_of.get(j.job) in chosen]
        jobs.sort(key=lambda j: chosen.index(key_of[j.job]))
        endpoint = getattr(self, "endpoint", None) or self.meta.get("endpoint") or DEFAULT_ENDPOINT
        grid = _grid_from_jobs(jobs, endpoint, takes, changes, same_seed_ok=same_seed_ok)
        number = int(self.round_info.get("round", 1)) + 1
        stem = str(self.round_info.get("root_name") or self.name)
        if stem.endswith(f"-round{number - 1}"):
            stem = stem[: -len(f"-round{number - 1}")]
        target = Path(run_dir) if run_dir is not None else _round_dir(Path(self.run_dir).parent, stem, number)
        return Promotion(
            parent=self,
            grid=grid,
            by=columns,
            values=chosen,
            scores=scores,
            score=score if score is not None else ("votes" if not self.votes.empty else "rating"),
            takes=takes,
            changes=dict(changes),
            round=number,
            run_dir=target,
        )

    def promote(
        self,
        by: str | Sequence[str] = "prompt",
        top: int | None = None,
        takes: int | None = None,
        *,
        score: str | Callable[[pd.DataFrame], Any] | None = None,
        budget_usd: float | None = None,
        client: Any = None,
        run_dir: str | os.PathLike[str] | None = None,
        concurrency: int = 4,
        progress: bool | None = None,
        same_seed_ok: bool = False,
        **changes: Any,
    ) -> Sweep:
        """Make and run the next round for the ``top`` values (see :meth:`plan_promotion`); returns its sweep.

        The round runs in its own folder beside this one with a ``round.json`` naming this run as its
        parent; its estimate is shown first, and ``budget_usd`` refuses it (nothing sent) when over.

        Args:
            by: the input column(s) whose values are ranked.
            top: how many values go on (default: half the scored values, rounded up).
            takes: takes of each input in the next round (default: this run's).
            score: what ranks the values (see :func:`score_values`).
            budget_usd: refuse the round (nothing sent) when its high estimate is over it.
            client: the client (default: :func:`seedance_nb.connect`).
            run_dir: the next round's folder (default: beside this one).
            concurrency: requests on fal at once.
            progress: a progress bar.
            same_seed_ok: allow more takes of inputs with a fixed seed.
            **changes: input fields to change in the next round.
        """
        plan = self.plan_promotion(by, top, takes, score=score, run_dir=run_dir, same_seed_ok=same_seed_ok, **changes)
        _announce(str(plan) + (f"; budget ${budget_usd:.2f}" if budget_usd is not None else ""))
        return plan.run(client, budget_usd=budget_usd, concurrency=concurrency, progress=progress)


# --------------------------------------------------------------------------- adaptive runs


def _per_round(value: Any, index: int, what: str) -> Any:
    if isinstance(value, list | tuple):
        if index >= len(value):
            raise InputError([Problem(what, f"has no entry for promoted round {index + 1}", value, "one per round")])
        return value[index]
    return value


@dataclass
class AdaptiveRun:
    """Successive halving over rounds (see :func:`run_adaptive`); ``sweeps`` holds one sweep per round."""

    grid: Grid
    budget_usd: float
    rounds: int = 2
    keep: float = 0.5
    score: Any = None
    by: str | Sequence[str] = "prompt"
    takes: Any = None
    changes: Any = None
    run_root: Path = field(default_factory=lambda: RunFolder.root())
    name: str | None = None
    concurrency: int = 4
    progress: bool | None = None
    sweeps: list[Any] = field(default_factory=list)
    status: str = "planned"
    message: str = ""
    _asked: int = 0

    @property
    def human(self) -> bool:
        """Does the score need people (votes or ratings) between rounds?"""
        return self.score is None or (isinstance(self.score, str) and self.score in HUMAN_SCORES)

    @property
    def current(self) -> Any:
        return self.sweeps[-1] if self.sweeps else None

    @property
    def spent_usd(self) -> float:
        return round(sum(round_cost(s) for s in self.sweeps), 6)

    @property
    def remaining_usd(self) -> float:
        return round(self.budget_usd - self.spent_usd, 6)

    @property
    def rounds_df(self) -> pd.DataFrame:
        """One row per round: its folder, parent, values, videos, cached videos and cost."""
        rows = []
        for n, sweep in enumerate(self.sweeps, 1):
            info = sweep.round_info
            df = sweep.df
            columns = _by(self.by, df)
            rows.append(
                {
                    "round": n,
                    "run_dir": str(sweep.run_dir),
                    "parent": info.get("parent"),
                    "values": list(dict.fromkeys(group_keys(df, columns))),
                    "videos": int(df["status"].isin(_WITH_VIDEO).sum()),
                    "cached": int((df["status"] == "cached").sum()),
                    "cost_usd": round_cost(sweep),
                }
            )
        return pd.DataFrame(rows, columns=["round", "run_dir", "parent", "values", "videos", "cached", "cost_usd"])

    def _say(self, text: str) -> None:
        self.message = text
        _announce(text)

    async def run_async(self, client: Any = None) -> AdaptiveRun:
        """Run (or resume) the rounds until the last, the budget, or a pause for votes; ``resume_async`` is
        the same call.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
        """
        from .sweep import run_sweep_async

        kwargs: dict[str, Any] = {"concurrency": self.concurrency, "progress": self.progress}
        if not self.sweeps:
            est = self.grid.estimate()
            stem = self.name or f"adaptive-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
            self._say(f"Round 1 of {self.rounds}: {est}; budget ${self.budget_usd:.2f} for every round together")
            self.status = "running"
            first = await run_sweep_async(
                self.grid,
                client=client,
                run_dir=_round_dir(Path(self.run_root), stem, 1),
                budget_usd=self.budget_usd,
                **kwargs,
            )
            self.sweeps.append(first)
        while len(self.sweeps) < self.rounds:
            if self.human and self._asked < len(self.sweeps):
                self._asked = len(self.sweeps)
                self.status = "waiting"
                self._say(
                    f"Round {len(self.sweeps)} is done (spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}). "
                    f"Vote ({'.duel()' if self.score != 'rating' else 'rate the videos'}), then call .resume() "
                    f"for round {len(self.sweeps) + 1}."
                )
                return self
            index = len(self.sweeps) - 1
            current = self.current
            scores = score_values(current, self.by, self.score)
            ranked = int(scores.notna().sum())
            top = max(1, math.ceil(self.keep * ranked))
            plan = current.plan_promotion(
                self.by,
                top,
                _per_round(self.takes, index, "takes"),
                score=self.score,
                **(_per_round(self.changes, index, "changes") or {}),
            )
            remaining = self.remaining_usd
            est = plan.estimate
            self._say(f"{plan}; spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}, ${remaining:.2f} left")
            if est.high_usd > remaining + 1e-9:
                self.status = "budget"
                self._say(
                    f"Stopped before round {plan.round}: it may cost up to ${est.high_usd:.2f} and only "
                    f"${remaining:.2f} of the ${self.budget_usd:.2f} budget is left; nothing was sent."
                )
                return self
            self.status = "running"
            self.sweeps.append(await plan.run_async(client, budget_usd=remaining, **kwargs))
        self.status = "done"
        self._say(
            f"Done: {len(self.sweeps)} round(s), spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f} "
            f"(cached videos are free)."
        )
        return self

    def run(self, client: Any = None) -> AdaptiveRun:
        """Sync :meth:`run_async` (works inside Jupyter too); ``resume`` is the same call.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
        """
        from ._sync import run_sync

        return run_sync(_with_client(client, self.run_async))

    resume = run
    resume_async = run_async

    def duel(self, **options: Any) -> Any:
        """The duel widget on the current round, with a button that runs the next round.

        Args:
            **options: the widget's options (``same``, ``seed``, ``voter``, ``width``, ``client``).
        """
        from .duel_widget import Duel

        if self.current is None:
            raise RuntimeError("no round has run yet: call .run() first")
        return Duel(self.current, by=self.by, adaptive=self, **options)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{r['round']}</td><td>{html.escape(Path(r['run_dir']).name)}</td>"
            f"<td>{len(r['values'])}</td><td>{r['videos']}</td><td>{r['cached']}</td><td>${r['cost_usd']:.2f}</td></tr>"
            for r in self.rounds_df.to_dict("records")
        )
        return (
            f'<div class="seedance-adaptive" style="font:13px sans-serif"><b>Adaptive run</b> '
            f"{html.escape(self.status)}: {html.escape(self.message)}"
            '<table style="border-collapse:collapse;margin-top:4px"><thead><tr><th>round</th><th>folder</th>'
            "<th>values</th><th>videos</th><th>cached</th><th>cost</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        return (
            f"<AdaptiveRun {self.status}: {len(self.sweeps)}/{self.rounds} rounds, "
            f"spent ${self.spent_usd:.2f} of ${self.budget_usd:.2f}>"
        )


def _adaptive(grid: Grid, *, budget_usd: float, **options: Any) -> AdaptiveRun:
    """The checked :class:`AdaptiveRun` of :func:`run_adaptive`'s arguments (nothing run yet)."""
    problems = []
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float) or not budget_usd > 0:
        problems.append(Problem("budget_usd", "must be a positive amount of dollars", budget_usd, "e.g. 5.0"))
    rounds = options.get("rounds", 2)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        problems.append(Problem("rounds", "must be a whole number of at least 1", rounds, "2, 3, ..."))
    keep = options.get("keep", 0.5)
    if isinstance(keep, bool) or not isinstance(keep, int | float) or not 0 < keep <= 1:
        problems.append(Problem("keep", "must be a fraction in (0, 1]", keep, "e.g. 0.5 keeps the better half"))
    if problems:
        raise InputError(problems, context="run_adaptive")
    run_root = options.get("run_root")
    options["run_root"] = Path(run_root) if run_root is not None else RunFolder.root()
    return AdaptiveRun(grid=grid, budget_usd=float(budget_usd), **options)


async def run_adaptive_async(grid: Grid, *, client: Any = None, **options: Any) -> AdaptiveRun:
    """:func:`run_adaptive` for ``await`` in a notebook cell, with the same keyword arguments.

    Args:
        grid: the first round's inputs.
        client: the client (default: :func:`seedance_nb.connect`).
        **options: :func:`run_adaptive`'s (``budget_usd`` is required); a missing or unknown name is a
            ``TypeError``.
    """
    try:
        inspect.signature(run_adaptive).bind(grid, client=client, **options)
    except TypeError as exc:  # a missing or unknown name, refused as Python refuses it for run_adaptive
        raise TypeError(f"run_adaptive_async() {exc}") from None
    return await _adaptive(grid, **options).run_async(client)


def run_adaptive(
    grid: Grid,
    *,
    budget_usd: float,
    rounds: int = 2,
    keep: float = 0.5,
    score: Any = None,
    by: str | Sequence[str] = "prompt",
    takes: Any = None,
    changes: Any = None,
    client: Any = None,
    run_root: str | os.PathLike[str] | None = None,
    name: str | None = None,
    concurrency: int = 4,
    progress: bool | None = None,
) -> AdaptiveRun:
    """Successive halving: run ``grid``, keep the best ``keep`` fraction of ``by``'s values by ``score``,
    run them again with ``takes``/``changes`` (one value, or a list with one per promoted round), and so
    on for ``rounds`` rounds, never over ``budget_usd`` in total.

    The budget is a hard stop: the first round is refused (``BudgetExceeded``, nothing sent) when its
    high estimate is over it; a later round that no longer fits in what is left is not started
    (``status == "budget"``). Each round's estimate and the money left are shown before it starts.
    The estimate counts every video of a round, those the cache will serve included (they then cost
    nothing and are not counted as spent), so the check errs on the safe side.
    ``score`` is a column (a metric, ``"rating"``), a callable over the DataFrame, or ``"votes"``;
    with ``"votes"``/``"rating"`` (or None) the run stops after each round (``status == "waiting"``)
    for people to vote (``.duel()``) or rate, and ``.resume()`` goes on. Every round is its own run
    folder under ``run_root`` (default ``sweeps/``), linked to its parent by ``round.json``.

    Args:
        grid: the first round's inputs.
        budget_usd: the most all rounds together may cost.
        rounds: how many rounds, the first included.
        keep: the fraction of ``by``'s values each round keeps, in (0, 1].
        score: what ranks the values (see :func:`score_values`).
        by: the input column(s) whose values compete.
        takes: takes of each input in the promoted rounds (one value, or one per promoted round).
        changes: input fields to change in the promoted rounds (a dict, or one per promoted round).
        client: the client (default: :func:`seedance_nb.connect`).
        run_root: the folder the rounds' run folders go in.
        name: the stem of the rounds' folders, ``<name>-round<N>`` (default: ``adaptive-<time>``).
        concurrency: requests on fal at once.
        progress: a progress bar.
    """
    run = _adaptive(
        grid,
        budget_usd=budget_usd,
        rounds=rounds,
        keep=keep,
        score=score,
        by=by,
        takes=takes,
        changes=changes,
        run_root=run_root,
        name=name,
        concurrency=concurrency,
        progress=progress,
    )
    return run.run(client)


_set_module(__name__)
