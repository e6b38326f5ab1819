"""Real small MP4s, poster JPEGs and hand-built sweep DataFrames for the display and report tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd
from PIL import Image

from seedance_nb.columns import COLUMNS as SWEEP_COLUMNS

#: The sweep DataFrame's columns, from the code's own list (a hand-built frame has exactly the columns a sweep's has).
COLUMNS = list(SWEEP_COLUMNS)


def write_mp4(path: Path, *, width: int = 64, height: int = 64, frames: int = 12, shade: int = 0) -> Path:
    """A real H.264 yuv420p MP4 at 24 fps: a bar moving across a coloured background."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.zeros((height, width, 3), dtype=np.uint8)
            img[:, :] = ((shade * 53) % 256, (shade * 97 + 80) % 256, 160)
            x = int(i / max(frames - 1, 1) * (width - 8))
            img[:, x : x + 8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_jpeg(path: Path, *, width: int = 64, height: int = 64, shade: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), ((shade * 53) % 256, (shade * 97 + 80) % 256, 160)).save(path, "JPEG")
    return path


def sweep_frame(
    run_dir: Path,
    *,
    prompts: Sequence[str] = ("a slow push-in", "a whip pan"),
    seeds: Sequence[int] = (1, 2, 3),
    durations: Sequence[str] = ("5",),
    takes: int = 1,
    statuses: dict[int, str] | None = None,
    errors: dict[int, tuple[str, str]] | None = None,
    drop: Sequence[int] = (),
    size: tuple[int, int] = (64, 64),
    frames: int = 12,
    video_url: bool = False,
    write_files: bool = True,
    extra: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """A sweep DataFrame with the contract's columns; completed jobs point at real files in ``run_dir``."""
    statuses = statuses or {}
    errors = errors or {}
    t0 = pd.Timestamp("2025-01-01T12:00:00Z")
    rows = []
    combos = list(itertools.product(prompts, durations, seeds, range(1, takes + 1)))
    for i, (prompt, duration, seed, take) in enumerate(combos):
        if i in drop:
            continue
        status = statuses.get(i, "failed" if i in errors else "completed")
        job = f"j{i:03d}"
        done = status in ("completed", "cached")
        video = run_dir / "videos" / f"{job}-abcdef12.mp4"
        poster = run_dir / "posters" / f"{job}-abcdef12.jpg"
        if done and write_files:
            write_mp4(video, width=size[0], height=size[1], frames=frames, shade=i)
            write_jpeg(poster, width=size[0], height=size[1], shade=i)
        submitted = t0 + pd.Timedelta(seconds=2 * i)
        not_started = status in ("planned", "submitting", "submitted", "unknown")
        started = submitted + pd.Timedelta(seconds=1 + i % 3) if not not_started else None
        completed = started + pd.Timedelta(seconds=10 + i) if started is not None and status != "running" else None
        error_type, error = errors.get(i, (None, None))
        row = {
            "job": i,
            "prompt": prompt,
            "image": "cat.png",
            "end_image": None,
            "resolution": "480p",
            "duration": duration,
            "aspect_ratio": "1:1",
            "generate_audio": True,
            "seed": seed,
            "end_user_id": None,
            "take": take,
            "request_id": f"req-{i}",
            "status": status,
            "error_type": error_type,
            "error": error,
            "submitted_at": submitted,
            "started_at": started,
            "completed_at": completed,
            "queue_seconds": (started - submitted).total_seconds() if started is not None else None,
            "generation_seconds": (completed - started).total_seconds() if completed is not None else None,
            "video_url": f"https://v3.fal.media/files/{job}.mp4" if done and video_url else None,
            "path": str(video) if done else None,
            "poster": str(poster) if done else None,
            "file_size": video.stat().st_size if done and write_files else None,
            "width": size[0] if done else None,
            "height": size[1] if done else None,
            "fps": 24.0 if done else None,
            "video_seconds": frames / 24 if done else None,
            "has_audio": False if done else None,
            "output_seed": seed if done else None,
            "est_cost_usd": 0.5645,
            "cache_key": f"key{i}",
            "rating": None,
            "notes": None,
        }
        row.update(extra or {})
        rows.append(row)
    df = pd.DataFrame(rows, columns=[*COLUMNS, *(k for k in extra or {} if k not in COLUMNS)])
    df.attrs["run_dir"] = str(run_dir)
    return df


class Tree(HTMLParser):
    """Collects start tags with their attributes, and the text inside chosen elements."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]

    @property
    def all_text(self) -> str:
        return "".join(self.text)
