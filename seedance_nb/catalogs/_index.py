"""Journal -> catalog rows: the pure part of indexing (no database here).

A run folder's ``journal.jsonl`` is replayed with :meth:`seedance_nb.runs.Job.apply` (the one
place job state changes), so the catalog agrees with ``load_sweep(run_dir).df``. Nothing here
decodes images or touches videos, so indexing a 1,000-job sweep is a matter of milliseconds.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..runs import Job, Journal
from ..schema import _DEFAULTS
from ..statuses import is_paid

#: How deep under the sweeps root run folders are looked for (``sweeps/<name>``, ``sweeps/generations/<t>``).
MAX_DEPTH = 3
_SKIP_DIRS = frozenset({"videos", "posters", "inputs", "node_modules", "__pycache__"})


def this_host() -> str:
    return os.environ.get("SEEDANCE_HOST") or socket.gethostname()


def this_user() -> str:
    try:
        return os.environ.get("SEEDANCE_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def run_id(host: str, run_dir: Path) -> str:
    """A stable id for a run folder: its host and absolute path (identical after a rebuild)."""
    return hashlib.sha256(f"{host}\0{run_dir}".encode()).hexdigest()[:32]


def find_runs(root: Path) -> Iterator[Path]:
    """Every run folder (a folder holding ``journal.jsonl``) under ``root``, depth-bounded, sorted."""
    root = Path(root)
    if not root.is_dir():
        return
    stack = [(root, 0)]
    found = []
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        if any(e.name == "journal.jsonl" and e.is_file() for e in entries):
            found.append(Path(folder))
            continue
        if depth >= MAX_DEPTH:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".") and entry.name not in _SKIP_DIRS:
                stack.append((Path(entry.path), depth + 1))
    yield from sorted(found)


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return str(value.get("name") or value.get("$file") or "image")
    text = str(value)
    if text.startswith("data:"):
        return "data URI"
    tail = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or text[:60]


def _vote_jobs(event: Mapping[str, Any]) -> list[int]:
    out = []
    for name in ("job", "winner", "loser", "a", "b", "left", "right"):
        value = event.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(value)
    for value in event.get("jobs") or ():
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(value)
    return list(dict.fromkeys(out))


def _abs(path: str | None, run_dir: Path) -> str | None:
    if not path:
        return None
    p = Path(path)
    return str(p if p.is_absolute() else run_dir / p)


def read_run(run_dir: Path, *, host: str, user: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``catalog_runs`` row and the ``catalog_jobs`` rows of one run folder, from its journal alone."""
    run_dir = Path(run_dir).resolve()
    journal = run_dir / "journal.jsonl"
    stat = journal.stat()
    events = Journal.read(journal)
    header = events[0] if events and events[0].get("event") == "sweep" else {}
    rid = run_id(host, run_dir)
    run_user = header.get("user") or user
    endpoint = header.get("endpoint")
    backend = header.get("backend")
    state: dict[int, Job] = {}
    extras: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event.get("event")
        if kind == "planned":
            # The index reads a job's state, never its input (the payload goes to extras as JSON): no VideoInput.
            job = Job(job=event["job"], input=None, take=event.get("take", 1), key=event.get("key", ""))  # type: ignore[arg-type]
            job.labels = dict(event.get("labels") or {})
            job.est_cost_usd = event.get("est_cost_usd")
            state[job.job] = job
            extras[job.job] = {"payload": event.get("payload") or {}, "planned_at": event.get("at"), "votes": 0}
            extras[job.job]["endpoint"] = event.get("endpoint")  # a grid over endpoints: each job's own
            continue
        if kind is not None and kind.startswith("vote"):
            for voted in _vote_jobs(event):
                if voted in extras:
                    extras[voted]["votes"] += 1
            continue
        number = event.get("job")
        if number not in state:
            continue
        if kind == "metrics" or "metrics" in event:
            extras[number]["metrics"] = event.get("metrics")
        if "cost_usd" in event:
            extras[number]["cost_usd"] = event["cost_usd"]
        try:
            state[number].apply(event)
        except (KeyError, TypeError, ValueError):
            continue  # an event this version does not understand: the journal stays the truth
    rows = [
        _row(job, extras[job.job], run_dir, rid, header, host, run_user, endpoint, backend) for job in state.values()
    ]
    rows.sort(key=lambda r: r["job"])
    run = {
        "run_id": rid,
        "run_dir": str(run_dir),
        "run_name": header.get("name") or run_dir.name,
        "host": host,
        "user": run_user,
        "endpoint": endpoint,
        "backend": backend,
        "created_at": events[0].get("at") if events else None,
        "journal_size": stat.st_size,
        "journal_mtime": stat.st_mtime,
        "jobs": len(rows),
    }
    return run, rows


