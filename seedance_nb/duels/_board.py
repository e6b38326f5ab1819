"""The leaderboard as HTML (pure): strengths with their intervals, for the notebook and the report."""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._names import set_public_module
from ..columns import INPUT_COLUMNS
from ._fit import BOARD_STATS, VOTE_COLUMNS, _plain, leaderboard_frame, read_votes

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


set_public_module(__name__)
