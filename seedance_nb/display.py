"""Show videos in a notebook: one result, a grid pivoted by any columns, or a synchronized comparison.

Pure builders return an HTML string; thin wrappers display it (or return it
with ``return_html=True``)::

    import seedance_nb.display as sdd
    sdd.grid(sweep, rows="prompt", cols=("duration", "seed"), sync=True)
    sdd.compare(sweep.df.iloc[0], sweep.df.iloc[3])         # larger, played together

Sources are referenced, never copied, unless you ask: a video under the
current working directory (the notebook's folder, or ``base_dir=``) is linked
by a relative path, which JupyterLab serves through ``/files/`` with seeking;
otherwise its ``video_url``; otherwise a ``file://`` link (logged, because
browsers refuse those inside Jupyter). ``embed=True`` writes the bytes into
the output as base64 (Colab, portable reports) and warns past
:data:`EMBED_WARN_BYTES`. Posters (the first-frame JPEGs) follow the same
rule, and every video has ``preload="metadata"``, so a grid of 48 opens fast.

Grid layout: one table row per distinct value (or tuple of values) of
``rows`` and one column per value of ``cols``, in the order the data lists
them. Each cell shows its video with a caption of what varies across the grid
and is not already in the headers, then its queue and generation time and its
cost. Several rows in one cell (takes, or parameters left off both axes) are
shown side by side inside the cell, each with its own caption; put ``"take"``
on an axis (``cols=("seed", "take")``) to give takes their own columns.
Failed cells show the error type and message, unfinished cells their status,
and combinations with no job an empty slot.

Synchronized playback (``sync=True``) adds one control bar per grid (play and
pause, a shared seek slider, a time label) driven by a small inline script
scoped to that grid's container: the first video leads, the others are
snapped back when they drift by more than 0.1 s, and all are muted. Where
scripts do not run the bar stays hidden and each video keeps its own controls.

Every piece of user text (prompts, file names, errors, column values) is
escaped with :func:`html.escape`, in text and attributes alike.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import math
import os
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from .runs import OUTCOME_COLUMNS as _OUTCOME_COLUMNS

__all__ = [
    "EMBED_WARN_BYTES",
    "LargeOutputWarning",
    "compare",
    "compare_html",
    "grid",
    "grid_html",
    "result_html",
    "show",
    "show_html",
    "summary_html",
    "sweep_html",
    "video_html",
]

logger = logging.getLogger("seedance_nb.display")

#: Embedding more than this many bytes of media in one output warns (Colab caps outputs near 10 MB).
EMBED_WARN_BYTES = 10 * 1024 * 1024

#: Sweep DataFrame columns that describe a job's outcome rather than its input (docs/contracts.md).
OUTCOME_COLUMNS = _OUTCOME_COLUMNS
_DONE = frozenset({"completed", "cached"})
_PENDING = frozenset({"queued", "submitted", "running"})
_ROW_FIRST = ("prompt", "image", "end_image")
_VIDEO_MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4"}
_IMAGE_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


class LargeOutputWarning(UserWarning):
    """Embedded media made an output larger than :data:`EMBED_WARN_BYTES`."""


# --------------------------------------------------------------------------- small helpers


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """A hashable, display-friendly version of a cell value (NaN becomes None, 5.0 becomes 5)."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | dict | tuple | set):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value


