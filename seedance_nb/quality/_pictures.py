"""Frames as pictures: filmstrips, contact sheets, animated previews and their Markdown page."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._names import set_public_module
from ..errors import InputError, Problem
from ..statuses import HAS_VIDEO
from ._measuring import FLAGS, HIGHER_IS_BETTER, _check_metric, _fail, _video_path, _video_stream

# --------------------------------------------------------------------------- frames as pictures


def _sample(path: Path, *, count: int | None = None, fps: float | None = None, width: int) -> list[Any]:
    """Decoded frames as RGB PIL images ``width`` wide: ``count`` evenly spaced (first and last included) or one
    every 1/``fps`` s. Only the picked frames are converted and kept."""
    import av

    with _video_stream(path) as (container, stream):
        rate = float(stream.average_rate or stream.guessed_rate or 24)
        total = stream.frames or round(float(container.duration or 0) / av.time_base * rate) or 1
        w, h = stream.codec_context.width, stream.codec_context.height
        size = (max(2, width), max(2, round(width * h / w)))
        if count is not None:
            wanted = {round(k * (total - 1) / max(1, count - 1)) for k in range(count)}
        else:
            every = max(1.0, rate / (fps or rate))
            wanted = {round(k * every) for k in range(int(total / every) + 1)}
        picked, last = [], None
        for index, frame in enumerate(container.decode(stream)):
            last = frame
            if index in wanted:
                picked.append(frame.reformat(width=size[0], height=size[1], format="rgb24", threads=1).to_image())
        # A header that over-counts frames: make sure the last frame is in an evenly spaced strip.
        if count is not None and last is not None and len(picked) < count:
            picked.append(last.reformat(width=size[0], height=size[1], format="rgb24", threads=1).to_image())
    if not picked:
        raise _fail("video", f"{path.name} has no decodable frames", str(path), "an MP4 with frames")
    return picked


def filmstrip(video: Any, n: int = 6, *, height: int = 120, gap: int = 2) -> Any:
    """``n`` evenly spaced frames of a take side by side (first and last included), as a PIL image ``height`` tall.

    A notebook shows the image as it is.

    Args:
        video: a path, a ``generate()`` result or a sweep.df row.
        n: how many frames.
        height: the strip's height in pixels.
        gap: pixels between frames.
    """
    from PIL import Image

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 48:
        raise InputError([Problem("n", "must be a whole number of frames from 1 to 48", n, "1 .. 48")])
    if isinstance(height, bool) or not isinstance(height, int) or not 16 <= height <= 1080:
        raise InputError([Problem("height", "must be a whole number of pixels from 16 to 1080", height, "16 .. 1080")])
    path = _video_path(video)
    with _video_stream(path) as (_, stream):
        width = max(2, round(height * stream.codec_context.width / stream.codec_context.height))
    frames = _sample(path, count=n, width=width)
    strip = Image.new("RGB", (len(frames) * width + (len(frames) - 1) * gap, frames[0].height), (20, 20, 20))
    for i, frame in enumerate(frames):
        strip.paste(frame, (i * (width + gap), 0))
    return strip


def filmstrip_file(video: str | os.PathLike[str], dest: str | os.PathLike[str], n: int = 6, height: int = 72) -> Path:
    """Write (once) a take's filmstrip as a JPEG at ``dest``; an existing one newer than the video is reused."""
    video, dest = Path(video), Path(dest)
    if dest.is_file() and dest.stat().st_mtime >= video.stat().st_mtime:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    filmstrip(video, n, height=height).save(part, "JPEG", quality=80)
    os.replace(part, dest)
    return dest


# --------------------------------------------------------------------------- labels


def _plain(value: Any) -> Any:
    """:func:`seedance_nb.markup.plain` (NaN becomes None, 5.0 becomes 5, always hashable); markup, and pandas
    with it, load on first use."""
    from ..markup import plain

    return plain(value)


