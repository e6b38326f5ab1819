"""The HTML seam: every piece of markup the notebook views, the report and the widgets share.

:mod:`seedance_nb.display` (grids, compares and results in a notebook), :mod:`seedance_nb.reporting` (the
self-contained report), :mod:`seedance_nb.widgets` (the job board) and :mod:`seedance_nb.quality` build their
HTML from these pieces and nothing else: escaping (:func:`esc`, :func:`as_text`), which URLs may become a
``src``/``href`` (:func:`safe_url`), labels that tell long prompts apart (:func:`distinct_labels`,
:func:`short_maps`), the formatters (:func:`fmt_usd`, :func:`fmt_seconds`, :func:`fmt_when`), where a video
is served from (:class:`Sources`), one video (:func:`video_html`), a pivoted grid (:func:`grid_body`), the
run's totals and summary (:func:`totals`, :func:`summary_body`), the job table (:func:`jobs_table`), the
stylesheet (:data:`CSS`) and the sortable-table script (:func:`sortable_table_script`). No other module reaches
into another's private names for markup (ruff's SLF001 is on); a piece two of them need is added here, public,
with its own test.

Status words come from :class:`seedance_nb.runs.JobStatus` only (:data:`HAS_VIDEO`, :data:`ESTIMATED`,
:data:`STATUS_ORDER` are built from it), so a new status shows everywhere at once.

Every piece of user or server text is escaped with :func:`html.escape`, in text and attributes alike, and only
http(s) URLs, local paths and the ``data:`` URIs made here ever become a ``src`` or ``href``.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import logging
import math
import os
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

import pandas as pd

from . import _set_module
from .runs import OUTCOME_COLUMNS as _OUTCOME_COLUMNS
from .runs import JobStatus

__all__ = [
    "CSS",
    "EMBED_WARN_BYTES",
    "ESTIMATED",
    "HAS_VIDEO",
    "LargeOutputWarning",
    "MIN_COMPARE_PX",
    "MIN_VIDEO_PX",
    "NOT_BILLED",
    "OUTCOME_COLUMNS",
    "STATUS_ORDER",
    "Sources",
    "THUMBS",
    "as_text",
    "auto_axes",
    "axis_columns",
    "backend_header",
    "backend_of",
    "caption_html",
    "cost_text",
    "distinct_labels",
    "esc",
    "figure_html",
    "fmt_seconds",
    "fmt_usd",
    "fmt_when",
    "frame_of",
    "grid_body",
    "header_html",
    "input_columns",
    "is_loopback_url",
    "is_missing",
    "job_label",
    "jobs_table",
    "meta_text",
    "new_container_id",
    "pairs_html",
    "plain",
    "rating_stars",
    "row_of",
    "run_dir_of",
    "safe_url",
    "script_json",
    "short_maps",
    "sortable_table_script",
    "shorten",
    "summary_body",
    "sync_controls",
    "thumbnail_data_uri",
    "totals",
    "varying_columns",
    "video_html",
    "video_tag",
]

logger = logging.getLogger("seedance_nb.display")  # the name users configured before the split

#: Embedding more than this many bytes of media in one output warns (Colab caps outputs near 10 MB).
EMBED_WARN_BYTES = 10 * 1024 * 1024

#: Sweep DataFrame columns that describe a job's outcome rather than its input (docs/contracts.md).
OUTCOME_COLUMNS = _OUTCOME_COLUMNS
_S = JobStatus
#: Statuses whose row has a video to show.
HAS_VIDEO = frozenset({_S.COMPLETED, _S.CACHED})
#: Statuses whose cost is only an estimate: nothing is billed yet (fal bills a request when it completes).
ESTIMATED = frozenset({_S.PLANNED, _S.SUBMITTING, _S.SUBMITTED, _S.RUNNING, _S.INTERRUPTED, _S.UNKNOWN})
#: Statuses fal bills nothing for.
NOT_BILLED = frozenset({_S.FAILED, _S.CANCELLED})
#: The order statuses are listed in (summaries, the report): outcomes first, then work still to do.
STATUS_ORDER: tuple[JobStatus, ...] = (
    _S.COMPLETED,
    _S.CACHED,
    _S.FAILED,
    _S.CANCELLED,
    _S.INTERRUPTED,
    _S.UNKNOWN,
    _S.DOWNLOADING,
    _S.RUNNING,
    _S.SUBMITTED,
    _S.SUBMITTING,
    _S.PLANNED,
)
assert set(STATUS_ORDER) == set(JobStatus), "every status has a place in STATUS_ORDER"
_ROW_FIRST = ("prompt", "image", "end_image")
_VIDEO_MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".m4v": "video/mp4"}
_IMAGE_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


class LargeOutputWarning(UserWarning):
    """Embedded media made an output larger than :data:`EMBED_WARN_BYTES`."""


# --------------------------------------------------------------------------- small helpers


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    """A hashable, display-friendly version of a cell value (NaN becomes None, 5.0 becomes 5)."""
    if is_missing(value):
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


def as_text(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def safe_url(url: Any, *, loopback: bool = True) -> str | None:
    """``url`` if it may become an ``href`` or ``src``: http(s) only (never ``javascript:``, ``data:`` or others).

    ``loopback=False`` also refuses ``127.0.0.1``/``localhost`` URLs (an emulator's, dead once it stops).
    """
    if is_missing(url):
        return None
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if not loopback and (parts.hostname or "").lower() in _LOOPBACK:
        return None
    return text


def is_loopback_url(url: Any) -> bool:
    """True for an http(s) URL on this machine (the emulator's)."""
    text = safe_url(url)
    return text is not None and (urlsplit(text).hostname or "").lower() in _LOOPBACK


def distinct_labels(texts: Sequence[Any], limit: int = 60) -> list[str]:
    """Short labels that tell texts apart: a long prefix they all share is elided (``…``) before the part that differs.

    ``["a long shared opening, then red", "a long shared opening, then blue"]`` → ``["…then red", "…then blue"]``.
    Use the full text as a tooltip (``title=``) next to the label.
    """
    full = [as_text(t) for t in texts]
    distinct = list(dict.fromkeys(full))
    prefix = os.path.commonprefix(distinct) if len(distinct) > 1 else ""
    cut = 0
    if len(prefix) > 12:
        # Back up to a word boundary so the label starts with a whole word.
        cut = prefix.rstrip().rfind(" ") + 1
        if cut < 8:
            cut = 0
    out = []
    for text in full:
        if cut and len(text) > cut:
            out.append("…" + shorten(text[cut:], max(8, limit - 1)))
        else:
            out.append(shorten(text, limit))
    return out


#: The one rating scale: 1-5 stars. Thumbs are shortcuts stored as 5 (up) and 1 (down).
THUMBS = {"up": 5, "down": 1}


def rating_stars(value: Any) -> int | None:
    """A rating on the 1-5 star scale: an int 1..5, or a thumbs shortcut (``"up"``/``True`` → 5, ``"down"``/``False``
    → 1, as older journals stored them); None when there is none or it is not a rating."""
    value = plain(value)
    if isinstance(value, bool):
        return 5 if value else 1
    if isinstance(value, str) and value.strip().lower() in THUMBS:
        return THUMBS[value.strip().lower()]
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value <= 5:
        return int(round(value))
    return None


def fmt_when(value: Any) -> str:
    """A timestamp (ISO text, datetime or epoch seconds) as ``2026-11-25 08:41 UTC``; an em dash when unknown."""
    if is_missing(value):
        return "—"
    try:
        stamp = pd.Timestamp(value, unit="s", tz="UTC") if isinstance(value, int | float) else pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def fmt_seconds(seconds: Any) -> str:
    """``12.3 s``, ``2 min 05 s`` or ``1 h 02 min``; an em dash when unknown."""
    if is_missing(seconds):
        return "—"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_usd(usd: Any) -> str:
    """``$0.56``; four decimals below a cent; an em dash when unknown."""
    if is_missing(usd):
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


def backend_of(data: Any) -> str | None:
    """``"emulator"`` or ``"fal"``: from the ``backend`` column, the sweep's meta or ``sweep.json``.

    Older run folders name no backend; a video URL on this machine then means the emulator.
    """
    df = frame_of(data) if not isinstance(data, pd.DataFrame) else data
    if "backend" in df.columns:
        values = [str(v) for v in df["backend"] if not is_missing(v)]
        if values:
            return values[0]
    meta = getattr(data, "meta", None)
    if isinstance(meta, Mapping) and meta.get("backend"):
        return str(meta["backend"])
    found = df.attrs.get("backend")
    if found:
        return str(found)
    run_dir = run_dir_of(data)
    if run_dir is not None and (run_dir / "sweep.json").is_file():
        try:
            stored = json.loads((run_dir / "sweep.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, Mapping) and stored.get("backend"):
            return str(stored["backend"])
    if "video_url" in df.columns:
        urls = [u for u in df["video_url"] if not is_missing(u)]
        if urls:
            return "emulator" if all(is_loopback_url(u) for u in urls) else "fal"
    return None


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https", "data", "file", "blob")


def row_of(item: Any) -> dict[str, Any]:
    """One job as a dict of DataFrame columns, from a row, a mapping, a result object, a path or a URL."""
    if isinstance(item, pd.Series):
        return {str(k): v for k, v in item.items()}
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
    row = _row_of_object(item)
    if not row:
        raise TypeError(
            f"cannot show a {type(item).__name__}: pass a sweep, a DataFrame, a row, a result, a path or a URL"
        )
    return row


def _row_of_object(item: Any) -> dict[str, Any]:
    """A result object's fields as columns: a dataclass's fields, else the known column attributes."""
    row: dict[str, Any] = {}
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        row.update({f.name: getattr(item, f.name) for f in dataclasses.fields(item)})
    else:
        for name in (*OUTCOME_COLUMNS, "prompt", "image", "seed", "duration", "resolution", "aspect_ratio", "take"):
            if hasattr(item, name):
                row[name] = getattr(item, name)
    _add_video_output(row, item)
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
    return row


def _add_video_output(row: dict[str, Any], item: Any) -> None:
    """A VideoOutput (``.video.url``, ``.seed``), alone or nested in a result record, into ``row``."""
    for holder in (item, row.get("output"), row.get("result")):
        video = getattr(holder, "video", None)
        if video is None or not getattr(video, "url", None):
            continue
        row.setdefault("video_url", video.url)
        if getattr(video, "file_size", None) is not None:
            row.setdefault("file_size", video.file_size)
        seed = getattr(holder, "seed", None)
        if seed is not None:
            row.setdefault("output_seed", seed)
        if holder is item:  # a bare VideoOutput: its seed is the output seed, not an input
            for key in ("seed", "video", "extra"):
                row.pop(key, None)


def input_columns(df: pd.DataFrame) -> list[str]:
    """The columns that describe what was asked for (everything but the outcome), in DataFrame order."""
    return [c for c in df.columns if c not in OUTCOME_COLUMNS and not str(c).startswith("_")]


def varying_columns(df: pd.DataFrame, columns: Iterable[str] | None = None) -> list[str]:
    """The input columns whose values differ between rows."""
    cols = input_columns(df) if columns is None else [c for c in columns if c in df.columns]
    return [c for c in cols if len({plain(v) for v in df[c]}) > 1]


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


#: Videos never shrink below this width (px) to fit; past it the grid scrolls inside its own box.
MIN_VIDEO_PX = 160
#: The same floor for :func:`compare`, whose videos are meant to be looked at closely.
MIN_COMPARE_PX = 240
_POSTER_THUMB_PX = 480


def thumbnail_data_uri(path: str | os.PathLike[str], px: int = _POSTER_THUMB_PX) -> str | None:
    """A JPEG thumbnail (at most ``px`` on its longer side) of an image file as a ``data:`` URI, or None."""
    from PIL import Image

    try:
        with Image.open(path) as opened:
            img = opened.convert("RGB")
            img.thumbnail((px, px))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=82)
    except (OSError, ValueError) as exc:
        logger.info("cannot read image %s for a thumbnail: %s", path, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, ValueError):
        return None


class Sources:
    """Turns local files and URLs into ``src`` values for one output, counting what gets embedded.

    Only http(s) URLs, paths and ``data:`` URIs made here from local files ever come out (never ``javascript:``).
    ``report=True`` is for a file opened outside Jupyter: a loopback (emulator) URL is never used, posters are
    embedded as small thumbnails (they then show wherever the file is opened), and a video outside the report's
    folder is linked with a relative ``../`` path.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None,
        embed: bool,
        *,
        servable_only: bool = True,
        report: bool = False,
    ) -> None:
        self.base = Path(base_dir if base_dir is not None else Path.cwd()).resolve()
        self.embed = embed
        # Inside Jupyter a hidden folder answers 404; a report opened from disk can read it.
        self.servable_only = servable_only
        self.report = report
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
        local = Path(os.fspath(path)) if not is_missing(path) and str(path) else None
        if local is not None and not local.is_file():
            logger.info("video file %s is missing; falling back to its URL", local)
            local = None
        remote = safe_url(url, loopback=not self.report)
        if not is_missing(url) and remote is None and not is_loopback_url(url):
            logger.warning("not linking a video URL that is not http(s): %.60r", str(url))
        if local is not None and self.embed:
            return self._data_uri(local, _VIDEO_MIME, "video/mp4")
        if local is not None:
            rel = self._relative(local)
            if rel is not None:
                return rel
        if remote is not None:
            return remote
        if local is not None and self.report:
            return quote(Path(os.path.relpath(local.resolve(), self.base)).as_posix(), safe="/")
        if local is not None:
            self.file_urls.append(str(local))
            return local.resolve().as_uri()
        return None

    def poster(self, path: Any) -> str | None:
        if is_missing(path) or not str(path):
            return None
        text = str(path)
        if "://" in text or text.lower().startswith(("data:", "javascript:")):
            return safe_url(text, loopback=not self.report)
        local = Path(text)
        if not local.is_file():
            return None
        if self.embed:
            return self._data_uri(local, _IMAGE_MIME, "image/jpeg")
        if self.report:
            uri = thumbnail_data_uri(local)
            if uri:
                self.embedded_bytes += len(uri)
            return uri
        return self._relative(local)

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
        if self.embedded_bytes and self.embed:
            mb = self.embedded_bytes / 1e6
            logger.info("embedded %.1f MB of media as base64", mb)
            if self.embedded_bytes > EMBED_WARN_BYTES:
                warnings.warn(
                    f"embed=True wrote {mb:.1f} MB of base64 media into this output (and into the notebook); "
                    "show fewer videos, or reference them by file (embed=False)",
                    LargeOutputWarning,
                    stacklevel=3,
                )


def video_tag(
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
    """The player: a box of the video's aspect ratio holding the poster as an ``<img>`` under the ``<video>``.

    JupyterLab rewrites a relative ``src`` (of the ``<img>`` and the ``<video>``) to ``/files/…`` but not a
    ``poster`` attribute, so the first frame is an image under a transparent video: it shows before anything
    plays, in JupyterLab, Notebook 7, VS Code and a report alike, and the video paints over it once loaded.
    """
    attrs = [f'src="{esc(src)}"', f'preload="{esc(preload)}"']
    if autoplay:
        muted = True  # browsers only autoplay muted videos
        attrs.append("autoplay")
    flags = [name for name, on in (("muted", muted), ("loop", loop), ("controls", controls)) if on]
    video = f"<video {' '.join(attrs + flags)} playsinline></video>"
    style = []
    if width and height:
        style.append(f"aspect-ratio:{int(width)} / {int(height)}")
    if width:
        style.append(f"max-width:{int(width)}px")
    img = f'<img class="sd-poster" src="{esc(poster)}" alt="" decoding="async">' if poster else ""
    cls = "sd-media sd-has-poster" if poster else "sd-media"
    return f'<div class="{cls}" style="{";".join(style)}">{img}{video}</div>'


# --------------------------------------------------------------------------- styles and sync script

CSS = """<style>
.sd-out{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:inherit;
max-width:100%;overflow-x:auto;box-sizing:border-box}
.sd-out *,.sd-out *::before,.sd-out *::after{box-sizing:border-box}
.sd-media{position:relative;width:100%;background:#000;border-radius:4px;overflow:hidden}
.sd-media>video{position:relative;z-index:1;display:block;width:100%;height:100%;max-width:none;
object-fit:contain;background:transparent;border-radius:4px}
.sd-media>img.sd-poster{position:absolute;inset:0;width:100%;height:100%;object-fit:contain;display:block}
.sd-out table.sd-grid{border-collapse:separate;border-spacing:6px;margin:0;table-layout:fixed;width:100%;
border:none;font-size:inherit}
.sd-out table.sd-grid tr,.sd-out table.sd-grid tbody tr:nth-child(odd){background:transparent}
.sd-out table.sd-grid th{font-weight:600;text-align:left;vertical-align:bottom;padding:2px 4px;
overflow-wrap:anywhere;border:none}
.sd-out table.sd-grid th.sd-rowhead{vertical-align:top;font-weight:500;white-space:normal}
.sd-out table.sd-grid td.sd-cell{vertical-align:top;padding:0;text-align:left;border:none}
.sd-takes{display:flex;gap:6px;flex-wrap:nowrap}
.sd-fig{margin:0;flex:1 1 0;min-width:0;width:100%}
.sd-fig figcaption,.sd-cap{font-size:11.5px;opacity:.85;margin-top:2px;max-width:100%;overflow-wrap:anywhere}
.sd-job{font-weight:700;margin-right:4px}
.sd-vary{display:block;font-weight:600}
.sd-k{opacity:.65;font-weight:400}
.sd-slot{min-height:80px;width:100%;border:1px dashed rgba(128,128,128,.45);border-radius:4px;
display:flex;align-items:center;justify-content:center;opacity:.7;font-size:12px;padding:6px;box-sizing:border-box;
text-align:center}
.sd-error{border-color:rgba(200,40,40,.7);color:#c62828;opacity:1;white-space:pre-wrap;word-break:break-word;
align-items:flex-start;justify-content:flex-start}
.sd-status{font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.sd-syncbar{display:flex;gap:8px;align-items:center;margin:4px 6px;flex-wrap:wrap}
.sd-syncbar[hidden]{display:none}
.sd-syncbar button{font:inherit;padding:2px 10px;border-radius:4px;border:1px solid rgba(128,128,128,.6);
background:transparent;color:inherit;cursor:pointer}
.sd-syncbar input{flex:1;min-width:120px;max-width:600px}
.sd-time{font-variant-numeric:tabular-nums;min-width:110px}
.sd-summary{display:flex;flex-wrap:wrap;gap:6px;margin:4px 6px;align-items:center}
.sd-chip{border:1px solid rgba(128,128,128,.45);border-radius:10px;padding:1px 8px}
.sd-chip b{font-weight:600}
.sd-backend{font-weight:600}
.sd-completed,.sd-cached{color:#2e7d32}.sd-failed{color:#c62828}.sd-cancelled{color:#8d6e63}
.sd-running,.sd-queued,.sd-submitted,.sd-planned,.sd-submitting,.sd-downloading{color:#1565c0}
.sd-compare{display:flex;gap:12px;flex-wrap:nowrap;margin:6px}
.sd-compare .sd-fig{flex:1 1 0}
.sd-compare .sd-title{font-weight:600;margin-bottom:3px;max-width:100%;overflow-wrap:anywhere}
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
    sources = Sources(base_dir, embed)
    text = os.fspath(src)
    if _is_url(text) or ":" in text.split("/", 1)[0] and not Path(text).exists():
        resolved = safe_url(text)
        if resolved is None:
            raise ValueError(f"only http(s) URLs and local files can be shown, got {shorten(text, 60)!r}")
    else:
        resolved = sources.video(text)
    if resolved is None:
        raise FileNotFoundError(f"no video at {text!r}")
    dims = _image_size(Path(os.fspath(poster))) if poster is not None and Path(os.fspath(poster)).is_file() else None
    tag = video_tag(
        resolved,
        poster=sources.poster(poster),
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
        autoplay=autoplay,
        muted=muted,
        loop=loop,
        controls=controls,
        preload=preload,
    )
    sources.finish()
    box = f' style="max-width:{int(width)}px"' if width else ""
    if caption is None:
        return f'<div class="sd-fig"{box}>{tag}</div>'
    return f'<figure class="sd-fig"{box}>{tag}<figcaption>{esc(caption)}</figcaption></figure>'


# --------------------------------------------------------------------------- cells


#: Text columns whose long values are told apart by their differing part (:func:`distinct_labels`).
_TEXT_COLUMNS = ("prompt", "image", "end_image")
ShortMap = Mapping[str, Mapping[Any, str]]


def short_maps(df: pd.DataFrame, columns: Iterable[str] = _TEXT_COLUMNS, limit: int = 80) -> dict[str, dict[Any, str]]:
    """For each long-text column, each distinct value → its short label (shared prefixes elided)."""
    out: dict[str, dict[Any, str]] = {}
    for c in columns:
        if c in df.columns:
            values = list(dict.fromkeys(plain(v) for v in df[c]))
            out[c] = dict(zip(values, distinct_labels(values, limit), strict=True))
    return out


def _value_html(column: str, value: Any, short: ShortMap | None, limit: int) -> str:
    full = as_text(value)
    label = (short or {}).get(column, {}).get(plain(value))
    label = label if label is not None else shorten(full, limit)
    if label == full:
        return esc(full)
    return f'<span title="{esc(full)}">{esc(label)}</span>'


def pairs_html(row: Mapping[str, Any], columns: Sequence[str], short: ShortMap | None = None) -> str:
    parts = []
    for c in columns:
        limit = 80 if c in _ROW_FIRST else 40
        parts.append(f'<span class="sd-k">{esc(c)}</span> {_value_html(c, row.get(c), short, limit)}')
    return " · ".join(parts)


def meta_text(row: Mapping[str, Any], backend: str | None = None) -> str:
    bits = []
    if not is_missing(row.get("queue_seconds")):
        bits.append(f"queue {fmt_seconds(row['queue_seconds'])}")
    if not is_missing(row.get("generation_seconds")):
        bits.append(f"gen {fmt_seconds(row['generation_seconds'])}")
    status = str(row.get("status") or "")
    cost = row.get("est_cost_usd")
    row_backend = row.get("backend") if not is_missing(row.get("backend")) else backend
    if row_backend is None and is_loopback_url(row.get("video_url")):
        row_backend = "emulator"  # an older run folder that names no backend
    if status == _S.CACHED:
        bits.append("cached, no charge")
    elif row_backend == "emulator" and status not in NOT_BILLED:
        bits.append("emulated, nothing billed")
    elif status in ESTIMATED and not is_missing(cost):
        bits.append(f"est. {fmt_usd(cost)}")
    elif status not in NOT_BILLED and not is_missing(cost):
        bits.append(fmt_usd(cost))  # fal bills completed jobs only
    return " · ".join(bits)


def job_label(row: Mapping[str, Any]) -> str:
    """``#3`` (``#3 take 2`` for a later take): the number ``sweep.rate()`` and the widgets take."""
    job = row.get("job")
    if is_missing(job):
        return ""
    take = plain(row.get("take"))
    return f"#{as_text(job)}" + (f" take {take}" if isinstance(take, int) and take > 1 else "")


def caption_html(
    row: Mapping[str, Any], vary: Sequence[str], short: ShortMap | None = None, backend: str | None = None
) -> str:
    from .quality import flags_html

    parts = []
    label = job_label(row)
    if label:
        parts.append(f'<span class="sd-job">{esc(label)}</span>')
    if vary:
        parts.append(f'<span class="sd-vary">{pairs_html(row, vary, short)}</span>')
    parts.append(flags_html(row))  # frozen, black, cut, silent, short: "" for a clean take
    meta = meta_text(row, backend)
    if meta:
        parts.append(esc(meta))
    return "".join(parts)


def _dims(row: Mapping[str, Any], poster: Any) -> tuple[int, int] | None:
    w, h = plain(row.get("width")), plain(row.get("height"))
    if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0:
        return int(w), int(h)
    if not is_missing(poster) and Path(str(poster)).is_file():
        return _image_size(Path(str(poster)))
    return None


def figure_html(
    row: Mapping[str, Any],
    vary: Sequence[str],
    sources: Sources,
    width: int,
    *,
    anchor: str | None = None,
    title: str | None = None,
    slot_height: int | None = None,
    short: ShortMap | None = None,
    backend: str | None = None,
) -> str:
    slot = f' style="min-height:{min(slot_height, 400)}px"' if slot_height else ""
    has_video = not is_missing(row.get("path")) or not is_missing(row.get("video_url"))
    status = str(row.get("status")) if not is_missing(row.get("status")) else ("completed" if has_video else "")
    job = "" if is_missing(row.get("job")) else f' data-job="{esc(as_text(row.get("job")))}"'
    size = f' style="max-width:{width}px"'
    id_attr = (f' id="{esc(anchor)}"' if anchor else "") + size + job
    head = f'<div class="sd-title">{esc(title)}</div>' if title else ""
    caption = caption_html(row, vary, short, backend)
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    if status == "failed":
        kind = as_text(row.get("error_type")) if not is_missing(row.get("error_type")) else "error"
        message = as_text(row.get("error")) if not is_missing(row.get("error")) else "the job failed"
        body = (
            f'<div class="sd-slot sd-error"{slot} title="{esc(message)}">'
            f"<span><b>{esc(kind)}</b>: {esc(shorten(message, 300))}</span></div>"
        )
        return f'<figure class="sd-fig" data-status="failed"{id_attr}>{head}{body}{cap}</figure>'
    if status not in HAS_VIDEO and status:
        badge = f'<span class="sd-status sd-{esc(status)}">{esc(status)}</span>'
        if not is_missing(row.get("error")):  # e.g. interrupted: say why and what finishes it
            message = as_text(row.get("error"))
            badge += f'<br><small title="{esc(message)}">{esc(shorten(message, 160))}</small>'
        body = f'<div class="sd-slot"{slot}><span>{badge}</span></div>'
        return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    src = sources.video(row.get("path"), row.get("video_url"))
    if src is None:
        body = f'<div class="sd-slot"{slot}>no video file</div>'
        return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{body}{cap}</figure>'
    dims = _dims(row, row.get("poster"))
    tag = video_tag(
        src,
        poster=sources.poster(row.get("poster")),
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
    )
    return f'<figure class="sd-fig" data-status="{esc(status)}"{id_attr}>{head}{tag}{cap}</figure>'


# --------------------------------------------------------------------------- grid


_EMPTY_CELL = '<td class="sd-cell sd-missing"><div class="sd-slot" title="no job for this combination"></div></td>'
_ROWHEAD_PX = 170
_GAP_PX = 6


def axis_columns(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (spec,)
    return tuple(spec)


def header_html(columns: Sequence[str], key: tuple[Any, ...], *, limit: int, short: ShortMap | None = None) -> str:
    if not columns:
        return ""
    lines = []
    for c, v in zip(columns, key, strict=True):
        value = _value_html(c, v, short, limit)
        if len(columns) == 1 and c in _ROW_FIRST:
            lines.append(value)
        else:
            lines.append(f'<span class="sd-k">{esc(c)}</span> {value}')
    return "<br>".join(lines)


def grid_body(
    df: pd.DataFrame,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "seed",
    *,
    sync: bool = False,
    sources: Sources,
    width: int = 240,
    anchors: Mapping[int, str] | None = None,
    backend: str | None = None,
    min_width: int = MIN_VIDEO_PX,
    sort_by: str | None = None,
) -> str:
    """The grid without its ``<style>`` block (the report shares one). See :func:`grid_html`."""
    row_cols, col_cols = axis_columns(rows), axis_columns(cols)
    unknown = [c for c in (*row_cols, *col_cols) if c not in df.columns]
    if unknown:
        raise KeyError(
            f"cannot pivot on {', '.join(map(repr, unknown))}: no such column; "
            f"the inputs are {', '.join(input_columns(df)) or '(none)'}"
        )
    vary = [c for c in varying_columns(df) if c not in row_cols and c not in col_cols]
    short = short_maps(df)
    records = cast("list[dict[str, Any]]", df.to_dict("records"))  # column names are strings
    positions = list(range(len(records)))
    row_keys: dict[tuple[Any, ...], None] = {}
    col_keys: dict[tuple[Any, ...], None] = {}
    cells: dict[tuple[tuple[Any, ...], tuple[Any, ...]], list[int]] = {}
    for i, rec in zip(positions, records, strict=True):
        rk = tuple(plain(rec.get(c)) for c in row_cols)
        ck = tuple(plain(rec.get(c)) for c in col_cols)
        row_keys.setdefault(rk)
        col_keys.setdefault(ck)
        cells.setdefault((rk, ck), []).append(i)
    if sort_by is not None:  # each row lists its takes best first by a metric; captions say what the columns were
        from .quality import ranked_cells

        vary = [*vary, *(c for c in col_cols if c not in vary)]
        col_cols, col_keys, cells = ranked_cells(records, row_keys, cells, col_keys, sort_by)  # type: ignore[assignment]

    # Placeholders take the size of the grid's videos, so rows line up.
    ratios = [
        h / w
        for w, h in ((plain(r.get("width")), plain(r.get("height"))) for r in records)
        if isinstance(w, int | float) and isinstance(h, int | float) and w > 0 and h > 0
    ]
    slot_height = round(width * sorted(ratios)[len(ratios) // 2]) if ratios else None
    # The table fills the output up to the videos' preferred width and shrinks them down to min_width;
    # below that it keeps its size and the box scrolls (.sd-out has overflow-x:auto).
    per_col = [max([len(cells.get((rk, ck), ())) for rk in row_keys] or [1]) or 1 for ck in col_keys]
    slots = sum(per_col)
    head = _ROWHEAD_PX if row_cols else 0
    gaps = _GAP_PX * (len(per_col) + (1 if row_cols else 0) + 1) + _GAP_PX * (slots - len(per_col))
    table_min = head + slots * min_width + gaps
    table_max = head + slots * width + gaps
    container = new_container_id()
    out = [f'<div class="sd-out sd-gridwrap" id="{container}">']
    bar, script = sync_controls(container) if sync else ("", "")
    out.append(bar)
    out.append(f'<table class="sd-grid" style="min-width:{table_min}px;max-width:{table_max}px">')
    cols_html = f'<col style="width:{head}px">' if row_cols else ""
    cols_html += "".join(f'<col style="width:{100 * k / slots:.3f}%">' for k in per_col) if row_cols else ""
    if not row_cols:
        cols_html = "".join(f'<col style="width:{100 * k / slots:.3f}%">' for k in per_col)
    out.append(f"<colgroup>{cols_html}</colgroup>")
    if col_cols:
        corner = " · ".join(esc(c) for c in row_cols)
        out.append(
            f'<thead><tr><th class="sd-corner"><span class="sd-k">{corner}</span></th>' if row_cols else "<thead><tr>"
        )
        for ck in col_keys:
            out.append(f'<th class="sd-colhead">{header_html(col_cols, ck, limit=40, short=short)}</th>')
        out.append("</tr></thead>")
    out.append("<tbody>")
    for rk in row_keys:
        out.append('<tr class="sd-row">')
        if row_cols:
            out.append(f'<th class="sd-rowhead" scope="row">{header_html(row_cols, rk, limit=160, short=short)}</th>')
        for ck in col_keys:
            members = cells.get((rk, ck))
            if not members:
                out.append(_EMPTY_CELL)
                continue
            figs = "".join(
                figure_html(
                    records[i],
                    vary,
                    sources,
                    width,
                    anchor=(anchors or {}).get(i),
                    slot_height=slot_height,
                    short=short,
                    backend=backend,
                )
                for i in members
            )
            out.append(f'<td class="sd-cell"><div class="sd-takes">{figs}</div></td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append(script)
    return "".join(out)


def backend_header(backend: str | None) -> str:
    """One chip naming where the videos came from (a grid's header); empty when unknown."""
    if not backend:
        return ""
    note = " · emulated, nothing billed" if backend == "emulator" else " · billed by fal"
    return (
        f'<div class="sd-out"><div class="sd-summary"><span class="sd-chip sd-backend" data-backend="{esc(backend)}">'
        f"{esc(backend)}{note}</span></div></div>"
    )


def _sum(df: pd.DataFrame, column: str, mask: Any = None) -> float:
    if column not in df.columns:
        return 0.0
    series = pd.to_numeric(df[column] if mask is None else df.loc[mask, column], errors="coerce")
    total = series.sum(skipna=True)
    return float(total) if not math.isnan(total) else 0.0


def totals(df: pd.DataFrame, backend: str | None = None) -> dict[str, Any]:
    """Counts by status, cost and time of THIS run (shared by the summary, the report and the CLI).

    A cached job was made (and paid) by an earlier run: it counts as cached, adds nothing to the cost, and its
    original timings stay out of this run's generation sum and wall clock. On the emulator nothing is billed:
    ``cost_usd`` is 0 and ``would_cost_usd`` says what fal would have charged.
    """
    status = df["status"].fillna("unknown").astype(str) if "status" in df.columns else pd.Series(["unknown"] * len(df))
    counts = {k: int(v) for k, v in status.value_counts(sort=False).items()}
    completed = (status == "completed").to_numpy()
    fresh = (status != "cached").to_numpy()
    wall = None
    if "submitted_at" in df.columns and "completed_at" in df.columns and fresh.any():
        start = pd.to_datetime(df.loc[fresh, "submitted_at"], errors="coerce", utc=True).min()
        end = pd.to_datetime(df.loc[fresh, "completed_at"], errors="coerce", utc=True).max()
        if not is_missing(start) and not is_missing(end):
            wall = max(0.0, (end - start).total_seconds())
    billed = _sum(df, "est_cost_usd", completed)
    emulated = backend == "emulator"
    # What fal said the completed jobs cost (x-fal-billable-units), where it said it; estimates for the rest.
    actual_known = completed & df["cost_usd"].notna().to_numpy() if "cost_usd" in df.columns else completed & False
    return {
        "actual_usd": _sum(df, "cost_usd", actual_known) if actual_known.any() else None,
        "actual_jobs": int(actual_known.sum()),
        "estimated_rest_usd": _sum(df, "est_cost_usd", completed & ~actual_known),
        "jobs": len(df),
        "by_status": counts,
        "backend": backend,
        "emulated": emulated,
        "cost_usd": 0.0 if emulated else billed,
        "would_cost_usd": billed,
        "estimated_usd": _sum(df, "est_cost_usd"),
        "generation_seconds": _sum(df, "generation_seconds", fresh),
        "queue_seconds": _sum(df, "queue_seconds", fresh),
        "video_seconds": _sum(df, "video_seconds"),
        "wall_seconds": wall,
        "cached": counts.get("cached", 0),
    }


def cost_text(t: Mapping[str, Any]) -> str:
    """The cost line: ``emulated, nothing billed`` on the emulator, else the completed jobs' estimated cost."""
    cached = f"; {t['cached']} cached, no charge" if t.get("cached") else ""
    if t.get("emulated"):
        return f"emulated, nothing billed (about {fmt_usd(t['would_cost_usd'])} on fal){cached}"
    if t.get("actual_usd") is not None:
        rest = t["by_status"].get("completed", 0) - t["actual_jobs"]
        estimated = f" + {fmt_usd(t['estimated_rest_usd'])} estimated for {rest} more" if rest else ""
        return f"{fmt_usd(t['actual_usd'])} billed by fal for {t['actual_jobs']} job(s){estimated}{cached}"
    return f"{fmt_usd(t['cost_usd'])} (estimated, completed jobs){cached}"


def summary_body(df: pd.DataFrame, backend: str | None = None) -> str:
    t = totals(df, backend)
    order = {str(status): n for n, status in enumerate(STATUS_ORDER)}
    statuses = sorted(t["by_status"], key=lambda s: order.get(s, len(order)))
    chips = []
    if backend:
        chips.append(f'<span class="sd-chip sd-backend" data-backend="{esc(backend)}">{esc(backend)}</span>')
    chips.append(f'<span class="sd-chip"><b>{t["jobs"]}</b> jobs</span>')
    chips += [f'<span class="sd-chip sd-{esc(s)}"><b>{t["by_status"][s]}</b> {esc(s)}</span>' for s in statuses]
    chips.append(f'<span class="sd-chip sd-cost">cost <b>{esc(cost_text(t))}</b></span>')
    chips.append(f'<span class="sd-chip">generation <b>{fmt_seconds(t["generation_seconds"])}</b> (sum)</span>')
    if t["wall_seconds"] is not None:
        chips.append(f'<span class="sd-chip">wall clock <b>{fmt_seconds(t["wall_seconds"])}</b></span>')
    return f'<div class="sd-summary">{"".join(chips)}</div>'


# --------------------------------------------------------------------------- tables


def sortable_table_script(table_id: str) -> str:
    """A small script that sorts the table ``table_id`` by a clicked header (numbers by ``data-v``), shared by
    the report's jobs table and the metrics section."""
    return _SORTABLE_TEMPLATE.replace("__TABLE_ID__", table_id)


_SORTABLE_TEMPLATE = """<script>(function () {
  var table = document.getElementById("__TABLE_ID__");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var num = th.getAttribute("data-type") === "num", body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        if (x === "" || y === "") return x === y ? 0 : (x === "" ? 1 : -1);
        var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, {numeric: true});
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();</script>"""


def jobs_table(jobs: Sequence[Any], *, over: bool, now: float) -> str:
    """The live job board's table (:class:`seedance_nb.widgets.JobBoard`): one row per job of a sweep.

    Args:
        jobs: the sweep's :class:`seedance_nb.Job` objects, in job order.
        over: whether the run has ended (a job still without an end time then shows no elapsed time).
        now: the current time (epoch seconds), the end of a running job's elapsed time.
    """
    prompts = distinct_labels([j.input.prompt for j in jobs], 50)
    rows = []
    for j, prompt in zip(jobs, prompts, strict=True):
        start = j.submitted_at
        end = j.completed_at or (now if start and not over else None)
        elapsed = f"{end - start:.1f} s" if start and end else ""
        where = str(j.queue_position) if j.status == _S.SUBMITTED and j.queue_position is not None else ""
        seed = j.input.seed if j.input.seed is not None else ""
        rows.append(
            f'<tr data-status="{esc(j.status)}"><td>#{j.job}</td>'
            f'<td title="{esc(j.input.prompt)}">{esc(prompt)}</td>'
            f"<td>{esc(j.input.duration)}</td><td>{esc(seed)}</td>"
            f"<td>{esc(j.status)}</td><td>{where}</td><td>{elapsed}</td>"
            f'<td title="{esc(j.error or "")}">{esc((j.error or "")[:120])}</td></tr>'
        )
    return (
        "<style>.seedance-jobtable td,.seedance-jobtable th{padding:2px 8px;text-align:left;"
        "vertical-align:top}</style>"
        '<div style="overflow-x:auto;max-width:100%">'
        '<table class="seedance-jobtable" style="border-collapse:collapse;font-size:12px">'
        "<thead><tr><th>#</th><th>prompt</th><th>dur</th><th>seed</th><th>status</th><th>queue</th>"
        f"<th>elapsed</th><th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


_set_module(__name__)
