"""A run folder: the append-only journal (the record of truth), the cache index, and the DataFrame.

Layout of ``sweeps/<name>/`` (not hidden, so Jupyter can serve the videos)::

    journal.jsonl      one JSON line per state change, fsynced before the next network wait
    inputs/            the input images, by sha256 (so a resume can rebuild every request)
    videos/            downloaded MP4s, named <job>-<cache key>.mp4
    posters/           first-frame JPEGs
    report.html        written by seedance_nb.report

The cache index ``cache.jsonl`` lives in the parent folder (``sweeps/``), shared by every run there.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .metrics import METRIC_COLUMNS
from .schema import VideoInput

__all__ = ["COLUMNS", "OUTCOME_COLUMNS", "TERMINAL", "CacheIndex", "Job", "Journal", "cache_key", "to_dataframe"]

#: Statuses a job does not leave by itself.
TERMINAL = frozenset({"completed", "failed", "cancelled", "cached"})

INPUT_COLUMNS = [
    "prompt",
    "image",
    "end_image",
    "resolution",
    "duration",
    "aspect_ratio",
    "generate_audio",
    "seed",
    "end_user_id",
]
COLUMNS = [
    "job",
    *INPUT_COLUMNS,
    "take",
    "request_id",
    "status",
    "error_type",
    "error",
    "submitted_at",
    "started_at",
    "completed_at",
    "queue_seconds",
    "generation_seconds",
    "video_url",
    "path",
    "poster",
    "file_size",
    "width",
    "height",
    "fps",
    "video_seconds",
    "has_audio",
    "output_seed",
    "est_cost_usd",
    "cache_key",
    "rating",
    "notes",
]


#: Columns that describe a job's outcome rather than its input (the display captions what varies among inputs).
OUTCOME_COLUMNS: frozenset[str] = (frozenset(COLUMNS) - set(INPUT_COLUMNS) - {"take"}) | set(METRIC_COLUMNS)


def now() -> float:
    return time.time()


def cache_key(endpoint: str, inp: VideoInput, image_hashes: Mapping[str, str], take: int) -> str:
    """sha256 of endpoint + canonical input (images by content hash, not URL) + take."""
    resolved = inp.resolved()
    for name, digest in image_hashes.items():
        if resolved.get(name) is not None:
            resolved[name] = f"sha256:{digest}"
    blob = json.dumps({"endpoint": endpoint, "input": resolved, "take": take}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Journal:
    """Append-only JSON lines, each flushed to the OS before ``append`` returns (so a killed process
    loses nothing) and, unless ``durable=False``, fsynced too (so a crashed machine loses nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def append(self, event: Mapping[str, Any], *, durable: bool = True) -> None:
        self.extend([event], durable=durable)

    def extend(self, events: Iterable[Mapping[str, Any]], *, durable: bool = True) -> None:
        """Append several lines with one flush and one fsync."""
        self._fh.write("".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in events))
        self._fh.flush()
        if durable:
            self.sync()

    def sync(self) -> None:
        """fsync what has been appended (safe to call from a worker thread)."""
        if not self._fh.closed:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Every complete line (a torn last line from a crash is skipped)."""
        events = []
        if not path.exists():
            return events
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return events


@dataclass
class Job:
    """One video of a sweep: its input, where it stands, and what came back."""

    job: int
    input: VideoInput
    take: int
    key: str
    labels: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    est_cost_usd: float | None = None
    status: str = "planned"
    request_id: str | None = None
    queue_position: int | None = None
    error_type: str | None = None
    error: str | None = None
    retryable: bool | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    video_url: str | None = None
    file_size: int | None = None
    path: str | None = None
    poster: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    output_seed: int | None = None
    rating: Any = None
    notes: str | None = None
    last_log: str | None = None
    #: The video's measures (seedance_nb.metrics.VideoMetrics.to_json()), from the journal's "metrics" event.
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def apply(self, event: Mapping[str, Any]) -> None:
        """Move this job by one journal event (the one place state changes)."""
        kind = event["event"]
        at = event.get("at")
        if kind == "submitting":
            self.status = "submitting"
        elif kind == "submitted":
            self.status, self.request_id, self.submitted_at = "submitted", event["request_id"], at
        elif kind == "started":
            self.status, self.started_at = "running", at
        elif kind == "result":
            self.status = "downloading"
            self.completed_at = event.get("completed_at", at)
            self.video_url = event["output"]["video"]["url"]
            self.file_size = event["output"]["video"].get("file_size")
            self.output_seed = event["output"].get("seed")
        elif kind in ("downloaded", "cached"):
            self.status = "completed" if kind == "downloaded" else "cached"
            self.path, self.poster = event.get("path"), event.get("poster")
            self.info = dict(event.get("info") or {})
            self.metrics = {}  # a new video: its own "metrics" event follows
            self.file_size = self.info.get("size_bytes", self.file_size)
            if kind == "cached":
                # The original run's timings: how long this video took to make (it costs nothing now).
                timings = event.get("timings") or {}
                self.video_url = event.get("video_url")
                self.output_seed = event.get("output_seed")
                self.submitted_at = timings.get("submitted_at")
                self.started_at = timings.get("started_at")
                self.completed_at = timings.get("completed_at") or at
        elif kind == "completed_no_download":
            self.status = "completed"
        elif kind == "failed":
            self.status = "failed"
            self.error_type, self.error = event.get("error_type"), event.get("error")
            self.retryable = event.get("retryable")
            self.completed_at = self.completed_at or at
        elif kind == "interrupted":
            self.status = "interrupted"
            self.error_type, self.error = event.get("error_type"), event.get("error")
        elif kind == "cancelled":
            self.status, self.completed_at = "cancelled", at
            self.error_type, self.error = "client_cancelled", event.get("error", "cancelled")
        elif kind == "retry":
            self.status, self.request_id = "planned", None
            self.error_type = self.error = None
            self.submitted_at = self.started_at = self.completed_at = None
        elif kind == "metrics":
            self.metrics = dict(event["metrics"])
        elif kind == "rated":
            if "rating" in event:
                self.rating = event["rating"]
            if "notes" in event:
                self.notes = event["notes"]

    def row(self, run_dir: Path | None = None) -> dict[str, Any]:
        inp = self.input
        row: dict[str, Any] = {
            "job": self.job,
            "prompt": inp.prompt,
            "image": self.labels.get("image_url"),
            "end_image": self.labels.get("end_image_url"),
            "resolution": inp.resolution,
            "duration": inp.duration,
            "aspect_ratio": inp.aspect_ratio,
            "generate_audio": inp.generate_audio,
            "seed": inp.seed,
            "end_user_id": inp.end_user_id,
        }
        row.update({k: v for k, v in inp.extra.items() if k not in row})
        started = self.started_at
        row.update(
            take=self.take,
            request_id=self.request_id,
            status=self.status,
            error_type=self.error_type,
            error=self.error,
            submitted_at=_ts(self.submitted_at),
            started_at=_ts(started),
            completed_at=_ts(self.completed_at),
            queue_seconds=_diff(self.submitted_at, started),
            generation_seconds=_diff(started, self.completed_at),
            video_url=self.video_url,
            path=_abs(self.path, run_dir),
            poster=_abs(self.poster, run_dir),
            file_size=self.file_size,
            width=self.info.get("width"),
            height=self.info.get("height"),
            fps=self.info.get("fps"),
            video_seconds=self.info.get("duration"),
            has_audio=self.info.get("has_audio"),
            output_seed=self.output_seed,
            est_cost_usd=self.est_cost_usd,
            cache_key=self.key,
            rating=self.rating,
            notes=self.notes,
        )
        row.update({name: self.metrics.get(name) for name in METRIC_COLUMNS})
        return row


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


def _diff(a: float | None, b: float | None) -> float | None:
    return round(b - a, 3) if a is not None and b is not None else None


def _abs(path: str | None, run_dir: Path | None) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute() and run_dir is not None:
        p = run_dir / p
    return str(p.resolve())


def to_dataframe(jobs: Iterable[Job], run_dir: Path | None = None) -> Any:
    """One row per job, in grid order, with the columns of docs/contracts.md."""
    import pandas as pd

    rows = [job.row(run_dir) for job in jobs]
    columns = list(COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    df = pd.DataFrame(rows, columns=columns)
    for name in ("submitted_at", "started_at", "completed_at"):
        df[name] = pd.to_datetime(df[name], utc=True)
    df.attrs["run_dir"] = str(run_dir) if run_dir else None
    return df


class CacheIndex:
    """Finished videos by cache key, shared by the runs in one folder (``cache.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        for entry in Journal.read(path):
            self.entries[entry["key"]] = entry

    def lookup(self, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        video = Path(entry["path"])
        if not video.is_file() or video.stat().st_size != entry.get("info", {}).get("size_bytes"):
            return None
        return entry

    def add(self, entry: dict[str, Any]) -> None:
        self.entries[entry["key"]] = entry
        journal = Journal(self.path)
        try:
            journal.append(entry)
        finally:
            journal.close()