def _text(value: Any, limit: int = 60) -> str:
    """A cell value as one line of at most ``limit`` characters (``—`` when missing)."""
    from ..markup import as_text, shorten

    return shorten(" ".join(as_text(value).split()), limit)


def _axes(df: Any, rows: Any, cols: Any) -> tuple[list[str], list[str], list[str]]:
    """(row columns, column columns, other varying columns) as the notebook grid would lay the sweep out."""
    from ..markup import auto_axes, varying_columns

    if rows is None and cols is None:
        rows, cols = auto_axes(df)
    row_cols = [rows] if isinstance(rows, str) else list(rows or ())
    col_cols = [cols] if isinstance(cols, str) else list(cols or ())
    for c in (*row_cols, *col_cols):
        if c not in df.columns:
            raise InputError([Problem("rows/cols", f"no column {c!r}", c, ", ".join(map(str, df.columns[:12])))])
    vary = [c for c in varying_columns(df) if c not in row_cols and c not in col_cols]
    return row_cols, col_cols, vary


def _layout(df: Any, row_cols: Sequence[str], col_cols: Sequence[str], sort_by: str | None) -> list[Any]:
    """[(row key, [record, ...])]: rows in the data's order, takes in column order (or by ``sort_by``)."""
    records = df.to_dict("records")
    rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rec in records:
        rows.setdefault(tuple(_plain(rec.get(c)) for c in row_cols), []).append(rec)
    col_order = {
        key: i for i, key in enumerate(dict.fromkeys(tuple(_plain(r.get(c)) for c in col_cols) for r in records))
    }
    out = []
    for key, members in rows.items():
        if sort_by is not None:
            members = _sorted_records(members, sort_by)
        else:
            members = sorted(members, key=lambda r: col_order[tuple(_plain(r.get(c)) for c in col_cols)])
        out.append((key, members))
    return out


def _sorted_records(records: Sequence[Mapping[str, Any]], by: str) -> list[Any]:
    """Best first by ``by`` (its natural direction); takes without a value last."""
    higher = HIGHER_IS_BETTER.get(by, True)

    def key(rec: Mapping[str, Any]) -> tuple[int, float]:
        value = _plain(rec.get(by))
        if not isinstance(value, int | float):
            return (1, 0.0)
        value = abs(value) if by == "duration_error" else float(value)
        return (0, -value if higher else value)

    return sorted(records, key=key)


def _flag_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        words: Any = value
    else:
        value = _plain(value)
        if value is None:
            return []
        words = str(value).replace(",", " ").split()
    return [w for w in FLAGS if w in set(map(str, words))]


# --------------------------------------------------------------------------- contact sheet


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the bitmap font, one size
        return ImageFont.load_default()


def _wrap(draw: Any, text: str, font: Any, width: int, lines: int) -> list[str]:
    out, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not current:
            current = trial
        else:
            out.append(current)
            current = word
        if len(out) == lines:
            break
    if current and len(out) < lines:
        out.append(current)
    if len(out) == lines and draw.textlength(out[-1], font=font) > width:
        out[-1] = out[-1][: max(1, int(len(out[-1]) * width / draw.textlength(out[-1], font=font)) - 1)] + "…"
    return out


def _downloaded(df: Any) -> Any:
    """The rows of ``df`` with a downloaded video on disk (refusing a frame without any)."""
    shown = df[df["status"].isin(HAS_VIDEO)] if "status" in df.columns else df
    shown = shown[[isinstance(p, str) and Path(p).is_file() for p in shown["path"]]]
    if shown.empty:
        raise InputError([Problem("sweep", "has no downloaded video yet", None, "run the sweep first")])
    return shown


def _row_label(row_cols: Sequence[str], key: Sequence[Any]) -> str:
    return " · ".join(
        f"{c} {_text(v, 200)}" if len(row_cols) > 1 else _text(v, 300) for c, v in zip(row_cols, key, strict=True)
    )


