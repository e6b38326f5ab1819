"""A run folder (one owner: :class:`RunFolder`), its append-only journal (the record of truth), the jobs it
replays, the per-user cache index, and the DataFrame. The status words live in :mod:`seedance_nb.statuses`, the
column lists in :mod:`seedance_nb.columns` (both re-exported here).

Layout of a run folder, ``sweeps/<name>/`` under the working folder by default (not hidden, so
JupyterLab can serve the videos; ``SEEDANCE_RUNS`` moves the root)::

    journal.jsonl      one JSON line per state change, fsynced before the next network wait
    sweep.json         what the sweep is (name, endpoint, axes, backend), for people and tools
    inputs/            the input images, by sha256 (so a resume can rebuild every request)
    videos/            the MP4s, named <job>-<cache key>.mp4 (a cached job's video is linked or copied in)
    posters/           first-frame JPEGs
    report.html        written by seedance_nb.reporting
    .lock              held by the one process that may submit from this folder (filelock)

``generate()`` writes to ``sweeps/generations/<stamp>/``. The cache index is one per user, not per
folder: ``$SEEDANCE_HOME/cache.sqlite`` (default: the user's cache folder, e.g.
``~/.cache/seedance-nb``), shared by ``generate``, ``run_sweep``, the widgets and the CLI from any
working folder, and safe under concurrent writers (SQLite in WAL mode).

Why filelock and SQLite: filelock is the well-kept cross-platform file lock (flock on Unix,
LockFileEx on Windows; released by the OS when a process dies, so a crashed kernel never leaves a
folder locked); sqlite3 is in the standard library and gives atomic, concurrent-safe updates of
the cache index that a JSONL file cannot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from ._names import set_public_module
from ._sqlite import use_wal as use_wal
from ._sqlite import writer_lock
from .columns import COLUMNS as COLUMNS
from .columns import INPUT_COLUMNS as INPUT_COLUMNS
from .columns import METRIC_COLUMNS
from .columns import OUTCOME_COLUMNS as OUTCOME_COLUMNS
from .columns import RECORD_COLUMNS as RECORD_COLUMNS
from .errors import RunFolderBusy
from .keys import scrub
from .lineup import model_label
from .ratings import stars
from .schema import DEFAULT_ENDPOINT, VideoInput, seed_honoured
from .settings import seedance_home as seedance_home
from .statuses import PENDING as PENDING
from .statuses import TERMINAL as TERMINAL
from .statuses import JobStatus as JobStatus

__all__ = [
    "COLUMNS",
    "INPUT_COLUMNS",
    "METRIC_COLUMNS",
    "OUTCOME_COLUMNS",
    "PENDING",
    "RECORD_COLUMNS",
    "TERMINAL",
    "CacheIndex",
    "Job",
    "JobStatus",
    "Journal",
    "RunFolder",
    "cache_key",
    "seedance_home",
    "to_dataframe",
    "use_wal",
]

logger = logging.getLogger("seedance_nb.runs")


def input_row(inp: VideoInput, image: Any, end_image: Any) -> dict[str, Any]:
    """The :data:`INPUT_COLUMNS` of one input, then its extra fields (none of which replaces a column).

    ``image`` and ``end_image`` stand in the row as given: a label in a DataFrame, the image itself in a grid.
    """
    values = (
        inp.prompt,
        image,
        end_image,
        inp.resolution,
        inp.duration,
        inp.aspect_ratio,
        inp.generate_audio,
        inp.seed,
        inp.end_user_id,
    )
    row = dict(zip(INPUT_COLUMNS, values, strict=True))
    row.update({k: v for k, v in inp.extra.items() if k not in row})
    return row


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
    loses nothing) and, unless ``durable=False``, fsynced too (so a crashed machine loses nothing).

    A torn last line (a crash mid-write) is never glued to the next one: before appending, a file that
    does not end in a newline is given one, so the torn fragment stays a line of its own (skipped on
    reading) and every later line is kept.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a+b")  # read too: the torn-tail check reads the last byte
        self.error: OSError | None = None  # the last write the OS refused (a full disk): later lines may be missing

    def append(self, event: Mapping[str, Any], *, durable: bool = True) -> None:
        self.extend([event], durable=durable)

    def extend(self, events: Iterable[Mapping[str, Any]], *, durable: bool = True) -> None:
        """Append several lines with one write, one flush and one fsync (a refused write is raised, and kept)."""
        text = "".join(encode_line(e) for e in events)
        try:
            self._fh.write((("\n" if self._torn() else "") + text).encode("utf-8"))  # a torn tail stays its own line
            self._fh.flush()
        except OSError as exc:
            self.error = exc
            raise
        if durable:
            self.sync()

    def _torn(self) -> bool:
        """Whether the file's last byte is not a newline (someone crashed mid-line)."""
        fd = self._fh.fileno()
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"

    def sync(self) -> None:
        """fsync what has been appended (safe to call from a worker thread)."""
        if not self._fh.closed:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file; lines the OS still refuses (a full disk) are given up, kept in ``error``, not raised."""
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError as exc:
                self.error = exc

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """Every complete line; torn or garbled lines (from a crash) are skipped, and nothing after them."""
        events: list[dict[str, Any]] = []
        if not path.exists():
            return events
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
        return events


def encode_line(event: Mapping[str, Any]) -> str:
    """One journal line (compact JSON, UTF-8, newline-terminated), every known API key scrubbed (``keys.scrub``)."""
    return json.dumps(scrub(event), ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


# --------------------------------------------------------------------------- the run folder


@dataclass(frozen=True)
class RunFolder:
    """The one owner of a run folder's location, names and lock.

    ::

        folder = RunFolder.new("my-sweep")          # sweeps/my-sweep (not created yet)
        with folder.lock():                          # the only process that may submit from it
            ...
    """

    path: Path

    JOURNAL = "journal.jsonl"
    META = "sweep.json"

    @staticmethod
    def root() -> Path:
        """Where new run folders go: ``$SEEDANCE_RUNS``, else ``sweeps/`` under the working folder."""
        return Path(os.environ.get("SEEDANCE_RUNS") or "sweeps")

    @classmethod
    def new(cls, name: str | None = None, *, kind: str = "sweep", root: str | Path | None = None) -> RunFolder:
        """A fresh run folder path: ``<root>/<name>``, or a timestamped one (``generation`` runs go under
        ``<root>/generations/``)."""
        base = Path(root) if root is not None else cls.root()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        if kind == "generation":
            return cls(base / "generations" / (name or stamp))
        return cls(base / (name or f"sweep-{stamp}"))

    @property
    def journal(self) -> Path:
        return self.path / self.JOURNAL

    @property
    def meta(self) -> Path:
        return self.path / self.META

    @property
    def inputs(self) -> Path:
        return self.path / "inputs"

    @property
    def videos(self) -> Path:
        return self.path / "videos"

    @property
    def posters(self) -> Path:
        return self.path / "posters"

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    def exists(self) -> bool:
        return self.journal.exists()

    def create(self, write: Any) -> None:
        """Create the folder atomically: ``write(tmp_folder)`` fills a hidden sibling, which is then renamed
        into place. A crash leaves either no run folder or a complete one (never a headless journal)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.exists():
            raise FileExistsError(
                f"{self.path} already holds a sweep; use Sweep.resume({str(self.path)!r}) or a new folder"
            )
        _sweep_stale_temps(self.path.parent)
        tmp = self.path.parent / f".{self.path.name}.creating-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            write(tmp)
            for sub in ("journal.jsonl",):
                with (tmp / sub).open("rb") as fh:
                    os.fsync(fh.fileno())
            if self.path.exists():
                # An empty folder (made by hand, or a crashed run before this version) is taken over.
                if any(self.path.iterdir()):
                    raise FileExistsError(f"{self.path} exists and is not empty; choose another run folder")
                self.path.rmdir()
            os.rename(tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @contextlib.contextmanager
    def lock(self, *, purpose: str = "submit") -> Iterator[None]:
        """Hold the folder's exclusive lock for the ``with`` block.

        Raises :class:`~seedance_nb.errors.RunFolderBusy` at once, naming the holder, when another process,
        or another sweep object in this process, holds it. The OS releases it if the holder dies.
        """
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / ".lock"), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            holder = self.holder()
            who = (
                f"process {holder.get('pid')} on {holder.get('host')} ({holder.get('purpose', 'submit')}, "
                f"since {holder.get('since', '?')})"
                if holder
                else "another process"
            )
            raise RunFolderBusy(
                f"{self.path} is in use by {who}: only one process may submit from a run folder (two would pay "
                "twice). Wait for it to finish, stop it, or read the folder with load_sweep() (no lock needed).",
                holder=holder,
            ) from None
        owner = self.path / ".lock.owner"
        with contextlib.suppress(OSError):  # who holds it is a courtesy; the lock itself is what protects
            owner.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "purpose": purpose,
                        "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    }
                ),
                encoding="utf-8",
            )
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                owner.unlink()
            lock.release()

    def holder(self) -> dict[str, Any]:
        """Who holds the lock (pid, host, purpose, since), as far as the holder said."""
        try:
            return dict(json.loads((self.path / ".lock.owner").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return {}


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sweep_stale_temps(parent: Path, max_age: float = 3600.0) -> None:
    """Remove half-created run folders a crash left behind (older than an hour)."""
    with contextlib.suppress(OSError):
        for tmp in parent.glob(".*.creating-*"):
            if time.time() - tmp.stat().st_mtime > max_age:
                shutil.rmtree(tmp, ignore_errors=True)


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
    status: str = JobStatus.PLANNED
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
    #: The request's URLs as submit returned them (resume uses these, never rebuilt ones).
    urls: dict[str, str] = field(default_factory=dict)
    #: When the last submit was sent, and sha256 of each field of its payload (to settle an ``unknown``).
    sent_at: float | None = None
    sent_digest: dict[str, str] = field(default_factory=dict)
    #: What fal said the job cost (``x-fal-billable-units``) and how long it ran (status ``metrics``).
    billed_units: float | None = None
    inference_seconds: float | None = None
    #: The images to send (ImageData or URL by payload field), held once per grid; not journalled.
    image_data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: The video's measures (seedance_nb.quality.VideoMetrics.to_json()), from the journal's "metrics" event.
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def apply(self, event: Mapping[str, Any]) -> None:
        """Move this job by one journal event (the one place state changes; other events change nothing).

        Args:
            event: one line of the run's journal, with its ``event`` kind (``submitted``, ``result``, ...).
        """
        step = self._STEPS.get(event["event"])
        if step is not None:
            step(self, event, event.get("at"))

    def _submitting(self, event: Mapping[str, Any], at: Any) -> None:
        self.status = JobStatus.SUBMITTING
        self.sent_at = at
        self.sent_digest = dict(event.get("digest") or {})

    def _submitted(self, event: Mapping[str, Any], at: Any) -> None:
        self.status, self.request_id = JobStatus.SUBMITTED, event["request_id"]
        self.submitted_at = event.get("sent_at") or at
        self.urls = dict(event.get("urls") or {})
        self.error_type = self.error = None

    def _started(self, event: Mapping[str, Any], at: Any) -> None:
        self.status, self.started_at = JobStatus.RUNNING, at

    def _result(self, event: Mapping[str, Any], at: Any) -> None:
        self.status = JobStatus.DOWNLOADING
        self.completed_at = event.get("completed_at", at)
        self.video_url = event["output"]["video"]["url"]
        self.file_size = event["output"]["video"].get("file_size")
        self.output_seed = event["output"].get("seed")
        self.billed_units = event.get("billable_units")
        if event.get("inference_time") is not None:
            self.inference_seconds = event["inference_time"]

    def _rated(self, event: Mapping[str, Any], at: Any) -> None:
        if "rating" in event:  # read by the one rule (seedance_nb.ratings): an old journal's 7 or "up" too
            self.rating = stars(event["rating"])
        if "notes" in event:
            self.notes = event["notes"]

    def _video(self, event: Mapping[str, Any], at: Any) -> None:
        """``downloaded`` or ``cached``: the video is on disk."""
        cached = event["event"] == "cached"
        self.status = JobStatus.CACHED if cached else JobStatus.COMPLETED
        self.path, self.poster = event.get("path"), event.get("poster")
        self.info = dict(event.get("info") or {})
        self.metrics = {}  # a new video: its own "metrics" event follows
        self.file_size = self.info.get("size_bytes", self.file_size)
        if cached:
            # The original run's timings: how long this video took to make (it costs nothing now).
            timings = event.get("timings") or {}
            self.video_url = event.get("video_url")
            self.output_seed = event.get("output_seed")
            self.submitted_at = timings.get("submitted_at")
            self.started_at = timings.get("started_at")
            self.completed_at = timings.get("completed_at") or at

    def _completed_no_download(self, event: Mapping[str, Any], at: Any) -> None:
        self.status = JobStatus.COMPLETED

    def _failed(self, event: Mapping[str, Any], at: Any) -> None:
        self.status = JobStatus.FAILED
        self.error_type, self.error = event.get("error_type"), event.get("error")
        self.retryable = event.get("retryable")
        self.completed_at = self.completed_at or at

    def _unsettled(self, event: Mapping[str, Any], at: Any) -> None:
        """``unknown`` or ``interrupted``: the request may run on fal without us following it."""
        self.status = JobStatus(event["event"])  # the event is named after the status it leaves
        self.error_type, self.error = event.get("error_type"), event.get("error")

    def _cancelled(self, event: Mapping[str, Any], at: Any) -> None:
        self.status, self.completed_at = JobStatus.CANCELLED, at
        self.error_type, self.error = "client_cancelled", event.get("error", "cancelled")

    def _retry(self, event: Mapping[str, Any], at: Any) -> None:
        self.status, self.request_id, self.urls = JobStatus.PLANNED, None, {}
        self.error_type = self.error = None
        self.submitted_at = self.started_at = self.completed_at = None
        self.sent_at, self.sent_digest = None, {}

    def _metrics(self, event: Mapping[str, Any], at: Any) -> None:
        self.metrics = dict(event["metrics"])

    #: What each journal event does to a job (``apply``).
    _STEPS: ClassVar[dict[str, Callable[[Job, Mapping[str, Any], Any], None]]] = {
        "submitting": _submitting,
        "submitted": _submitted,
        "unknown": _unsettled,
        "started": _started,
        "result": _result,
        "rated": _rated,
        "downloaded": _video,
        "cached": _video,
        "completed_no_download": _completed_no_download,
        "failed": _failed,
        "interrupted": _unsettled,
        "cancelled": _cancelled,
        "retry": _retry,
        "metrics": _metrics,
    }

    def row(self, run_dir: Path | None = None) -> dict[str, Any]:
        """This job as one row of a sweep's ``df``: its inputs, status, files, timings, cost and metrics.

        Args:
            run_dir: the run folder; makes ``path`` and ``poster`` absolute.
        """
        inp = self.input
        images = self.labels.get("image_url"), self.labels.get("end_image_url")
        row: dict[str, Any] = {"job": self.job}
        row.update((k, v) for k, v in input_row(inp, *images).items() if k != "job")
        started = self.started_at
        row.update(
            take=self.take,
            endpoint=inp.endpoint,
            model=model_label(inp.endpoint),
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
            seed_honoured=seed_honoured(inp.seed, self.output_seed),
            est_cost_usd=self.est_cost_usd,
            billed_units=self.billed_units,
            cost_usd=actual_cost_usd(self.billed_units, inp.endpoint, inp.resolution),
            inference_seconds=self.inference_seconds,
            cache_key=self.key,
            rating=self.rating,
            notes=self.notes,
        )
        row.update({name: self.metrics.get(name) for name in METRIC_COLUMNS})
        return row


def actual_cost_usd(
    billed_units: float | None, endpoint: str = DEFAULT_ENDPOINT, resolution: str | None = None
) -> float | None:
    """What a job cost, from fal's ``x-fal-billable-units`` (None when fal did not say: see ``est_cost_usd``).

    The units are read as fal's price unit for this endpoint: for Seedance, thousands of video tokens at the
    endpoint's price (:func:`seedance_nb.endpoints.price_per_1k_tokens`; an assumption fal does not document;
    the emulator sends the same unit, docs/fal-fidelity.md); for another registered endpoint, its price rule's
    unit (seconds, videos) at ``resolution`` (:meth:`seedance_nb.endpoints.Endpoint.cost_of_units`).

    Args:
        billed_units: fal's ``x-fal-billable-units`` for the job (None when it sent none).
        endpoint: the endpoint the job ran on (its price rule applies).
        resolution: the job's resolution (rules priced by resolution).
    """
    from .endpoints import find, price_per_1k_tokens

    if billed_units is None:
        return None
    registered = find(endpoint)
    if registered is not None and not registered.is_seedance:
        return registered.cost_of_units(billed_units, resolution)
    return round(billed_units * price_per_1k_tokens(endpoint), 6)


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


def to_dataframe(jobs: Iterable[Job], run_dir: Path | None = None, *, backend: str | None = None) -> Any:
    """One row per job, in grid order, with the columns of docs/contracts.md (``backend`` says whether the
    videos came from fal or the emulator)."""
    import pandas as pd

    rows = [job.row(run_dir) for job in jobs]
    for row in rows:
        row["backend"] = backend
    columns = list(COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    df = pd.DataFrame(rows, columns=columns)
    for name in ("submitted_at", "started_at", "completed_at"):
        df[name] = pd.to_datetime(df[name], utc=True)
    df.attrs["run_dir"] = str(run_dir) if run_dir else None
    return df


class CacheIndex:
    """Finished videos by cache key, one index per user (``$SEEDANCE_HOME/cache.sqlite``).

    Shared by every run folder, every working folder and every process of the user; safe under
    concurrent writers (SQLite, WAL). An entry is usable while its video file is there with the size
    it had; :meth:`materialize` links (or copies) it into a new run folder, so run folders stay
    self-contained.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else seedance_home() / "cache.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per thread, kept while this object lives: opening one per call (and the WAL checkpoint
        # and fsyncs of closing it) cost about 1 ms of CPU a job (issue 25). A connection whose file was removed
        # or replaced (a cleared cache) is opened again.
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._set_up()

    def _set_up(self) -> None:
        """WAL mode (once per file; see :func:`use_wal`) and the table."""
        with writer_lock(self.path), self._connect() as db:
            use_wal(db, deadline_seconds=30.0)
            db.execute("CREATE TABLE IF NOT EXISTS videos (key TEXT PRIMARY KEY, entry TEXT NOT NULL, at REAL)")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            with db:  # one transaction
                yield db
        except sqlite3.Error:
            self._drop(db)  # a broken connection is not kept
            raise

    def _connection(self) -> sqlite3.Connection:
        held: tuple[sqlite3.Connection, int] | None = getattr(self._local, "held", None)
        try:
            inode = self.path.stat().st_ino
        except OSError:
            inode = -1
        if held is not None and held[1] == inode:
            return held[0]
        if held is not None:
            self._drop(held[0])
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)  # closed by close(), any thread
        with self._lock:
            self._opened.append(db)
        if inode == -1 or held is not None:  # a new file: WAL mode and the table first
            use_wal(db, deadline_seconds=30.0)
            with db:
                db.execute("CREATE TABLE IF NOT EXISTS videos (key TEXT PRIMARY KEY, entry TEXT NOT NULL, at REAL)")
        self._local.held = (db, self.path.stat().st_ino)
        return db

    def _drop(self, db: sqlite3.Connection) -> None:
        if getattr(self._local, "held", (None,))[0] is db:
            self._local.held = None
        with self._lock:
            if db in self._opened:
                self._opened.remove(db)
        db.close()

    def close(self) -> None:
        """Close this index's connections (each thread's); it opens them again if used after."""
        with self._lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for db in opened:
            db.close()

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key`` when its video is still on disk as it was, else None."""
        with self._connect() as db:
            row = db.execute("SELECT entry FROM videos WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        entry: dict[str, Any] = json.loads(row[0])
        video = Path(entry["path"])
        try:
            if video.stat().st_size != (entry.get("info") or {}).get("size_bytes"):
                return None
        except OSError:
            return None
        return entry

    def add(self, entry: Mapping[str, Any]) -> None:
        with writer_lock(self.path), self._connect() as db:  # this process's writers in line (see _sqlite)
            db.execute(
                "INSERT OR REPLACE INTO videos (key, entry, at) VALUES (?, ?, ?)",
                (entry["key"], json.dumps(dict(entry), default=str), time.time()),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM videos").fetchone()[0])

    @staticmethod
    def materialize(entry: Mapping[str, Any], run_dir: Path, stem: str) -> tuple[str, str | None]:
        """Bring a cached video (and its poster) into ``run_dir`` as ``videos/<stem>.mp4`` and
        ``posters/<stem>.jpg``: a hard link where the file system allows, a copy otherwise. Returns the
        paths relative to ``run_dir``."""
        rel_video = Path("videos") / f"{stem}.mp4"
        _link_or_copy(Path(entry["path"]), run_dir / rel_video)
        rel_poster: Path | None = None
        if entry.get("poster") and Path(entry["poster"]).is_file():
            rel_poster = Path("posters") / f"{stem}.jpg"
            _link_or_copy(Path(entry["poster"]), run_dir / rel_poster)
        return str(rel_video), (str(rel_poster) if rel_poster else None)


def _link_or_copy(source: Path, dest: Path) -> None:
    if dest.exists() and dest.stat().st_size == source.stat().st_size:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".{uuid.uuid4().hex[:6]}.part")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, dest)


set_public_module(__name__)
