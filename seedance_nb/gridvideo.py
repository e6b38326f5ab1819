"""Any grid of takes as one tiled video: an MP4 (H.264, with one cell's sound or none) or an animated WebP.

::

    sd.grid_video(sweep.df, "grid.mp4", rows="prompt", cols="seed")     # axes, as the gallery pivots them
    sd.grid_video(sweep, "grid.webp", rows=3, cols=3)                    # or a plain 3 x 3 layout, in df order
    sweep.grid_video("grid.mp4", audio=4)                                # the sound of job 4

Each cell is labelled with its axis values on a strip above it; every take is letterboxed into one common cell
size (the most common aspect ratio, ``cell_width`` wide); a shorter take holds its last frame until the longest
ends. Frames are streamed: each output frame decodes one frame per cell, so memory does not grow with the
number of frames. The MP4 is H.264 (CRF 28, capped at 9 Mbit/s), so a 3 x 3 grid of 5 s takes stays under
8 MB. PyAV (FFmpeg) does the decoding, scaling, letterboxing and encoding, as it does everywhere else in the
package: hand-written codecs or an ``ffmpeg`` subprocess would be slower to get right and another dependency.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from ._names import set_public_module
from .errors import InputError, Problem
from .markup import auto_axes, axis_columns, frame_of, plain, varying_columns

__all__ = ["GridVideo", "grid_video"]

#: The label strip above each cell, in pixels.
LABEL_PX = 28
#: The longest grid video written (frames): a bound on the streaming loop (15 s at 60 fps, twice over).
MAX_FRAMES = 1800
_FORMATS = {".mp4": "mp4", ".webp": "webp"}
_BACKGROUND = (24, 24, 24)


@dataclass(frozen=True)
class GridVideo:
    """What :func:`grid_video` wrote.

    Args:
        path: the file.
        rows: rows of cells.
        cols: columns of cells.
        frames: frames written.
        width: the video's width in pixels.
        height: its height.
        size_bytes: the file's size.
        labels: each cell's label, row by row (``""`` for an empty cell).
        audio_job: the job whose sound it carries, or None.
    """

    path: Path
    rows: int
    cols: int
    frames: int
    width: int
    height: int
    size_bytes: int
    labels: tuple[str, ...]
    audio_job: int | None = None

    def __repr__(self) -> str:
        return (
            f"GridVideo({self.path.name}: {self.rows}x{self.cols} cells, {self.width}x{self.height}, "
            f"{self.frames} frames, {self.size_bytes / 1e6:.1f} MB)"
        )


@dataclass
class _Cell:
    row: dict[str, Any] | None
    label: str


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _has_video(row: dict[str, Any]) -> bool:
    path = row.get("path")
    return isinstance(path, str | Path) and bool(str(path)) and Path(path).is_file()


def _label(row: dict[str, Any], columns: Sequence[str]) -> str:
    parts = []
    for column in columns:
        value = plain(row.get(column))
        text = str(value) if value is not None else "-"
        parts.append(text if column == "prompt" else f"{column} {text}")
    return " · ".join(parts) or f"#{plain(row.get('job'))}"


def _axes(df: pd.DataFrame, rows: Any, cols: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The axis columns down and across (the gallery's automatic ones when neither is given), checked."""
    if rows is None and cols is None:
        rows, cols = auto_axes(df)
    row_axes, col_axes = axis_columns(rows), axis_columns(cols)
    for name, axes in (("rows", row_axes), ("cols", col_axes)):
        missing = [c for c in axes if c not in df.columns]
        if missing:
            raise InputError([Problem(name, "no such column", missing[0], "an input column, e.g. 'prompt'")])
    return row_axes, col_axes


def _pivot(df: pd.DataFrame, rows: Any, cols: Any) -> tuple[list[list[_Cell]], list[str]]:
    """The cells, row by row, for axis names ``rows`` and ``cols`` (the gallery's pivot)."""
    row_axes, col_axes = _axes(df, rows, cols)
    records: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    # several takes in one cell: give each its own column, so no take is hidden
    keys = [tuple(plain(r.get(c)) for c in (*row_axes, *col_axes)) for r in records]
    if len(set(keys)) < len(keys) and "take" in df.columns and "take" not in (*row_axes, *col_axes):
        col_axes = (*col_axes, "take")
    row_keys = list(dict.fromkeys(tuple(plain(r.get(c)) for c in row_axes) for r in records))
    col_keys = list(dict.fromkeys(tuple(plain(r.get(c)) for c in col_axes) for r in records))
    columns = [*row_axes, *col_axes]
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        found.setdefault(tuple(plain(record.get(c)) for c in columns), record)
    return [[_cell(found.get(rk + ck), columns) for ck in col_keys] for rk in row_keys], columns


