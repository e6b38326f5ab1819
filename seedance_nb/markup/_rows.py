"""What the views are given: a DataFrame, a sweep, a row or a result, and which columns vary."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .._names import set_public_module
from ._status import OUTCOME_COLUMNS
from ._text import _ROW_FIRST, is_loopback_url, is_missing, plain

# --------------------------------------------------------------------------- inputs


def frame_of(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a sweep (anything with ``.df``), one row, or a list of rows."""
    if isinstance(data, pd.DataFrame):
        return data
    df = getattr(data, "df", None)
    if isinstance(df, pd.DataFrame):
        if "run_dir" not in df.attrs and getattr(data, "run_dir", None) is not None:
            # annotated: pandas-stubs give Any when mypy checks for Python 3.10
            copied: pd.DataFrame = df.copy()
            copied.attrs["run_dir"] = str(data.run_dir)
            return copied
        return df
    rows = [row_of(item) for item in data] if isinstance(data, list | tuple) else [row_of(data)]
    # annotated: pandas-stubs give Any when mypy checks for Python 3.10
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame


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


set_public_module(__name__)