def _caption_lines(
    draw: Any, rec: Mapping[str, Any], labels: Sequence[str], metric: str | None, font: Any, width: int
) -> tuple[list[str], bool]:
    """A tile's caption lines (what varies, then the metric and flags) and whether the last one is a warning."""
    parts = [f"{c} {_text(rec.get(c), 24)}" for c in labels]
    flags = _flag_list(rec.get("flags"))
    lines = _wrap(draw, " · ".join(parts) or f"job {_text(rec.get('job'))}", font, width, 2)
    extra = []
    if metric is not None and metric in rec:
        extra.append(f"{metric} {_text(rec.get(metric), 12)}")
    if flags:
        extra.append("flags: " + ", ".join(flags))
    if extra:
        lines.append(" · ".join(extra))
    return lines, bool(flags and extra)


def _save_png(sheet: Any, target: Path) -> None:
    """Write ``sheet`` to ``target`` atomically (a ``.part`` file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    sheet.save(part, "PNG", optimize=True)
    os.replace(part, target)


def contact_sheet(
    df: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    sort_by: str | None = None,
    frames: int = 3,
    height: int = 90,
    label: str | None = None,
) -> Any:
    """One PNG of a sweep: a line per row of the grid (labelled on the left), each take as ``frames`` frames
    (start, middle, end) captioned with what varies, its flags and (with ``sort_by``/``label``) a metric.

    Rows and columns follow the notebook grid (long text such as the prompt down the side) unless given;
    ``sort_by="motion"`` orders the takes of each row best first. Returns the PIL image; writes it to ``path``.
    """
    from PIL import Image, ImageDraw

    if "path" not in df.columns:
        raise InputError([Problem("df", "has no path column", None, "a sweep or its DataFrame")])
    if sort_by is not None:
        _check_metric(df, sort_by, "sort_by")
    shown = _downloaded(df)
    row_cols, col_cols, vary = _axes(shown, rows, cols)
    metric = label or sort_by
    layout = _layout(shown, row_cols, col_cols, sort_by)
    font, small = _font(13), _font(11)
    ratio = max(
        float(_plain(r.get("width")) or 16) / float(_plain(r.get("height")) or 9) for r in shown.to_dict("records")
    )
    thumb_w = max(8, round(height * ratio))
    tile_w = frames * thumb_w + (frames - 1) * 2
    caption_h = 4 + 15 * 3
    row_head = 220 if row_cols else 0
    per_row = max(len(members) for _, members in layout)
    pad = 10
    sheet_w = pad + row_head + per_row * (tile_w + pad)
    sheet_h = pad + len(layout) * (height + caption_h + pad)
    sheet = Image.new("RGB", (sheet_w, sheet_h), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    y = pad
    for key, members in layout:
        if row_cols:
            head_lines = _wrap(draw, _row_label(row_cols, key), font, row_head - 12, (height + caption_h) // 16)
            for i, line in enumerate(head_lines):
                draw.text((pad, y + i * 16), line, fill=(30, 30, 30), font=font)
        x = pad + row_head
        for rec in members:
            strip = filmstrip(rec["path"], frames, height=height)
            sheet.paste(strip.resize((tile_w, height)), (x, y))
            lines, warn = _caption_lines(draw, rec, (*col_cols, *vary), metric, small, tile_w)
            for i, line in enumerate(lines[:3]):
                colour = (190, 30, 45) if warn and i == len(lines) - 1 else (60, 60, 60)
                draw.text((x, y + height + 3 + i * 15), line, fill=colour, font=small)
            x += tile_w + pad
        y += height + caption_h + pad
    if path is not None:
        _save_png(sheet, Path(path))
    return sheet


# --------------------------------------------------------------------------- previews that travel

#: GitHub refuses images over 10 MB in issues and READMEs.
PREVIEW_LIMIT = 10 * 1024 * 1024
_MARKDOWN_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "|": "&#124;",
    "[": "&#91;",
    "]": "&#93;",
    "(": "&#40;",
    ")": "&#41;",
    "*": "&#42;",
    "_": "&#95;",
    "`": "&#96;",
    "\\": "&#92;",
    "#": "&#35;",
    "~": "&#126;",
    "!": "&#33;",
}


def markdown_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell: no markup, links, HTML or line breaks survive."""
    return "".join(_MARKDOWN_ESCAPES.get(ch, " " if ch in "\r\n\t" else ch) for ch in str(text))