def _row(
    job: Job,
    extra: dict[str, Any],
    run_dir: Path,
    rid: str,
    header: Mapping[str, Any],
    host: str,
    user: str,
    endpoint: str | None,
    backend: str | None,
) -> dict[str, Any]:
    submitted, started, completed = job.submitted_at, job.started_at, job.completed_at
    return {
        "run_id": rid,
        "run_name": header.get("name") or run_dir.name,
        "run_dir": str(run_dir),
        "host": host,
        "user": user,
        "backend": backend,
        "endpoint": extra.get("endpoint") or endpoint,
        "job": job.job,
        "take": job.take,
        **_input_fields(job, extra["payload"]),
        "request_id": job.request_id,
        "status": str(job.status),  # the plain word, for any database driver
        "error_type": job.error_type,
        "error": job.error,
        "planned_at": extra.get("planned_at"),
        "submitted_at": submitted,
        "started_at": started,
        "completed_at": completed,
        "at": completed or submitted or extra.get("planned_at"),
        "queue_seconds": round(started - submitted, 3) if started is not None and submitted is not None else None,
        "generation_seconds": round(completed - started, 3) if completed is not None and started is not None else None,
        **_video_fields(job, run_dir),
        "est_cost_usd": job.est_cost_usd,
        "cost_usd": extra.get("cost_usd"),
        # Paid by this job: finished on fal (downloaded or not: its result is journalled); cached ones were paid
        # earlier. Whether it is money also depends on the backend: _store.COUNTS_AS_MONEY (emulated never is).
        "billed": is_paid(job.status, job.video_url),
        "cache_key": job.key or None,
        "rating": job.rating,  # read by seedance_nb.ratings.stars when the journal was replayed
        "notes": job.notes,
        "votes": extra.get("votes") or 0,
        "metrics": json.dumps(extra["metrics"], sort_keys=True, default=str) if extra.get("metrics") else None,
    }


def _input_fields(job: Job, planned: Mapping[str, Any]) -> dict[str, Any]:
    """A catalog row's input columns, from the planned payload (images by the labels the user gave them)."""
    payload = {**_DEFAULTS, **planned}
    known = {"prompt", "image_url", *_DEFAULTS}
    other = {k: v for k, v in payload.items() if k not in known}
    seed = payload.get("seed")
    return {
        "prompt": payload.get("prompt"),
        "image": job.labels.get("image_url") or _label(payload.get("image_url")),
        "end_image": job.labels.get("end_image_url") or _label(payload.get("end_image_url")),
        "resolution": payload.get("resolution"),
        "duration": None if payload.get("duration") is None else str(payload.get("duration")),
        "aspect_ratio": payload.get("aspect_ratio"),
        "generate_audio": payload.get("generate_audio"),
        "seed": seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        "end_user_id": payload.get("end_user_id"),
        "extra": json.dumps(other, sort_keys=True, default=str) if other else None,
    }


def _video_fields(job: Job, run_dir: Path) -> dict[str, Any]:
    """A catalog row's video columns: where it is, and what the download's probe said of it."""
    info = job.info or {}
    return {
        "video_url": job.video_url,
        "path": _abs(job.path, run_dir),
        "poster": _abs(job.poster, run_dir),
        "file_size": job.file_size,
        "width": info.get("width"),
        "height": info.get("height"),
        "fps": info.get("fps"),
        "video_seconds": info.get("duration"),
        "has_audio": info.get("has_audio"),
        "output_seed": job.output_seed,
    }