def _text(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fmt_seconds(seconds: Any) -> str:
    """``12.3 s``, ``2 min 05 s`` or ``1 h 02 min``; an em dash when unknown."""
    if _missing(seconds):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_usd(usd: Any) -> str:
    """``$0.56``; four decimals below a cent; an em dash when unknown."""
    if _missing(usd):
        return "—"
    x = float(usd)
    return f"${x:.4f}" if 0 < abs(x) < 0.01 else f"${x:.2f}"


def script_json(value: Any) -> str:
    """JSON safe to place inside an inline ``<script>`` (no ``</``, ``<!--`` or ``-->`` can close it)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def new_container_id(prefix: str = "sd") -> str:
    """A unique element id, so several grids in one notebook never drive each other's videos."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- inputs


def frame_of(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a sweep (anything with ``.df``), one row, or a list of rows."""
    if isinstance(data, pd.DataFrame):
        return data
    df = getattr(data, "df", None)
    if isinstance(df, pd.DataFrame):
        if "run_dir" not in df.attrs and getattr(data, "run_dir", None) is not None:
            df = df.copy()
            df.attrs["run_dir"] = str(data.run_dir)
        return df
    if isinstance(data, list | tuple):
        return pd.DataFrame([row_of(item) for item in data])
    return pd.DataFrame([row_of(data)])


def run_dir_of(data: Any) -> Path | None:
    """The run folder of a sweep or of a DataFrame (``df.attrs["run_dir"]``), if known."""
    found = getattr(data, "run_dir", None)
    if found is None and isinstance(data, pd.DataFrame):
        found = data.attrs.get("run_dir")
    if found is None:
        df = getattr(data, "df", None)
        if isinstance(df, pd.DataFrame):
            found = df.attrs.get("run_dir")
    return Path(found) if found else None


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https", "data", "file", "blob")


def row_of(item: Any) -> dict[str, Any]:
    """One job as a dict of DataFrame columns, from a row, a mapping, a result object, a path or a URL."""
    if isinstance(item, pd.Series):
        return item.to_dict()
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, os.PathLike):
        return {"path": os.fspath(item)}
    if isinstance(item, str):
        return {"video_url": item} if _is_url(item) else {"path": item}
    for method in ("to_row", "to_dict"):
        fn = getattr(item, method, None)
        if callable(fn):
            out = fn()
            if isinstance(out, Mapping):
                return dict(out)
    row: dict[str, Any] = {}
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        row.update({f.name: getattr(item, f.name) for f in dataclasses.fields(item)})
    else:
        for name in (*OUTCOME_COLUMNS, "prompt", "image", "seed", "duration", "resolution", "aspect_ratio", "take"):
            if hasattr(item, name):
                row[name] = getattr(item, name)
    # A VideoOutput (``.video.url``, ``.seed``), alone or nested in a result record.
    for holder in (item, row.get("output"), row.get("result")):
        video = getattr(holder, "video", None)
        if video is not None and getattr(video, "url", None):
            row.setdefault("video_url", video.url)
            if getattr(video, "file_size", None) is not None:
                row.setdefault("file_size", video.file_size)
            if getattr(holder, "seed", None) is not None:
                row.setdefault("output_seed", holder.seed)
            if holder is item:  # a bare VideoOutput: its seed is the output seed, not an input
                for key in ("seed", "video", "extra"):
                    row.pop(key, None)
    # The input record (``VideoInput``) of a result: its fields are the job's parameters.
    inp = row.get("input")
    if inp is not None and dataclasses.is_dataclass(inp) and not isinstance(inp, type):
        for f in dataclasses.fields(inp):
            if f.name != "image_url":
                row.setdefault(f.name, getattr(inp, f.name))
    for key in ("input", "output", "result"):
        if key in row and not isinstance(row[key], str | int | float | bool):
            row.pop(key)
    video = row.get("video")
    if isinstance(video, str):
        row.setdefault("video_url", row.pop("video"))
    elif isinstance(video, Mapping) and video.get("url"):
        row.setdefault("video_url", video["url"])
        row.pop("video")
    if not row:
        raise TypeError(
            f"cannot show a {type(item).__name__}: pass a sweep, a DataFrame, a row, a result, a path or a URL"
        )
    return row


def input_columns(df: pd.DataFrame) -> list[str]:
    """The columns that describe what was asked for (everything but the outcome), in DataFrame order."""
    return [c for c in df.columns if c not in OUTCOME_COLUMNS and not str(c).startswith("_")]


def varying_columns(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[str]:
    """The input columns whose values differ between rows."""
    cols = input_columns(df) if columns is None else [c for c in columns if c in df.columns]
    return [c for c in cols if len({_plain(v) for v in df[c]}) > 1]


def auto_axes(df: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A readable pivot for a sweep: long text (prompt, images) down the side, the other varying inputs across.

    Takes stay inside their cells unless nothing else varies across.
    """
    varying = [c for c in varying_columns(df) if c != "take"]
    rows = tuple(c for c in varying if c in _ROW_FIRST)
    cols = tuple(c for c in varying if c not in _ROW_FIRST)
    if not rows and len(cols) > 1:
        rows, cols = cols[:1], cols[1:]
    if not cols and "take" in varying_columns(df, ["take"]):
        cols = ("take",)
    return rows, cols


# --------------------------------------------------------------------------- sources


class _Sources:
    """Turns local files and URLs into ``src`` values for one output, counting what gets embedded."""

    def __init__(self, base_dir: str | os.PathLike[str] | None, embed: bool, *, servable_only: bool = True) -> None:
        self.base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
        self.embed = embed
        # Inside Jupyter a hidden folder answers 404; a report opened from disk can read it.
        self.servable_only = servable_only
        self.embedded_bytes = 0
        self.file_urls: list[str] = []

    def _relative(self, path: Path) -> str | None:
        try:
            rel = path.resolve().relative_to(self.base)
        except ValueError:
            return None
        if self.servable_only and any(part.startswith(".") for part in rel.parts):
            logger.warning("%s lies in a hidden folder, which Jupyter does not serve", rel.as_posix())
            return None
        return quote(rel.as_posix(), safe="/")

    def _data_uri(self, path: Path, mime_table: Mapping[str, str], default: str) -> str:
        data = path.read_bytes()
        self.embedded_bytes += len(data)
        mime = mime_table.get(path.suffix.lower(), default)
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def video(self, path: Any, url: Any = None) -> str | None:
        local = Path(os.fspath(path)) if not _missing(path) and str(path) else None
        if local is not None and not local.is_file():
            logger.info("video file %s is missing; falling back to its URL", local)
            local = None
        remote = str(url) if not _missing(url) and str(url) else None
        if local is not None and self.embed:
            return self._data_uri(local, _VIDEO_MIME, "video/mp4")
        if local is not None:
            rel = self._relative(local)
            if rel is not None:
                return rel
        if remote is not None:
            return remote
        if local is not None:
            self.file_urls.append(str(local))
            return local.resolve().as_uri()
        return None

    def poster(self, path: Any) -> str | None:
        if _missing(path) or not str(path):
            return None
        text = str(path)
        if _is_url(text):
            return text
        local = Path(text)
        if not local.is_file():
            return None
        if self.embed:
            return self._data_uri(local, _IMAGE_MIME, "image/jpeg")
        rel = self._relative(local)
        return rel if rel is not None else local.resolve().as_uri()

    def finish(self) -> None:
        if self.file_urls:
            logger.warning(
                "%d video(s) lie outside %s and have no URL (first: %s); they are linked with file://, which "
                "browsers block inside Jupyter: move the run folder under the notebook folder, pass base_dir=, "
                "or pass embed=True",
                len(self.file_urls),
                self.base,
                self.file_urls[0],
            )
        if self.embedded_bytes:
            mb = self.embedded_bytes / 1e6
            logger.info("embedded %.1f MB of media as base64", mb)
            if self.embedded_bytes > EMBED_WARN_BYTES:
                warnings.warn(
                    f"embed=True wrote {mb:.1f} MB of base64 media into this output (and into the notebook); "
                    "show fewer videos, or reference them by file (embed=False)",
                    LargeOutputWarning,
                    stacklevel=3,
                )


def _video_tag(
    src: str,
    *,
    poster: str | None = None,
    width: int | None = None,
    height: int | None = None,
    autoplay: bool = False,
    muted: bool = True,
    loop: bool = True,
    controls: bool = True,
    preload: str = "metadata",
) -> str:
    attrs = [f'src="{_esc(src)}"']
    if poster:
        attrs.append(f'poster="{_esc(poster)}"')
    if width:
        attrs.append(f'width="{int(width)}"')
    if height:
        attrs.append(f'height="{int(height)}"')
    attrs.append(f'preload="{_esc(preload)}"')
    if autoplay:
        muted = True  # browsers only autoplay muted videos
        attrs.append("autoplay")
    flags = [name for name, on in (("muted", muted), ("loop", loop), ("controls", controls)) if on]
    return f"<video {' '.join(attrs + flags)} playsinline></video>"


# --------------------------------------------------------------------------- styles and sync script

CSS = """<style>
.sd-out{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:inherit;
max-width:100%;overflow-x:auto}
.sd-out video{display:block;max-width:100%;height:auto;background:#000;border-radius:4px}
.sd-grid{border-collapse:separate;border-spacing:6px;margin:0}
.sd-grid th{font-weight:600;text-align:left;vertical-align:bottom;padding:2px 4px}
.sd-grid th.sd-rowhead{vertical-align:top;min-width:140px;max-width:220px;font-weight:500;white-space:normal}
.sd-cell{vertical-align:top;padding:0}
.sd-takes{display:flex;gap:6px;flex-wrap:nowrap}
.sd-fig{margin:0;flex:0 0 auto}
.sd-grid video{max-width:none}
.sd-compare .sd-fig{max-width:100%}
.sd-fig figcaption,.sd-cap{font-size:11.5px;opacity:.85;margin-top:2px;max-width:100%}
.sd-vary{display:block;font-weight:600}
.sd-k{opacity:.65;font-weight:400}
.sd-slot{min-height:80px;min-width:120px;border:1px dashed rgba(128,128,128,.45);border-radius:4px;
display:flex;align-items:center;justify-content:center;opacity:.7;font-size:12px;padding:6px;box-sizing:border-box}
.sd-error{border-color:rgba(200,40,40,.7);color:#c62828;opacity:1;white-space:pre-wrap;word-break:break-word;
align-items:flex-start;justify-content:flex-start;max-width:320px}
.sd-status{font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.sd-syncbar{display:flex;gap:8px;align-items:center;margin:4px 6px}
.sd-syncbar[hidden]{display:none}
.sd-syncbar button{font:inherit;padding:2px 10px;border-radius:4px;border:1px solid rgba(128,128,128,.6);
background:transparent;color:inherit;cursor:pointer}
.sd-syncbar input{flex:1;min-width:120px;max-width:600px}
.sd-time{font-variant-numeric:tabular-nums;min-width:110px}
.sd-summary{display:flex;flex-wrap:wrap;gap:6px;margin:4px 6px;align-items:center}
.sd-chip{border:1px solid rgba(128,128,128,.45);border-radius:10px;padding:1px 8px}
.sd-chip b{font-weight:600}
.sd-completed,.sd-cached{color:#2e7d32}.sd-failed{color:#c62828}.sd-cancelled{color:#8d6e63}
.sd-running,.sd-queued,.sd-submitted{color:#1565c0}
.sd-compare{display:flex;gap:12px;flex-wrap:wrap;margin:6px}
.sd-compare .sd-title{font-weight:600;margin-bottom:3px;max-width:100%}
</style>"""

_SYNC_JS = """(function () {
  var root = document.getElementById(%s);
  if (!root || root.getAttribute("data-sd-synced")) return;
  root.setAttribute("data-sd-synced", "1");
  var vids = Array.prototype.slice.call(root.querySelectorAll("video"));
  var bar = root.querySelector(".sd-syncbar");
  if (!vids.length || !bar) return;
  var lead = vids[0], btn = bar.querySelector("button"), seek = bar.querySelector("input");
  var label = bar.querySelector(".sd-time"), dragging = false;
  function quiet(p) { if (p && p.catch) p.catch(function () {}); }
  vids.forEach(function (v, i) { v.muted = true; v.autoplay = false; if (i) v.loop = false; });
  bar.hidden = false;
  function fmt(t) {
    t = isFinite(t) ? t : 0;
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  function follow() {
    for (var i = 1; i < vids.length; i++) {
      var v = vids[i], d = v.duration, t = isFinite(d) ? Math.min(lead.currentTime, d) : lead.currentTime;
      // 0.1 s of drift while playing; a frame when paused, so paused frames can be compared
      if (Math.abs(v.currentTime - t) > (lead.paused ? 0.04 : 0.1)) v.currentTime = t;
      if (lead.paused || (isFinite(d) && lead.currentTime >= d)) { if (!v.paused) v.pause(); }
      else if (v.paused) quiet(v.play());
    }
  }
  function show() {
    var d = lead.duration;
    if (!dragging && isFinite(d) && d > 0) seek.value = Math.round(lead.currentTime / d * 1000);
    label.textContent = fmt(lead.currentTime) + " / " + fmt(d);
    btn.textContent = lead.paused ? "\\u25B6 Play all" : "\\u275A\\u275A Pause all";
  }
  btn.addEventListener("click", function () { if (lead.paused) quiet(lead.play()); else lead.pause(); });
  seek.addEventListener("input", function () {
    dragging = true;
    if (isFinite(lead.duration)) lead.currentTime = seek.value / 1000 * lead.duration;
    follow(); show();
  });
  seek.addEventListener("change", function () { dragging = false; });
  ["play", "pause", "seeked", "timeupdate", "loadedmetadata", "ended"].forEach(function (e) {
    lead.addEventListener(e, function () { follow(); show(); });
  });
  show();
})();"""


def sync_controls(container_id: str) -> tuple[str, str]:
    """The hidden control bar and the inline script that wires it to the videos inside ``container_id``."""
    bar = (
        '<div class="sd-syncbar" hidden><button type="button">▶ Play all</button>'
        '<input type="range" min="0" max="1000" step="1" value="0" aria-label="Seek all videos">'
        '<span class="sd-time">0:00.0 / 0:00.0</span></div>'
    )
    return bar, f"<script>{_SYNC_JS % script_json(container_id)}</script>"


# --------------------------------------------------------------------------- one video


def video_html(
    src: str | os.PathLike[str],
    *,
    poster: str | os.PathLike[str] | None = None,
    width: int | None = None,
    caption: str | None = None,
    autoplay: bool = False,
    muted: bool = True,
    loop: bool = True,
    controls: bool = True,
    preload: str = "metadata",
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """One ``<video>`` (in a ``<figure>`` when there is a caption). ``src`` is a path or a URL.

    A path under ``base_dir`` (default: the working directory) becomes a
    relative link; ``embed=True`` inlines it. ``autoplay`` implies ``muted``.
    """
    sources = _Sources(base_dir, embed)
    text = os.fspath(src)
    resolved = text if _is_url(text) else sources.video(text)
    if resolved is None:
        raise FileNotFoundError(f"no video at {text!r}")
    tag = _video_tag(
        resolved,
        poster=sources.poster(poster),
        width=width,
        autoplay=autoplay,
        muted=muted,
        loop=loop,
        controls=controls,
        preload=preload,
    )
    sources.finish()
    if caption is None:
        return tag
    return f'<figure class="sd-fig">{tag}<figcaption>{_esc(caption)}</figcaption></figure>'


# --------------------------------------------------------------------------- cells


def _pairs(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    parts = []
    for c in columns:
        value = _text(row.get(c))
        limit = 80 if c in _ROW_FIRST else 40
        parts.append(f'<span class="sd-k">{_esc(c)}</span> {_esc(_short(value, limit))}')
    return " · ".join(parts)


def _meta(row: Mapping[str, Any]) -> str:
    bits = []
    if not _missing(row.get("queue_seconds")):
        bits.append(f"queue {fmt_seconds(row['queue_seconds'])}")
    if not _missing(row.get("generation_seconds")):
        bits.append(f"gen {fmt_seconds(row['generation_seconds'])}")
    status = str(row.get("status") or "")
    cost = row.get("est_cost_usd")
    if status == "cached":
        bits.append("cached, no charge")
    elif status in _PENDING and not _missing(cost):
        bits.append(f"est. {fmt_usd(cost)}")
    elif status not in ("failed", "cancelled") and not _missing(cost):
        bits.append(fmt_usd(cost))  # fal bills completed jobs only
    return " · ".join(bits)


def _caption(row: Mapping[str, Any], vary: Sequence[str]) -> str:
    from .metrics import flags_html

    parts = []
    if vary:
        parts.append(f'<span class="sd-vary">{_pairs(row, vary)}</span>')
    parts.append(flags_html(row))  # frozen, black, cut, silent, short: "" for a clean take
    meta = _meta(row)
    if meta:
        parts.append(_esc(meta))
    return "".join(parts)


def _figure(
    row: Mapping[str, Any],
    vary: Sequence[str],
    sources: _Sources,
    width: int,
    *,
    anchor: str | None = None,
    title: str | None = None,
    slot_height: int | None = None,
) -> str:
    slot = f' style="height:{slot_height}px"' if slot_height else ""
    status = str(row.get("status") or ("completed" if row.get("path") or row.get("video_url") else "unknown"))
    id_attr = f' id="{_esc(anchor)}" style="width:{width}px"' if anchor else f' style="width:{width}px"'
    head = f'<div class="sd-title">{_esc(title)}</div>' if title else ""
    caption = _caption(row, vary)
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    if status == "failed":
        kind = _text(row.get("error_type")) if not _missing(row.get("error_type")) else "error"
        message = _text(row.get("error")) if not _missing(row.get("error")) else "the job failed"
        body = (
            f'<div class="sd-slot sd-error"{slot} title="{_esc(message)}">'
            f"<span><b>{_esc(kind)}</b>: {_esc(_short(message, 300))}</span></div>"
        )
        return f'<figure class="sd-fig" data-status="failed"{id_attr}>{head}{body}{cap}</figure>'
    if status not in _DONE and status != "unknown":
        badge = f'<span class="sd-status sd-{_esc(status)}">{_esc(status)}</span>'
        if not _missing(row.get("error")):  # e.g. interrupted: say why and what finishes it
            message = _text(row.get("error"))
            badge += f'<br><small title="{_esc(message)}">{_esc(_short(message, 160))}</small>'
        body = f'<div class="sd-slot"{slot}>{badge}</div>'
        return f'<figure class="sd-fig" data-status="{_esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    src = sources.video(row.get("path"), row.get("video_url"))
    if src is None:
        body = f'<div class="sd-slot"{slot}>no video file</div>'
        return f'<figure class="sd-fig" data-status="{_esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    height = None
    w, h = _plain(row.get("width")), _plain(row.get("height"))
    if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0:
        height = max(1, round(width * h / w))
    tag = _video_tag(src, poster=sources.poster(row.get("poster")), width=width, height=height)
    return f'<figure class="sd-fig" data-status="{_esc(status)}"{id_attr}>{head}{tag}{cap}</figure>'


# --------------------------------------------------------------------------- grid


_EMPTY_CELL = '<td class="sd-cell sd-missing"><div class="sd-slot" title="no job for this combination"></div></td>'


def _axis(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (spec,)
    return tuple(spec)


def _header(columns: Sequence[str], key: tuple[Any, ...], *, limit: int) -> str:
    if not columns:
        return ""
    lines = []
    for c, v in zip(columns, key, strict=True):
        full = _text(v)
        if len(columns) == 1 and c in _ROW_FIRST:
            lines.append(f'<span title="{_esc(full)}">{_esc(_short(full, limit))}</span>')
        else:
            lines.append(
                f'<span class="sd-k">{_esc(c)}</span> <span title="{_esc(full)}">{_esc(_short(full, limit))}</span>'
            )
    return "<br>".join(lines)


def grid_body(
    df: pd.DataFrame,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "seed",
    *,
    sync: bool = False,
    sources: _Sources,
    width: int = 240,
    anchors: Mapping[int, str] | None = None,
    sort_by: str | None = None,
) -> str:
    """The grid without its ``<style>`` block (the report shares one). See :func:`grid_html`."""
    row_cols, col_cols = _axis(rows), _axis(cols)
    unknown = [c for c in (*row_cols, *col_cols) if c not in df.columns]
    if unknown:
        raise KeyError(
            f"cannot pivot on {', '.join(map(repr, unknown))}: no such column; "
            f"the inputs are {', '.join(input_columns(df)) or '(none)'}"
        )
    vary = [c for c in varying_columns(df) if c not in row_cols and c not in col_cols]
    records = df.to_dict("records")
    positions = list(range(len(records)))
    row_keys: dict[tuple[Any, ...], None] = {}
    col_keys: dict[tuple[Any, ...], None] = {}
    cells: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]] = {}
    for i, rec in zip(positions, records, strict=True):
        rk = tuple(_plain(rec.get(c)) for c in row_cols)
        ck = tuple(_plain(rec.get(c)) for c in col_cols)
        row_keys.setdefault(rk)
        col_keys.setdefault(ck)
        cells.setdefault((rk, ck), []).append(i)
    if sort_by is not None:  # each row lists its takes best first by a metric; captions say what the columns were
        from .metrics import ranked_cells

        vary = [*vary, *(c for c in col_cols if c not in vary)]
        col_cols, col_keys, cells = ranked_cells(records, row_keys, cells, col_keys, sort_by)  # type: ignore[assignment]

    # Placeholders take the size of the grid's videos, so rows line up.
    ratios = [
        h / w
        for w, h in ((_plain(r.get("width")), _plain(r.get("height"))) for r in records)
        if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0
    ]
    slot_height = round(width * sorted(ratios)[len(ratios) // 2]) if ratios else None
    container = new_container_id()
    out = [f'<div class="sd-out sd-gridwrap" id="{container}">']
    bar, script = sync_controls(container) if sync else ("", "")
    out.append(bar)
    out.append('<table class="sd-grid">')
    if col_cols:
        corner = " · ".join(_esc(c) for c in row_cols)
        out.append(
            f'<thead><tr><th class="sd-corner"><span class="sd-k">{corner}</span></th>' if row_cols else "<thead><tr>"
        )
        for ck in col_keys:
            out.append(f'<th class="sd-colhead">{_header(col_cols, ck, limit=40)}</th>')
        out.append("</tr></thead>")
    out.append("<tbody>")
    for rk in row_keys:
        out.append('<tr class="sd-row">')
        if row_cols:
            out.append(f'<th class="sd-rowhead" scope="row">{_header(row_cols, rk, limit=160)}</th>')
        for ck in col_keys:
            members = cells.get((rk, ck))
            if not members:
                out.append(_EMPTY_CELL)
                continue
            figs = "".join(
                _figure(records[i], vary, sources, width, anchor=(anchors or {}).get(i), slot_height=slot_height)
                for i in members
            )
            out.append(f'<td class="sd-cell"><div class="sd-takes">{figs}</div></td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append(script)
    return "".join(out)


def grid_html(
    data: Any,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "seed",
    *,
    sync: bool = False,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    width: int = 240,
    sort_by: str | None = None,
) -> str:
    """A table of videos pivoted by ``rows`` and ``cols`` (a column name, a tuple of names, or None).

    ``data`` is a sweep, its DataFrame, or a list of rows. See the module docstring for the layout.
    ``sort_by="motion"`` (any metric column) lists each row's takes best first instead of by column.
    """
    df = frame_of(data)
    sources = _Sources(base_dir, embed)
    body = grid_body(df, rows, cols, sync=sync, sources=sources, width=width, sort_by=sort_by)
    sources.finish()
    return CSS + body


# --------------------------------------------------------------------------- compare, result, summary


def _labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    df = pd.DataFrame(list(rows))
    vary = varying_columns(df)
    labels = []
    for n, row in enumerate(rows, 1):
        if vary:
            labels.append(" · ".join(f"{c} {_short(_text(row.get(c)), 60)}" for c in vary))
            continue
        ref = row.get("path") if not _missing(row.get("path")) else row.get("video_url")
        if not _missing(ref) and not str(ref).startswith("data:"):
            labels.append(Path(urlsplit(str(ref)).path).name or f"video {n}")
        else:
            labels.append(f"video {n}")
    return labels


def compare_html(
    *items: Any,
    sync: bool = True,
    labels: Sequence[str] | None = None,
    width: int = 480,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> str:
    """A few videos side by side at a larger size, titled by what differs, played together by default.

    Each item is a row, a result, a path or a URL; a DataFrame or sweep contributes all its rows.
    """
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, pd.DataFrame) or isinstance(getattr(item, "df", None), pd.DataFrame):
            rows.extend(frame_of(item).to_dict("records"))
        else:
            rows.append(row_of(item))
    if not rows:
        raise ValueError("compare needs at least one video")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"got {len(labels)} labels for {len(rows)} videos")
    titles = list(labels) if labels is not None else _labels(rows)
    sources = _Sources(base_dir, embed)
    container = new_container_id()
    bar, script = sync_controls(container) if sync else ("", "")
    figs = "".join(_figure(r, (), sources, width, title=t) for r, t in zip(rows, titles, strict=True))
    sources.finish()
    return f'{CSS}<div class="sd-out" id="{container}">{bar}<div class="sd-compare">{figs}</div></div>{script}'


def result_html(
    row_or_result: Any, *, width: int = 480, embed: bool = False, base_dir: str | os.PathLike[str] | None = None
) -> str:
    """One job: its video (or error, or status), its prompt and settings, timing and cost."""
    row = row_of(row_or_result)
    sources = _Sources(base_dir, embed)
    fig = _figure(row, (), sources, width)
    sources.finish()
    settings = [c for c in row if c not in OUTCOME_COLUMNS and c != "prompt" and not _missing(row.get(c))]
    lines = []
    if not _missing(row.get("prompt")):
        lines.append(f'<div class="sd-title">{_esc(_text(row["prompt"]))}</div>')
    if settings:
        lines.append(f'<div class="sd-cap">{_pairs(row, settings)}</div>')
    return f'{CSS}<div class="sd-out">{"".join(lines)}{fig}</div>'


def _sum(df: pd.DataFrame, column: str, mask: Any = None) -> float:
    if column not in df.columns:
        return 0.0
    series = pd.to_numeric(df[column] if mask is None else df.loc[mask, column], errors="coerce")
    total = series.sum(skipna=True)
    return float(total) if not math.isnan(total) else 0.0


def totals(df: pd.DataFrame) -> dict[str, Any]:
    """Counts by status, cost and time totals of a sweep DataFrame (shared by the summary and the report)."""
    status = df["status"].fillna("unknown").astype(str) if "status" in df.columns else pd.Series(["unknown"] * len(df))
    counts = {k: int(v) for k, v in status.value_counts(sort=False).items()}
    billed = (status == "completed").to_numpy()
    wall = None
    if "submitted_at" in df.columns and "completed_at" in df.columns:
        start = pd.to_datetime(df["submitted_at"], errors="coerce", utc=True).min()
        end = pd.to_datetime(df["completed_at"], errors="coerce", utc=True).max()
        if not _missing(start) and not _missing(end):
            wall = max(0.0, (end - start).total_seconds())
    return {
        "jobs": len(df),
        "by_status": counts,
        "cost_usd": _sum(df, "est_cost_usd", billed),
        "estimated_usd": _sum(df, "est_cost_usd"),
        "generation_seconds": _sum(df, "generation_seconds"),
        "queue_seconds": _sum(df, "queue_seconds"),
        "video_seconds": _sum(df, "video_seconds"),
        "wall_seconds": wall,
    }


def summary_body(df: pd.DataFrame) -> str:
    t = totals(df)
    order = ["completed", "cached", "failed", "cancelled", "running", "submitted", "queued"]
    statuses = sorted(t["by_status"], key=lambda s: order.index(s) if s in order else len(order))
    chips = [f'<span class="sd-chip"><b>{t["jobs"]}</b> jobs</span>']
    chips += [f'<span class="sd-chip sd-{_esc(s)}"><b>{t["by_status"][s]}</b> {_esc(s)}</span>' for s in statuses]
    chips.append(f'<span class="sd-chip">cost <b>{fmt_usd(t["cost_usd"])}</b></span>')
    chips.append(f'<span class="sd-chip">generation <b>{fmt_seconds(t["generation_seconds"])}</b> (sum)</span>')
    if t["wall_seconds"] is not None:
        chips.append(f'<span class="sd-chip">wall clock <b>{fmt_seconds(t["wall_seconds"])}</b></span>')
    return f'<div class="sd-summary">{"".join(chips)}</div>'


def summary_html(data: Any) -> str:
    """One line of counts by status, the cost of completed jobs, summed generation time and wall-clock time."""
    return f'{CSS}<div class="sd-out">{summary_body(frame_of(data))}</div>'


def sweep_html(
    data: Any,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    *,
    sync: bool = False,
    embed: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    width: int | None = None,
    sort_by: str | None = None,
) -> str:
    """The summary and the grid of a sweep (``Sweep._repr_html_``); ``sort_by`` as in :func:`grid_html`.

    Axes are chosen from what varies (:func:`auto_axes`) unless given; ``width=None`` shrinks the
    videos (240 down to 160 px) when a row holds more than four.
    """
    df = frame_of(data)
    if rows is None and cols is None:
        rows, cols = auto_axes(df)
    if width is None:
        row_cols = [c for c in _axis(rows) if c in df.columns]
        groups = len({tuple(_plain(v) for v in key) for key in df[row_cols].itertuples(index=False)}) if row_cols else 1
        per_row = len(df) / max(1, groups)
        width = 240 if per_row <= 4 else max(160, int(1000 // per_row))
    sources = _Sources(base_dir, embed)
    body = grid_body(df, rows, cols, sync=sync, sources=sources, width=width, sort_by=sort_by)
    sources.finish()
    return f'{CSS}<div class="sd-out">{summary_body(df)}</div>{body}'


def show_html(x: Any, **kwargs: Any) -> str:
    """What :func:`show` displays: a sweep or DataFrame as :func:`sweep_html`, else :func:`result_html`."""
    if isinstance(x, pd.DataFrame) or isinstance(getattr(x, "df", None), pd.DataFrame) or isinstance(x, list):
        return sweep_html(x, **kwargs)
    return result_html(x, **kwargs)


# --------------------------------------------------------------------------- thin display wrappers


def _display(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def show(x: Any, return_html: bool = False, **kwargs: Any) -> str | None:
    """Display one result, row, path or URL, or a whole sweep; ``return_html=True`` returns the HTML instead."""
    markup = show_html(x, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None


def grid(
    data: Any, rows: Any = "prompt", cols: Any = "seed", *, return_html: bool = False, **kwargs: Any
) -> str | None:
    """Display :func:`grid_html` (``return_html=True`` returns it)."""
    markup = grid_html(data, rows, cols, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None


def compare(*items: Any, return_html: bool = False, **kwargs: Any) -> str | None:
    """Display :func:`compare_html` (``return_html=True`` returns it)."""
    markup = compare_html(*items, **kwargs)
    if return_html:
        return markup
    _display(markup)
    return None