def _save_animation(frames: list[Any], path: Path, fmt: str, fps: float, quality: int) -> int:
    part = path.with_name(path.name + ".part")
    duration = max(20, round(1000 / fps))
    if fmt == "WEBP":
        frames[0].save(
            part, "WEBP", save_all=True, append_images=frames[1:], duration=duration, loop=0, quality=quality, method=4
        )
    else:
        from PIL import Image

        palette = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in frames]
        palette[0].save(part, "GIF", save_all=True, append_images=palette[1:], duration=duration, loop=0, optimize=True)
    os.replace(part, path)
    return path.stat().st_size


def preview(
    video: Any,
    dest: str | os.PathLike[str],
    *,
    width: int = 320,
    fps: float = 8,
    quality: int = 60,
    max_bytes: int = PREVIEW_LIMIT,
    frames: list[Any] | None = None,
) -> Path:
    """Write one take as an animated WebP (``.webp``) or GIF (``.gif``) under ``max_bytes``; if a first try is
    too large, smaller and slower versions are tried (at most four). ``frames`` reuses an earlier sampling."""
    dest = Path(dest)
    fmt = {".webp": "WEBP", ".gif": "GIF"}.get(dest.suffix.lower())
    if fmt is None:
        raise InputError([Problem("dest", "must end in .webp or .gif", str(dest), "previews/001.webp")])
    path = _video_path(video)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(4):
        if frames is None:
            frames = _sample(path, fps=fps, width=width)
        if _save_animation(frames, dest, fmt, fps, quality) <= max_bytes:
            return dest
        width, fps, frames = max(64, int(width * 0.7)), max(2.0, fps * 0.75), None
    dest.unlink(missing_ok=True)
    raise _fail(
        "max_bytes", f"even a {width} px, {fps:g} fps preview is over {max_bytes} bytes", max_bytes, "a larger limit"
    )


@dataclass(frozen=True)
class _PreviewOptions:
    """How :func:`export_previews` writes each take."""

    out: Path
    width: int
    fps: float
    gif: bool
    max_bytes: int
    sort_by: str | None
    caption_cols: Sequence[str]


def _preview_columns(
    layout: Sequence[Any], col_cols: Sequence[str], sort_by: str | None
) -> tuple[list[Any], list[str]]:
    """The page's columns and their headers: as in the notebook grid (one per value of what varies across;
    several takes share a cell), or with ``sort_by`` one per rank."""
    if sort_by is not None:
        columns: list[Any] = list(range(1, max(len(m) for _, m in layout) + 1))
        return columns, [f"#{k}" for k in columns]
    columns = list(
        dict.fromkeys(tuple(_plain(rec.get(c)) for c in col_cols) for _, members in layout for rec in members)
    )
    return columns, [" · ".join(f"{c} {_text(v, 40)}" for c, v in zip(col_cols, k, strict=True)) for k in columns]


def _preview_head(row_cols: Sequence[str], sort_by: str | None, headers: Sequence[str]) -> list[str]:
    return [
        "# Previews",
        "",
        "Animated WebP previews (GIF links for old viewers). "
        + (f"Rows: {markdown_text(', '.join(row_cols))}. " if row_cols else "")
        + (f"Ordered by {markdown_text(sort_by)}, best first." if sort_by else ""),
        "",
        "| "
        + " | ".join([markdown_text(" · ".join(row_cols)) if row_cols else "", *map(markdown_text, headers)])
        + " |",
        "|" + "---|" * (len(headers) + 1),
    ]