def _cell(row: dict[str, Any] | None, columns: Sequence[str]) -> _Cell:
    if row is None:
        return _Cell(None, "")
    return _Cell(row if _has_video(row) else None, _label(row, columns) + ("" if _has_video(row) else " (no video)"))


def _layout(df: pd.DataFrame, rows: int | None, cols: int | None) -> tuple[list[list[_Cell]], list[str]]:
    """The cells in DataFrame order, ``rows`` x ``cols`` (either may be left out)."""
    n = len(df)
    if rows is None and cols is None:
        cols = math.ceil(math.sqrt(n))
    if rows is None:
        rows = math.ceil(n / max(1, cols or 1))
    if cols is None:
        cols = math.ceil(n / max(1, rows))
    if rows * cols < n:
        raise InputError([Problem("rows", f"{rows} x {cols} cells hold fewer than the {n} takes", rows, "more")])
    columns = varying_columns(df) or ["job"]
    records: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    cells = [_cell(r, columns) for r in records] + [_Cell(None, "")] * (rows * cols - n)
    return [cells[i * cols : (i + 1) * cols] for i in range(rows)], columns


def _check_count(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError([Problem(name, "must be a whole number of at least 1, or axis names", value, "3")])


def _cells(df: pd.DataFrame, rows: Any, cols: Any) -> list[list[_Cell]]:
    if isinstance(rows, int) or isinstance(cols, int):
        _check_count("rows", rows)
        _check_count("cols", cols)
        grid, _ = _layout(df, rows, cols)
    else:
        grid, _ = _pivot(df, rows, cols)
    if not any(cell.row is not None for line in grid for cell in line):
        raise InputError([Problem("data", "no take in this grid has a downloaded video", len(df), "a finished sweep")])
    return grid


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _base(grid: list[list[_Cell]], cell: tuple[int, int], label_px: int) -> np.ndarray:
    """The canvas behind every frame: the background and each cell's label strip, drawn once."""
    cell_w, cell_h = cell
    width, height = cell_w * len(grid[0]), (cell_h + label_px) * len(grid)
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    if label_px:
        draw = ImageDraw.Draw(canvas)
        font = _font(max(10, label_px - 12))
        for r, line in enumerate(grid):
            for c, item in enumerate(line):
                text = item.label
                while text and draw.textlength(text, font=font) > cell_w - 12:
                    text = text[:-2] + "…" if len(text) > 2 else ""
                draw.text((c * cell_w + 6, r * (cell_h + label_px) + 5), text, fill=(235, 235, 235), font=font)
    return np.array(canvas)


def _frames(path: Path, cell: tuple[int, int]) -> Iterator[tuple[np.ndarray, tuple[int, int]]]:
    """One take's frames letterboxed into ``cell``: each frame scaled by FFmpeg to fit, and its offset."""
    cell_w, cell_h = cell
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scale = min(cell_w / stream.codec_context.width, cell_h / stream.codec_context.height)
        fit_w = min(cell_w, _even(stream.codec_context.width * scale))
        fit_h = min(cell_h, _even(stream.codec_context.height * scale))
        offset = ((cell_w - fit_w) // 2, (cell_h - fit_h) // 2)
        for frame in container.decode(stream):
            yield frame.reformat(width=fit_w, height=fit_h, format="rgb24").to_ndarray(), offset


def _cell_size(grid: list[list[_Cell]], cell_width: int) -> tuple[int, int]:
    """``cell_width`` wide, with the most common aspect ratio among the takes."""
    ratios: Counter[float] = Counter()
    for line in grid:
        for item in line:
            if item.row is not None:
                with av.open(str(item.row["path"])) as container:
                    ctx = container.streams.video[0].codec_context
                    ratios[round(ctx.width / ctx.height, 3)] += 1
    ratio = ratios.most_common(1)[0][0]
    return _even(cell_width), _even(cell_width / ratio)


def _rate(grid: list[list[_Cell]]) -> Fraction:
    for line in grid:
        for item in line:
            if item.row is not None:
                with av.open(str(item.row["path"])) as container:
                    rate = container.streams.video[0].average_rate
                    if rate:
                        return Fraction(rate).limit_denominator(1001)
    return Fraction(24)


def _audio_row(grid: list[list[_Cell]], audio: Any, kind: str) -> dict[str, Any] | None:
    if audio is None:
        return None
    if kind != "mp4":
        raise InputError([Problem("audio", "an animated WebP has no sound", audio, "a path ending in .mp4")])
    for line in grid:
        for item in line:
            if item.row is not None and plain(item.row.get("job")) == plain(audio):
                return item.row
    shown = sorted(plain(item.row.get("job")) for line in grid for item in line if item.row is not None)
    raise InputError([Problem("audio", "no cell of the grid shows this job", audio, f"one of {shown} or None")])


def _open_output(target: Path, kind: str, size: tuple[int, int], rate: Fraction, crf: int) -> Any:
    options = {"movflags": "+faststart"} if kind == "mp4" else {}
    container = av.open(str(target), "w", format=kind, options=options)
    if kind == "mp4":
        stream = container.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf), "maxrate": "9M", "bufsize": "18M"}
    else:
        stream = container.add_stream("libwebp_anim", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"quality": str(max(10, 100 - 2 * crf)), "loop": "0"}
    stream.width, stream.height = size
    stream.codec_context.time_base = Fraction(1) / rate
    return container, stream


