"""A sweep as one HTML file a colleague can open without Jupyter.

::

    from seedance_nb.reporting import report
    path = report(sweep)                      # <run_dir>/report.html, videos linked from the run folder
    report(sweep, "share.html", embed=True)   # one portable file with every video inside
    bundle_report(sweep)                      # <run_dir>/<name>-report.zip: report, videos, posters, journal

The page holds the sweep's parameters (what varies and what is fixed), which backend made the videos
(the emulator's cost line says "emulated, nothing billed"), the input image(s) as small embedded
thumbnails, the grid(s) of videos with synchronized playback, a timeline of each job's queue wait and
generation time, a sortable table of every job (click a header), the totals of THIS run (cached jobs
are counted as cached and their old timings left out of the wall clock), the metrics of every measured
take (a sortable table with flags and filmstrips, and a plot of one metric per parameter value:
seedance_nb.quality), and the ratings and notes people gave. CSS and scripts are inline and nothing is
fetched from the network.

Where it plays: videos are referenced relative to the report's folder (never by an emulator's loopback
URL, which dies with the emulator); posters are embedded as small JPEG thumbnails, so every video shows
its first frame wherever the file is opened. Opened from disk (a file manager, ``file://``) or from any
web server, the videos play. JupyterLab's server refuses media requests from HTML it serves itself
(its file browser and ``/files/`` pages run in a sandbox, and the server answers 403 "Blocking request
from unknown origin"), so there the thumbnails show but the videos do not play: in a notebook the
object :func:`report` returns displays the same report inline, where JupyterLab serves the videos, plus
the ``file://`` link; ``seedance-nb report`` prints that link. ``embed=True`` plays everywhere (one large
file); :func:`bundle_report` (``seedance-nb report --bundle``) is the one to send: a zip of the report, its
videos, posters and journal that plays wherever it is unpacked. Every piece of user text is HTML-escaped;
only http(s) URLs and local files become links.

The page and its header, cards, inputs and grids are built here; the timeline (``_timeline``) and the
jobs table with the ratings (``_jobs``) are their own modules. Import every name from here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import pandas as pd

from .. import markup as m
from .._names import set_public_module
from .._text import plural
from ..duels import leaderboard_section
from ..figures import grid_body
from ..quality import metrics_section_html
from ..stats import noise_section_html
from ..statuses import UNDER_WAY, JobStatus
from ._bundle import bundle_report
from ._endpoints import by_endpoint_section, endpoint_table, promoted_section
from ._jobs import _jobs_table, _ratings
from ._timeline import _timeline

__all__ = ["ReportPath", "bundle_report", "endpoint_table", "report", "report_html"]

logger = logging.getLogger("seedance_nb.reporting")

_THUMB_PX = 320
_SECRET_WORDS = ("key", "token", "secret", "password", "auth")

_PAGE_CSS = """<style>
body{margin:0;background:#fff;color:#1f2328}
</style>"""

_REPORT_CSS = """<style>
.sd-report{--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--card:#f6f8fa;--accent:#2563eb;--queue:#f0b429;
--gen:#3b82f6;--fail:#e11d48;--ok:#16a34a;color:var(--fg);background:#fff;
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1280px;margin:0 auto;
padding:24px 28px 60px;box-sizing:border-box}
.sd-report *,.sd-report *::before,.sd-report *::after{box-sizing:border-box}
.sd-report header h1{font-size:26px;margin:0 0 2px;font-weight:650;letter-spacing:-.01em;overflow-wrap:anywhere}
.sd-report .sub{color:var(--muted);margin:0 0 14px}
.sd-report h2{font-size:18px;margin:34px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line);
font-weight:620}
.sd-report h3{font-size:15px;margin:18px 0 6px;font-weight:600}
.sd-report .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:14px 0}
.sd-report .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}
.sd-report .card .v{font-size:20px;font-weight:650;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.sd-report .card .v small{font-size:12px;font-weight:500;color:var(--muted)}
.sd-report .card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.sd-report table.kv{border-collapse:collapse;margin:4px 0 8px;max-width:100%}
.sd-report table.kv th{text-align:left;font-weight:600;padding:4px 14px 4px 0;vertical-align:top;white-space:nowrap}
.sd-report table.kv td{padding:4px 0;vertical-align:top;overflow-wrap:anywhere}
.sd-report .val{display:inline-block;background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:0 8px;margin:1px 4px 1px 0;max-width:100%;word-break:break-word}
.sd-report .thumbs{display:flex;gap:14px;flex-wrap:wrap}
.sd-report .thumbs figure{margin:0}
.sd-report .thumbs img{display:block;max-width:240px;max-height:240px;border-radius:6px;border:1px solid var(--line)}
.sd-report .thumbs figcaption{font-size:12px;color:var(--muted);margin-top:3px;max-width:240px;word-break:break-all}
.sd-report .scroll{overflow-x:auto;max-width:100%}
.sd-report figure.sd-metric-figure{margin:8px 0 18px}
.sd-report figure.sd-metric-figure figcaption{font-size:15px;font-weight:600;margin:0 0 4px}
.sd-report svg.sd-metric-plot{display:block;max-width:none}
.sd-report table.jobs{border-collapse:collapse;width:100%;font-size:13px}
.sd-report table.jobs th,.sd-report table.jobs td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;
vertical-align:top}
.sd-report table.jobs th{position:sticky;top:0;background:#fff;cursor:pointer;user-select:none;white-space:nowrap}
.sd-report table.jobs th:hover{color:var(--accent)}
.sd-report table.jobs th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
.sd-report table.jobs th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
.sd-report table.jobs td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.sd-report table.jobs tbody tr:hover{background:var(--card)}
.sd-report table.jobs td.err{color:var(--fail);min-width:160px;max-width:300px;overflow-wrap:anywhere}
.sd-report table.jobs td.txt{max-width:300px;overflow-wrap:anywhere}
.sd-report table.jobs td.wide{min-width:160px}
.sd-report table.jobs td.note{min-width:140px;max-width:260px}
.sd-report table.jobs td.job{white-space:nowrap}
.sd-report a{color:var(--accent);text-decoration:none}
.sd-report a:hover{text-decoration:underline}
.sd-report .legend{display:flex;flex-wrap:wrap;gap:16px;font-size:12px;color:var(--muted);margin-bottom:4px}
.sd-report .legend i{display:inline-block;width:12px;height:10px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.sd-report .timeline{font-size:12px;min-width:420px}
.sd-report .tl-row{display:grid;grid-template-columns:90px minmax(0,1fr) 150px;gap:8px;align-items:center;
min-height:20px}
.sd-report .tl-row>.tl-label{text-align:right;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sd-report .tl-track{position:relative;height:14px}
.sd-report .tl-track>div{position:absolute;top:1px;height:12px;border-radius:2px;min-width:1px}
.sd-report .tl-queue{background:var(--queue)}
.sd-report .tl-open{background:transparent;border:1px dashed #b7791f}
.sd-report .tl-gen{background:var(--gen)}
.sd-report .tl-gen.tl-failed{background:var(--fail)}
.sd-report .tl-gen.tl-cancelled{background:#9ca3af}
.sd-report .tl-end{color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sd-report .tl-axis .tl-track{height:16px;border-bottom:1px solid var(--line)}
.sd-report .tl-axis .tl-track>span{position:absolute;transform:translateX(-50%);color:var(--muted);
white-space:nowrap}
.sd-report .rated{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
.sd-report .rated figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px;background:var(--card)}
.sd-report .rated img{width:100%;border-radius:4px;display:block}
.sd-report .stars{color:#d97706;letter-spacing:1px}
.sd-report footer{margin-top:40px;color:var(--muted);font-size:12px}
.sd-report .sd-out{font-size:13px}
@media (max-width:900px){.sd-report{padding:14px 12px 40px}.sd-report header h1{font-size:21px}
.sd-report .tl-row{grid-template-columns:70px minmax(0,1fr) 110px}}
@media print{.sd-report table.jobs th{position:static}}
</style>"""


# --------------------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    return m.esc(value)


def _thumb_data_uri(path: Path) -> str | None:
    return m.thumbnail_data_uri(path, _THUMB_PX)


def _sweep_description(run_dir: Path | None) -> dict[str, Any]:
    """Scalar facts from ``sweep.json`` (name, endpoint, dates), never anything that looks like a secret."""
    if run_dir is None or not (run_dir / "sweep.json").is_file():
        return {}
    try:
        data = json.loads((run_dir / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("cannot read %s: %s", run_dir / "sweep.json", exc)
        return {}
    if not isinstance(data, Mapping):
        return {}
    return {
        str(k): v
        for k, v in data.items()
        if isinstance(v, str | int | float | bool) and not any(w in str(k).lower() for w in _SECRET_WORDS)
    }


def _ordered_values(series: pd.Series) -> list[Any]:
    seen: dict[Any, None] = {}
    for value in series:
        seen.setdefault(m.plain(value))
    return list(seen)


# --------------------------------------------------------------------------- sections


def _mean_queue(df: pd.DataFrame) -> float | None:
    """The mean queue wait of this run's jobs (cached ones waited in an earlier run)."""
    fresh = df["status"] != JobStatus.CACHED if "status" in df else pd.Series([True] * len(df), index=df.index)
    waits = pd.to_numeric(df.loc[fresh, "queue_seconds"], errors="coerce") if "queue_seconds" in df else None
    return float(waits.mean()) if waits is not None and waits.notna().any() else None


def _cost_card(t: Mapping[str, Any]) -> tuple[str, str, str]:
    if t["emulated"]:
        return ("cost", "$0.00", "emulated, nothing billed")
    if t.get("actual_usd") is not None:
        return ("cost (completed)", m.fmt_usd(t["actual_usd"] + t["estimated_rest_usd"]), m.cost_text(t))
    return ("cost (completed)", m.fmt_usd(t["cost_usd"]), "estimated" + (", cached free" if t["cached"] else ""))


def _status_cards(by: Mapping[str, int]) -> list[tuple[str, str, str]]:
    """Cards for work still running and for cancelled, interrupted or unknown jobs, in the order they show."""
    shown = (JobStatus.UNKNOWN, JobStatus.INTERRUPTED, JobStatus.CANCELLED)
    cards = [(str(status), str(by[status]), "") for status in shown if by.get(status)]
    pending = sum(by.get(s, 0) for s in m.STATUS_ORDER if s in UNDER_WAY)
    return cards + ([("still running", str(pending), "")] if pending else [])


def _cards(df: pd.DataFrame, backend: str | None) -> str:
    t = m.totals(df, backend)
    by = t["by_status"]
    done = sum(by.get(s, 0) for s in m.HAS_VIDEO)
    items: list[tuple[str, str, str]] = [
        ("backend", backend or "unknown", "videos made by " + ("the emulator" if t["emulated"] else backend or "?")),
        ("jobs", str(t["jobs"]), ""),
        ("videos", str(done), f"{by[JobStatus.CACHED]} cached from earlier runs" if by.get(JobStatus.CACHED) else ""),
        ("failed", str(by.get(JobStatus.FAILED, 0)), ""),
        *_status_cards(by),
        _cost_card(t),
        ("estimate (all jobs)", m.fmt_usd(t["estimated_usd"]), "on fal" if t["emulated"] else ""),
        ("video seconds", f"{t['video_seconds']:.1f} s", ""),
        ("generation (sum)", m.fmt_seconds(t["generation_seconds"]), "this run" if t["cached"] else ""),
        ("queue wait (mean)", m.fmt_seconds(_mean_queue(df)), ""),
        ("wall clock", m.fmt_seconds(t["wall_seconds"]), "this run" if t["cached"] else ""),
    ]
    cards = "".join(
        f'<div class="card" data-total="{_e(label)}"><div class="v">{_e(value)}</div>'
        f'<div class="l">{_e(label)}</div>'
        + (f'<div class="sub-l"><small>{_e(note)}</small></div>' if note else "")
        + "</div>"
        for label, value, note in items
    )
    return f'<div class="cards">{cards}</div>'


def _parameters(df: pd.DataFrame, run_dir: Path | None) -> str:
    inputs = m.input_columns(df)
    varying = m.varying_columns(df)
    rows_vary = "".join(
        f"<tr><th>{_e(c)}</th><td>"
        + "".join(f'<span class="val">{_e(m.as_text(v))}</span>' for v in _ordered_values(df[c]))
        + "</td></tr>"
        for c in varying
    )
    fixed = [c for c in inputs if c not in varying and len(df) and not m.is_missing(df[c].iloc[0])]
    rows_fixed = "".join(f"<tr><th>{_e(c)}</th><td>{_e(m.as_text(df[c].iloc[0]))}</td></tr>" for c in fixed)
    out = ['<section id="parameters"><h2>Parameters</h2>']
    facts = _sweep_description(run_dir)
    if facts:
        shown = {k: m.fmt_when(v) if k.endswith("_at") else v for k, v in facts.items()}
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in shown.items())
        out.append(f'<h3>Run</h3><table class="kv">{rows}</table>')
    out.append(f'<h3>Varies</h3><table class="kv" id="sd-varies">{rows_vary}</table>' if rows_vary else "")
    if not rows_vary:
        out.append("<p>Nothing varies: every job has the same inputs.</p>")
    out.append(f'<h3>Fixed</h3><table class="kv" id="sd-fixed">{rows_fixed}</table>' if rows_fixed else "")
    out.append("</section>")
    return "".join(out)


def _image_candidates(label: str, run_dir: Path | None) -> list[Path]:
    path = Path(label)
    found = [path] if path.is_absolute() else []
    for folder in (run_dir, run_dir / "inputs" if run_dir else None, run_dir / "images" if run_dir else None):
        if folder is not None:
            found.append(folder / path.name)
    found.append(Path.cwd() / label)
    return found


def _stored_inputs(run_dir: Path | None) -> dict[str, Path]:
    """The input images a run folder keeps under ``inputs/`` (by content hash), by the name the user gave them."""
    found: dict[str, Path] = {}
    journal = run_dir / "journal.jsonl" if run_dir is not None else None
    if journal is None or not journal.is_file():
        return found
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        if '"planned"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        for value in (event.get("payload") or {}).values():
            if isinstance(value, Mapping) and value.get("$file") and value.get("name"):
                path = run_dir / str(value["$file"])  # type: ignore[operator]
                if path.is_file():
                    found.setdefault(str(value["name"]), path)
    return found


def _input_image_src(text: str, rows: pd.DataFrame, stored: Mapping[str, Path], run_dir: Path | None) -> str | None:
    """An input image as a ``src``: its public URL, else a thumbnail of the first copy found on disk."""
    if m.safe_url(text, loopback=False):
        return text
    extra = [str(p) for p in rows.get("image_path", pd.Series(dtype=object)) if not m.is_missing(p)]
    kept = [stored[text]] if text in stored else []
    for candidate in [*kept, *map(Path, extra), *_image_candidates(text, run_dir)]:
        if candidate.is_file():
            src = _thumb_data_uri(candidate)
            if src:
                return src
    return None


def _poster_stand_in(rows: pd.DataFrame) -> tuple[str | None, str]:
    """The model starts from the input image, so a first frame stands in when the file is gone."""
    for job, poster in zip(rows.get("job", rows.index), rows["poster"], strict=False):
        if not m.is_missing(poster) and Path(str(poster)).is_file():
            return _thumb_data_uri(Path(str(poster))), f" (first frame of job {job})"
    return None, ""


def _input_figure(df: pd.DataFrame, column: str, label: Any, stored: Mapping[str, Path], run_dir: Path | None) -> str:
    text = str(label)
    rows = df[df[column].map(m.plain) == label]
    src, note = _input_image_src(text, rows, stored, run_dir), ""
    if src is None and column == "image" and "poster" in df.columns:
        src, note = _poster_stand_in(rows)
    label_html = f"{'end image' if column == 'end_image' else 'image'}: {_e(text)}{_e(note)}"
    body = f'<img src="{_e(src)}" alt="{_e(text)}">' if src else '<div class="sd-slot">not found</div>'
    return f"<figure>{body}<figcaption>{label_html}</figcaption></figure>"


def _input_images(df: pd.DataFrame, run_dir: Path | None) -> str:
    stored = _stored_inputs(run_dir)
    figures = [
        _input_figure(df, column, label, stored, run_dir)
        for column in ("image", "end_image")
        if column in df.columns
        for label in _ordered_values(df[column])
        if label is not None
    ]
    if not figures:
        return ""
    return f'<section id="inputs"><h2>Input images</h2><div class="thumbs">{"".join(figures)}</div></section>'


def _grids(
    df: pd.DataFrame,
    sources: m.Sources,
    rows: str | Sequence[str] | None,
    cols: str | Sequence[str] | None,
    anchors: Mapping[int, str],
    backend: str | None = None,
) -> str:
    if rows is None and cols is None:
        rows, cols = m.auto_axes(df)
    row_axis, col_axis = m.axis_columns(rows), m.axis_columns(cols)
    out = ['<section id="grid"><h2>Videos</h2>']
    split = "image" in row_axis and len(row_axis) > 1 and "image" in m.varying_columns(df, ["image"])
    if split:  # one grid per input image keeps the rows readable
        row_axis = tuple(c for c in row_axis if c != "image")
        groups = [(label, df.index[df["image"].map(m.plain) == label]) for label in _ordered_values(df["image"])]
    else:
        groups = [(None, df.index)]
    for label, index in groups:
        part = df.loc[index]
        local = {pos: anchors[cast(int, df.index.get_loc(i))] for pos, i in enumerate(index)}  # a unique index
        if label is not None:
            out.append(f"<h3>image: {_e(label)}</h3>")
        out.append(
            grid_body(part, row_axis, col_axis, sync=True, sources=sources, width=260, anchors=local, backend=backend)
        )
    out.append("</section>")
    return "".join(out)


def _report_header(df: pd.DataFrame, name: str, run_dir: Path | None, backend: str | None) -> str:
    """The title, what made the videos and when, the summary chips and the total cards."""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = f" · run folder {_e(run_dir.name)}" if run_dir is not None else ""
    made_by = {"emulator": "the emulator (nothing billed)", "fal": "fal"}.get(backend or "", backend or "")
    by = f' · videos by <b class="sd-backend">{_e(made_by)}</b>' if made_by else ""
    return (
        f'<header><h1>{_e(name)}</h1><p class="sub">{plural(len(df), "job")}{where}{by} · generated {generated}</p>'
        f"{m.summary_body(df, backend)}{_cards(df, backend)}</header>"
    )


def report_html(
    sweep_or_df: Any,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    embed: bool = False,
    title: str | None = None,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    fragment: bool = False,
    metric: str = "motion",
) -> str:
    """The report as a string.

    Args:
        sweep_or_df: a sweep, or its DataFrame.
        base_dir: the folder videos are linked relative to (the report's folder; default the working directory).
        embed: put every video inside the HTML as base64.
        title: the report's title (default: the run folder's name).
        rows: the grid's row column(s) (default: chosen from what varies).
        cols: the grid's column column(s).
        fragment: give the report's body (scoped CSS, no ``<html>``) for a notebook output; media are then
            referenced for JupyterLab, as :func:`seedance_nb.gallery` does.
        metric: the metric the metrics section plots per parameter value (any ``seedance_nb.quality`` column).
    """
    df = m.frame_of(sweep_or_df)
    run_dir = m.run_dir_of(sweep_or_df)
    backend = m.backend_of(sweep_or_df)
    if base_dir is None:
        base_dir = Path.cwd() if fragment or run_dir is None else run_dir
    sources = m.Sources(base_dir, embed, servable_only=fragment, report=not fragment)
    name = title or ("Seedance sweep · " + run_dir.name if run_dir is not None else "Seedance sweep")
    anchors = {pos: f"sd-job-{pos}" for pos in range(len(df))}
    body = [
        f'<main class="sd-report" data-backend="{_e(backend or "")}">',
        _report_header(df, name, run_dir, backend),
        _parameters(df, run_dir),
        _input_images(df, run_dir),
        _grids(df, sources, rows, cols, anchors, backend) if len(df) else "",
        by_endpoint_section(df),  # only when the jobs ran on more than one endpoint
        promoted_section(df, run_dir),  # only for a round that promoted takes
        _timeline(df),
        _jobs_table(df, sources, backend),
        metrics_section_html(df, metric=metric, image_src=sources.poster, run_dir=run_dir),  # "" if none measured
        noise_section_html(df, metric=metric),  # is the best group really ahead; cost against quality
        _ratings(df, sources),
        leaderboard_section(df, run_dir),  # only when the run has votes (seedance_nb.duels)
        '<footer>Made with seedance-nb. Videos play in place; "Play all" plays each grid together.</footer>',
        "</main>",
    ]
    sources.finish()
    if fragment:
        return m.CSS + _REPORT_CSS + "".join(body)
    head = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)}</title>{m.CSS}{_REPORT_CSS}{_PAGE_CSS}</head><body>",
    ]
    return "".join(head + body) + "</body></html>"


class ReportPath(type(Path())):  # type: ignore[misc]  # PosixPath or WindowsPath, whichever Path() makes
    """The path of a written report; in a notebook it displays a link to open it and the report itself.

    JupyterLab refuses media requests from HTML files it serves (403), so the notebook shows the report
    inline, where JupyterLab serves the videos like any output's.
    """

    #: The sweep (or DataFrame) the report was written from; shown inline in a notebook. None after a copy.
    source: Any = None

    def _repr_html_(self) -> str:
        uri = self.resolve().as_uri()
        note = (
            f'<p class="sd-cap">Wrote <code>{_e(str(self))}</code>. Open it from a file manager or in a browser '
            f'(<a href="{_e(uri)}" target="_blank" rel="noopener">{_e(uri)}</a>): the videos play there. '
            "JupyterLab's file browser shows the thumbnails only (its server answers 403 to video requests from "
            "HTML files it serves), so the report is shown here too:</p>"
        )
        if self.source is None:
            return note
        inline = report_html(self.source, fragment=True)
        return f'<div class="sd-report-link">{note}</div>{inline}'


def report(
    sweep_or_df: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    embed: bool = False,
    title: str | None = None,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    metric: str = "motion",
) -> ReportPath:
    """Write the sweep's report to ``path`` and return its path.

    The path (a :class:`ReportPath`) shows, as a notebook cell's last expression, a link and the report inline.

    Args:
        sweep_or_df: a sweep, or its DataFrame (``df.attrs["run_dir"]`` names the run folder).
        path: the file, or a folder to write ``report.html`` in (default ``<run_dir>/report.html``).
        embed: put every video inside the file (portable, but large; warns past
            :data:`seedance_nb.markup.EMBED_WARN_BYTES`). By default videos are linked relative to the report.
        title: the report's title (default: the run folder's name).
        rows: the grid's row column(s) (default: chosen from what varies).
        cols: the grid's column column(s).
        metric: the metric plotted per parameter value in the metrics section (any ``seedance_nb.quality``
            column).
    """
    run_dir = m.run_dir_of(sweep_or_df)
    if path is None:
        if run_dir is None:
            raise ValueError("this sweep has no run folder: pass path= for the report")
        target = run_dir / "report.html"
    else:
        target = Path(path)
        if target.is_dir():
            target = target / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    markup = report_html(
        sweep_or_df, base_dir=target.parent, embed=embed, title=title, rows=rows, cols=cols, metric=metric
    )
    part = target.with_name(target.name + ".part")
    part.write_text(markup, encoding="utf-8")
    os.replace(part, target)
    logger.info("wrote the report to %s (%.1f KB)", target, len(markup.encode()) / 1e3)
    written = ReportPath(target)
    written.source = sweep_or_df
    return written


set_public_module(__name__)
