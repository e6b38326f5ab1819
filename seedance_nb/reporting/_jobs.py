"""The report's sortable jobs table (one cell builder per kind of column) and its ratings section."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .. import markup as m
from .._names import set_public_module
from ..markup import esc as _e
from ..ratings import stars
from ..statuses import NO_CHARGE, PAID

_SORT_JS = m.sortable_table_script("sd-jobs")

_NUMERIC = (
    "seed",
    "take",
    "output_seed",
    "queue_seconds",
    "generation_seconds",
    "video_seconds",
    "file_size",
    "est_cost_usd",
    "rating",
)


def _stars(value: Any) -> str:
    n = stars(value)
    if n is None:  # not a rating (a 7, a 3.5): shown as no rating, as the catalog reads it
        return ""
    return f'<span class="stars" title="{n} of 5" aria-label="{n} of 5 stars">{"★" * n}{"☆" * (5 - n)}</span> {n}/5'


def _jobs_table(df: pd.DataFrame, sources: m.Sources, backend: str | None) -> str:
    vary = m.varying_columns(df)
    short = m.short_maps(df, limit=70)
    columns: list[tuple[str, str]] = [("job", "job"), ("status", "status")]
    columns += [(c, c) for c in vary]
    columns += [
        ("output_seed", "output seed"),
        ("queue_seconds", "queue"),
        ("generation_seconds", "generation"),
        ("video_seconds", "video"),
        ("size", "size"),
        ("file_size", "file"),
        ("est_cost_usd", "cost"),
        ("rating", "rating"),
        ("notes", "notes"),
        ("error", "error"),
    ]
    present = [(c, h) for c, h in columns if c in df.columns or c == "size"]
    # Columns with nothing to say stay out, so the table fits a laptop screen: no ratings, notes or errors yet,
    # or output seeds that only repeat the seeds asked for.
    optional = {"rating", "notes", "error", "output_seed"}
    present = [(c, h) for c, h in present if c not in optional or df[c].map(lambda v: not m.is_missing(v)).any()]
    if "output_seed" in df.columns and "seed" in df.columns:
        same = (df["output_seed"].map(m.plain) == df["seed"].map(m.plain)) | df["output_seed"].isna()
        if same.all():
            present = [(c, h) for c, h in present if c != "output_seed"]
    num_attr = ' data-type="num"'
    head = "".join(
        f'<th scope="col"{num_attr if c in _NUMERIC else ""} title="sort by {_e(h)}">{_e(h)}</th>' for c, h in present
    )
    body = []
    for pos, (_, row) in enumerate(df.iterrows()):
        cells = [_job_cell(c, row, pos, sources=sources, backend=backend, short=short) for c, _h in present]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<section id="jobs"><h2>Jobs</h2><p class="sub">Click a column header to sort.</p><div class="scroll">'
        f'<table class="jobs" id="sd-jobs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f"</div></section>{_SORT_JS}"
    )


def _job_link_cell(row: pd.Series, pos: int, value: Any, sources: m.Sources) -> str:
    text = f'<a href="#sd-job-{pos}">#{_e(m.as_text(value if value is not None else pos))}</a>'
    src = sources.video(row.get("path"), row.get("video_url")) if row.get("status") in m.HAS_VIDEO else None
    if src and not src.startswith(("data:", "file:")):
        text += f' <a href="{_e(src)}" title="open the video file">▶</a>'
    return f'<td class="job" data-v="{_e("" if value is None else str(value))}">{text}</td>'


def _size_cell(row: pd.Series) -> str:
    w, h = m.plain(row.get("width")), m.plain(row.get("height"))
    ok = w is not None and h is not None
    return f'<td class="n" data-v="{_e(w * h if ok else "")}">{_e(f"{w}×{h}" if ok else "—")}</td>'


def _cost_cell(row: pd.Series, value: Any, backend: str | None) -> str:
    sort = "" if value is None else str(value)
    billed = row.get("status") in PAID
    shown = m.fmt_usd(value) if billed else ("est. " + m.fmt_usd(value) if value is not None else "—")
    if row.get("status") in NO_CHARGE:
        shown, sort = "$0.00", "0"
    elif billed and (row.get("backend") if not m.is_missing(row.get("backend")) else backend) == "emulator":
        shown, sort = "$0.00 (emulated)", "0"
    return f'<td class="n" data-v="{_e(sort)}">{_e(shown)}</td>'


def _error_cell(row: pd.Series, value: Any) -> str:
    kind = m.plain(row.get("error_type"))
    text = "" if value is None else (f"{kind}: {value}" if kind else str(value))
    return f'<td class="err" data-v="{_e(text)}">{_e(text)}</td>'


def _text_cell(c: str, value: Any, short: dict[str, dict[Any, str]]) -> str:
    sort = "" if value is None else str(value)
    shown = m.as_text(value) if value is not None else ""
    wide = "txt wide" if c in ("prompt", "image", "end_image") else "txt note" if c == "notes" else "txt"
    cls = "n" if c in _NUMERIC else wide
    label = short.get(c, {}).get(value) if c in short else None
    return (
        f'<td class="{cls}" data-v="{_e(sort)}" title="{_e(shown)}">'
        f"{_e(label if label is not None else m.shorten(shown, 140))}</td>"
    )


def _number_cell(c: str, value: Any) -> str:
    """A cell of a number shown in its own unit: seconds, megabytes or stars."""
    if c == "rating":
        value = stars(value)  # the one scale: a 7 or a 3.5 is no rating here, as in the catalog
    sort = "" if value is None else str(value)
    if c == "file_size":
        shown = _e(f"{value / 1e6:.2f} MB" if isinstance(value, int | float) else "—")
    elif c == "rating":
        shown = _stars(value) if value is not None else ""
    else:
        shown = _e(m.fmt_seconds(value))
    return f'<td class="n" data-v="{_e(sort)}">{shown}</td>'


def _job_cell(
    c: str, row: pd.Series, pos: int, *, sources: m.Sources, backend: str | None, short: dict[str, dict[Any, str]]
) -> str:
    """One cell of the jobs table: column ``c`` of the job in table row ``pos``."""
    value = m.plain(row.get(c)) if c != "size" else None
    if c == "job":
        return _job_link_cell(row, pos, value, sources)
    if c == "size":
        return _size_cell(row)
    if c in ("queue_seconds", "generation_seconds", "video_seconds", "file_size", "rating"):
        return _number_cell(c, value)
    if c == "est_cost_usd":
        return _cost_cell(row, value, backend)
    if c == "error":
        return _error_cell(row, value)
    if c == "status":
        sort = "" if value is None else str(value)
        return f'<td data-v="{_e(sort)}"><span class="sd-{_e(sort)}">{_e(sort)}</span></td>'
    return _text_cell(c, value, short)


def _ratings(df: pd.DataFrame, sources: m.Sources) -> str:
    """The rated and noted videos, best first (ratings on one scale: 1-5 stars, thumbs up/down as 5/1)."""
    if "rating" not in df.columns and "notes" not in df.columns:
        return ""
    rating = (df["rating"] if "rating" in df.columns else pd.Series([None] * len(df), index=df.index)).map(stars)
    notes = df["notes"] if "notes" in df.columns else pd.Series([None] * len(df), index=df.index)
    given = [pos for pos in range(len(df)) if not m.is_missing(rating.iloc[pos]) or not m.is_missing(notes.iloc[pos])]
    if not given:
        return ""
    score = pd.to_numeric(rating, errors="coerce")
    given.sort(key=lambda p: -score.iloc[p] if not math.isnan(score.iloc[p]) else math.inf)
    vary = m.varying_columns(df)
    figs = []
    for pos in given:
        row: Any = df.iloc[pos]
        poster = sources.poster(row.get("poster"))
        alt = f"job #{m.as_text(row.get('job'))}"
        img = f'<a href="#sd-job-{pos}"><img src="{_e(poster)}" alt="{_e(alt)}"></a>' if poster else ""
        params = m.pairs_html(row, vary)
        note = "" if m.is_missing(notes.iloc[pos]) else f"<div>{_e(m.as_text(notes.iloc[pos]))}</div>"
        given_stars = "" if m.is_missing(rating.iloc[pos]) else f"<div>{_stars(rating.iloc[pos])}</div>"
        figs.append(
            f'<figure>{img}<figcaption><a href="#sd-job-{pos}">#{_e(m.as_text(row.get("job", pos)))}</a> '
            f'<span class="sd-cap">{params}</span>{given_stars}{note}</figcaption></figure>'
        )
    return f'<section id="ratings"><h2>Ratings and notes</h2><div class="rated">{"".join(figs)}</div></section>'


# --------------------------------------------------------------------------- public


set_public_module(__name__)