def grid_video(
    data: Any,
    path: str | Path,
    rows: str | Sequence[str] | int | None = None,
    cols: str | Sequence[str] | int | None = None,
    *,
    cell_width: int = 480,
    audio: int | None = None,
    labels: bool = True,
    crf: int = 28,
) -> GridVideo:
    """Write a grid of takes as one tiled video (see the module docstring for the layout).

    Args:
        data: a sweep, its DataFrame, or a list of rows (each with a downloaded video's ``path``).
        path: where to write: ``.mp4`` (H.264) or ``.webp`` (animated WebP), written atomically.
        rows: the axis (or axes) down the side, as the gallery pivots them; or a number of rows, filled in the
            DataFrame's order. Both left out: the gallery's automatic axes.
        cols: the axis (or axes) across; or a number of columns.
        cell_width: each cell's width in pixels (its height follows the takes' most common aspect ratio).
        audio: the job (the ``job`` column) whose sound the MP4 carries; None for a silent video.
        labels: draw each cell's axis values on a strip above it.
        crf: the H.264 quality (lower is better and bigger; the WebP quality follows it).

    Raises:
        InputError: an unknown extension or axis, a layout too small, no video, or ``audio`` naming no cell.
    """
    target = Path(path)
    kind = _FORMATS.get(target.suffix.lower())
    if kind is None:
        raise InputError([Problem("path", "unknown video format", str(path), "a path ending in .mp4 or .webp")])
    if isinstance(cell_width, bool) or not isinstance(cell_width, int) or not 64 <= cell_width <= 1920:
        raise InputError([Problem("cell_width", "must be a whole number of pixels, 64..1920", cell_width, "480")])
    grid = _cells(frame_of(data), rows, cols)
    sound = _audio_row(grid, audio, kind)
    cell = _cell_size(grid, cell_width)
    label_px = LABEL_PX if labels else 0
    base = _base(grid, cell, label_px)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        frames = _write(part, kind, grid, base, cell, label_px, sound, crf)
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return GridVideo(
        path=target,
        rows=len(grid),
        cols=len(grid[0]),
        frames=frames,
        width=base.shape[1],
        height=base.shape[0],
        size_bytes=target.stat().st_size,
        labels=tuple(item.label for line in grid for item in line),
        audio_job=plain(sound.get("job")) if sound is not None else None,
    )


def _write(
    part: Path,
    kind: str,
    grid: list[list[_Cell]],
    base: np.ndarray,
    cell: tuple[int, int],
    label_px: int,
    sound: dict[str, Any] | None,
    crf: int,
) -> int:
    """Stream every cell's frames into the output; returns the number of frames written."""
    rate = _rate(grid)
    container, stream = _open_output(part, kind, (base.shape[1], base.shape[0]), rate, crf)
    with container:
        if sound is not None:
            _copy_audio(Path(sound["path"]), container)
        sources = [
            (_frames(Path(item.row["path"]), cell), (c * cell[0], r * (cell[1] + label_px) + label_px))
            for r, line in enumerate(grid)
            for c, item in enumerate(line)
            if item.row is not None
        ]
        canvas = base.copy()
        count = 0
        while count < MAX_FRAMES:
            alive = False
            for frames, (x, y) in sources:
                got = next(frames, None)
                if got is None:
                    continue  # the take ended: its last frame stays on the canvas
                alive = True
                picture, (dx, dy) = got
                canvas[y + dy : y + dy + picture.shape[0], x + dx : x + dx + picture.shape[1]] = picture
            if not alive:
                break
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = count
            container.mux(stream.encode(frame))
            count += 1
        container.mux(stream.encode(None))
        for frames, _ in sources:
            frames.close()  # type: ignore[attr-defined]
    return count


def _copy_audio(source: Path, container: Any) -> None:
    """Copy a take's sound into the output as it is (no re-encoding): a few hundred kB, muxed first."""
    with av.open(str(source)) as src:
        if not src.streams.audio:
            raise InputError([Problem("audio", "this take has no sound", source.name, "another job, or None")])
        in_audio = src.streams.audio[0]
        out_audio = container.add_stream_from_template(in_audio)
        for packet in src.demux(in_audio):
            if packet.dts is None:
                continue
            packet.stream = out_audio
            container.mux(packet)


set_public_module(__name__)