def _preview_cell(rec: Mapping[str, Any], stem: str, o: _PreviewOptions) -> str:
    """Write one take's previews and give its Markdown cell."""
    frames = _sample(_video_path(rec["path"]), fps=o.fps, width=o.width)  # decoded once for both formats
    preview(rec["path"], o.out / f"{stem}.webp", width=o.width, fps=o.fps, max_bytes=o.max_bytes, frames=frames)
    caption = " · ".join(f"{c} {_text(rec.get(c), 40)}" for c in o.caption_cols) or f"job {stem}"
    cell = f"![{markdown_text(caption)}]({stem}.webp)<br>{markdown_text(caption)}"
    if o.sort_by is not None:
        cell += f"<br>{markdown_text(o.sort_by)} {markdown_text(_text(rec.get(o.sort_by), 12))}"
    flags = _flag_list(rec.get("flags"))
    if flags:
        cell += "<br>flags: " + markdown_text(", ".join(flags))
    if o.gif:
        preview(rec["path"], o.out / f"{stem}.gif", width=o.width, fps=o.fps, max_bytes=o.max_bytes, frames=frames)
        cell += f" · [GIF]({stem}.gif)"
    return cell


def export_previews(
    df: Any,
    folder: str | os.PathLike[str],
    *,
    width: int = 320,
    fps: float = 8,
    gif: bool = True,
    rows: str | Sequence[str] | None = None,
    cols: str | Sequence[str] | None = None,
    sort_by: str | None = None,
    max_bytes: int = PREVIEW_LIMIT,
) -> Path:
    """Animated WebP (and GIF with ``gif=True``) previews of every take in ``folder`` and a ``README.md``
    laying them out as the grid, for places where ``<video>`` does not play (GitHub, issues, chats).

    Defaults (320 px, 8 fps) keep a 5 s take near 0.2-0.5 MB as WebP and 1-2 MB as GIF, far under GitHub's
    10 MB. File names are job numbers; captions (what varies, flags) are escaped for Markdown.
    """
    if isinstance(width, bool) or not isinstance(width, int) or not 32 <= width <= 1280:
        raise InputError([Problem("width", "must be a whole number of pixels from 32 to 1280", width, "32 .. 1280")])
    if not 1 <= float(fps) <= 24:
        raise InputError([Problem("fps", "must be between 1 and 24 frames per second", fps, "1 .. 24")])
    if sort_by is not None:
        _check_metric(df, sort_by, "sort_by")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    shown = _downloaded(df)
    row_cols, col_cols, vary = _axes(shown, rows, cols)
    layout = _layout(shown, row_cols, col_cols, sort_by)
    columns, headers = _preview_columns(layout, col_cols, sort_by)
    lines = _preview_head(row_cols, sort_by, headers)
    caption_cols = [*col_cols, *vary] if sort_by is not None else list(vary)
    options = _PreviewOptions(out, width, fps, gif, max_bytes, sort_by, caption_cols)
    for key, members in layout:
        slots: dict[Any, list[str]] = {k: [] for k in columns}
        for position, rec in enumerate(members, 1):
            job = _plain(rec.get("job"))
            stem = f"{int(job):03d}" if isinstance(job, int | float) else f"take-{len(lines):03d}-{position}"
            where = position if sort_by is not None else tuple(_plain(rec.get(c)) for c in col_cols)
            slots[where].append(_preview_cell(rec, stem, options))
        label = markdown_text(" · ".join(_text(v, 200) for v in key)) if row_cols else ""
        lines.append("| " + " | ".join([label, *("<br>".join(slots[k]) for k in columns)]) + " |")
    page = out / "README.md"
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return page


set_public_module(__name__)
