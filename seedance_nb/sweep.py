"""Sweeps: a grid over any inputs, a concurrent runner, a crash-safe journal, cache, resume and budget.

::

    grid = Grid(image="cat.png", prompt=["push in", "whip pan"], duration=[4, 8], seed=[1, 2], takes=2)
    len(grid), grid.estimate()          # 16 videos and their cost, before anything is sent
    sweep = run_sweep(grid, budget_usd=10)
    sweep.df                            # one row per video
    Sweep.resume("sweeps/<name>")       # after a crash: re-attaches by request id, pays for nothing twice

Every state change is journalled (and fsynced) before the next network wait;
the request id is written the moment fal returns it. A job journalled as
``submitting`` with no request id (the process died between sending the POST
and reading the answer) is the one case nobody can settle: fal has no
idempotency key, so ``resume`` submits it again and logs a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .client import AsyncClient, Completed, InProgress, Queued
from .errors import (
    APIError,
    BudgetExceeded,
    DownloadError,
    InputError,
    ModerationError,
    Problem,
    ProtocolError,
    RejectedInput,
    RequestCancelled,
    RequestFailed,
)
from .files import DATA_URI_LIMIT, ImageData, is_url, load_image
from .metrics import MetricsMixin
from .runs import INPUT_COLUMNS, TERMINAL, CacheIndex, Job, Journal, cache_key, now, to_dataframe
from .schema import DEFAULT_ENDPOINT, VideoInput

__all__ = ["Grid", "Sweep", "load_sweep", "run_sweep", "run_sweep_async", "start_sweep"]

logger = logging.getLogger("seedance_nb.sweep")

_IMAGE_FIELDS = {"image": "image_url", "end_image": "end_image_url"}


# --------------------------------------------------------------------------- grid


def _is_axis(value: Any) -> bool:
    return isinstance(value, list | tuple | range)


@dataclass(frozen=True)
class Cell:
    fields: dict[str, Any]
    take: int


class Grid:
    """The product (or zip) of input axes, times ``takes``; grids concatenate with ``+``.

    Lists, tuples and ranges are axes; anything else is fixed. ``image`` and
    ``end_image`` take paths, bytes, PIL images, arrays or URLs (a list of them
    is an axis). Invalid combinations are reported all at once.
    """

    def __init__(
        self, *, takes: int = 1, mode: str = "product", endpoint: str = DEFAULT_ENDPOINT, **inputs: Any
    ) -> None:
        if mode not in ("product", "zip"):
            raise ValueError(f"mode must be 'product' or 'zip', got {mode!r}")
        if isinstance(takes, bool) or not isinstance(takes, int) or takes < 1:
            raise InputError([Problem("takes", "must be a whole number of at least 1", takes, "1, 2, 3, ...")])
        self.endpoint = endpoint
        self.takes = takes
        self.mode = mode
        self.axes = {k: list(v) for k, v in inputs.items() if _is_axis(v)}
        self.fixed = {k: v for k, v in inputs.items() if not _is_axis(v)}
        empty = [k for k, v in self.axes.items() if not v]
        if empty:
            raise InputError([Problem(k, "axis has no values", [], "at least one value") for k in empty])
        if mode == "zip" and len({len(v) for v in self.axes.values()}) > 1:
            lengths = {k: len(v) for k, v in self.axes.items()}
            raise InputError([Problem("mode", f"zip needs axes of equal length, got {lengths}", None, None)])
        self._parts: list[Grid] = [self]
        self._images: dict[int, ImageData | str] = {}
        self._cells = self._expand()
        self._inputs = self._validate()

    def _expand(self) -> list[Cell]:
        names = list(self.axes)
        if self.mode == "zip":
            combos = list(zip(*self.axes.values(), strict=False)) if names else [()]
        else:
            combos = list(itertools.product(*self.axes.values()))
        return [
            Cell({**self.fixed, **dict(zip(names, combo, strict=True))}, take)
            for combo in combos
            for take in range(1, self.takes + 1)
        ]

    def _image(self, value: Any, field: str) -> ImageData | str:
        if is_url(value):
            return value
        cache_id = id(value)
        if cache_id not in self._images:
            self._images[cache_id] = load_image(value, field=field)
        return self._images[cache_id]

    def _validate(self) -> list[tuple[VideoInput, dict[str, ImageData | str]]]:
        out, problems = [], []
        for index, cell in enumerate(self._cells):
            fields = dict(cell.fields)
            images: dict[str, ImageData | str] = {}
            try:
                for short, name in _IMAGE_FIELDS.items():
                    value = fields.pop(short, None)
                    value = fields.pop(name, value)
                    if value is not None:
                        images[name] = self._image(value, name)
                        image = images[name]
                        fields[name] = image if isinstance(image, str) else image.data_uri()
                if "image_url" not in fields:
                    raise InputError(
                        [
                            Problem(
                                "image",
                                "every job needs a start image",
                                None,
                                "image=<path, bytes, PIL image, array or URL>",
                                type="missing",
                            )
                        ]
                    )
                known = {
                    "prompt",
                    "image_url",
                    "end_image_url",
                    "resolution",
                    "duration",
                    "aspect_ratio",
                    "generate_audio",
                    "seed",
                    "end_user_id",
                }
                extra = {k: v for k, v in fields.items() if k not in known}
                kwargs = {k: v for k, v in fields.items() if k in known}
                out.append((VideoInput(**kwargs, extra=extra), images))
            except TypeError as exc:
                problems.append(Problem(f"job {index}", str(exc)))
            except InputError as exc:
                where = ", ".join(f"{k}={_short(v)}" for k, v in cell.fields.items() if k in self.axes)
                for p in exc.problems:
                    problems.append(
                        Problem(
                            p.field,
                            f"{p.message} [in job {index}{': ' + where if where else ''}]",
                            p.value,
                            p.allowed,
                            p.type,
                        )
                    )
        if problems:
            unique = list(dict.fromkeys(problems))
            raise InputError(unique, context=f"the grid has {len(unique)} invalid input(s); nothing was sent")
        return out

    def __add__(self, other: Grid) -> Grid:
        if not isinstance(other, Grid):
            return NotImplemented
        if other.endpoint != self.endpoint:
            raise ValueError("cannot concatenate grids for different endpoints")
        joined = object.__new__(Grid)
        joined.endpoint, joined.takes, joined.mode = self.endpoint, 1, "concat"
        joined.axes = {k: v for g in (self, other) for k, v in g.axes.items()}
        joined.fixed = {}
        joined._parts = self._parts + other._parts
        joined._images = {}
        joined._cells = self._cells + other._cells
        joined._inputs = self._inputs + other._inputs
        return joined

    def __len__(self) -> int:
        return len(self._cells)

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}×{len(v)}" for k, v in self.axes.items()) or "no axes"
        return f"<Grid {len(self)} jobs ({axes}; takes={self.takes})>"

    def inputs(self) -> list[VideoInput]:
        """The validated input of every job, in order."""
        return [inp for inp, _ in self._inputs]

    def jobs(self) -> list[Job]:
        out = []
        for index, (cell, (inp, images)) in enumerate(zip(self._cells, self._inputs, strict=False)):
            hashes = {k: (v.sha256 if isinstance(v, ImageData) else _url_hash(v)) for k, v in images.items()}
            labels = {k: (v.name if isinstance(v, ImageData) else _label(v)) for k, v in images.items()}
            size = next((v.size for k, v in images.items() if k == "image_url" and isinstance(v, ImageData)), None)
            job = Job(
                job=index,
                input=inp,
                take=cell.take,
                key=cache_key(self.endpoint, inp, hashes, cell.take),
                labels=labels,
                images=hashes,
            )
            job.est_cost_usd = round(inp.estimate(size).usd, 6)
            job._image_data = images  # type: ignore[attr-defined]  # kept in memory for the runner
            out.append(job)
        return out

    def estimate(self) -> GridEstimate:
        """Total estimated cost: a point figure and the range when any duration is ``auto``."""
        usd = low = high = 0.0
        for inp, images in self._inputs:
            image = images.get("image_url")
            est = inp.estimate(image.size if isinstance(image, ImageData) else None)
            usd, low, high = usd + est.usd, low + est.low_usd, high + est.high_usd
        return GridEstimate(len(self), usd, low, high)

    def preview(self) -> Any:
        """A DataFrame of what would run, with each job's estimated cost (sends nothing)."""
        columns = ["job", *(c for c in INPUT_COLUMNS if c != "end_user_id"), "take", "est_cost_usd"]
        return to_dataframe(self.jobs())[columns]


@dataclass(frozen=True)
class GridEstimate:
    jobs: int
    usd: float
    low_usd: float
    high_usd: float

    def __str__(self) -> str:
        text = f"{self.jobs} videos, about ${self.usd:.2f}"
        if self.high_usd - self.low_usd > 1e-9:
            text += f" (range ${self.low_usd:.2f}-${self.high_usd:.2f}: some durations are 'auto')"
        return text


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, bytes) else f"<{len(value)} bytes>"
    return text if len(text) < 40 else text[:37] + "..."


def _label(url: str) -> str:
    if url.startswith("data:"):
        return "data URI"
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or url[:60]


def _url_hash(url: str) -> str:
    import base64
    import hashlib

    if url.startswith("data:"):
        return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()
    return hashlib.sha256(url.encode()).hexdigest()


# --------------------------------------------------------------------------- sweep


def _default_run_dir(name: str | None) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    return Path("sweeps") / (name or f"sweep-{stamp}")


#: Images used by more than one job of a run and larger than this are uploaded once and sent by URL,
#: rather than inlined as a data URI in every submit (below it, inlining is cheaper than the upload).
SHARED_UPLOAD_MIN = 256 * 1024


def _digest(job: Job, name: str, image: ImageData) -> str:
    """The sha256 of a job's image input (journalled with the job; hashed again only if missing)."""
    return job.images.get(name) or image.sha256


#: Journal events that only record progress (re-derivable from the server): flushed, not fsynced.
_PROGRESS_EVENTS = frozenset({"started"})


class Sweep(MetricsMixin):
    """A run folder and its jobs. ``df`` is a fresh DataFrame; a bare ``sweep`` in a cell shows the grid."""

    def __init__(
        self, run_dir: Path, jobs: list[Job], *, endpoint: str = DEFAULT_ENDPOINT, meta: Mapping[str, Any] | None = None
    ) -> None:
        self.run_dir = Path(run_dir)
        self.jobs = jobs
        self.endpoint = endpoint
        self.meta = dict(meta or {})
        self.name = self.meta.get("name") or self.run_dir.name
        self.client: AsyncClient | None = None
        self.task: asyncio.Task | None = None
        self._journal: Journal | None = None
        self._handles: dict[int, Any] = {}
        self._uploads: dict[str, asyncio.Future[str]] = {}
        self._image_uses: Counter[str] = Counter()
        self._listeners: list[Callable[[Sweep, Job], Any]] = []
        self._cancelled = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, grid: Grid, run_dir: str | Path | None = None, *, name: str | None = None) -> Sweep:
        run_dir = Path(run_dir) if run_dir else _default_run_dir(name)
        if (run_dir / "journal.jsonl").exists():
            raise FileExistsError(
                f"{run_dir} already holds a sweep; use Sweep.resume({str(run_dir)!r}) or a new folder"
            )
        jobs = grid.jobs()
        meta = {
            "name": name or run_dir.name,
            "endpoint": grid.endpoint,
            "jobs": len(jobs),
            "axes": {k: [_describe(v) for v in vals] for k, vals in grid.axes.items()},
            "fixed": {k: _describe(v) for k, v in grid.fixed.items()},
            "takes": grid.takes,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        sweep = cls(run_dir, jobs, endpoint=grid.endpoint, meta=meta)
        sweep._write_header()
        return sweep

    def _write_header(self) -> None:
        inputs = self.run_dir / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        journal = self._open()
        (self.run_dir / "sweep.json").write_text(_json_dump(self.meta), encoding="utf-8")
        journal.extend([{"event": "sweep", "at": now(), **self.meta}, *(self._planned(job) for job in self.jobs)])

    def _planned(self, job: Job) -> dict[str, Any]:
        """The journal's ``planned`` event for ``job``; images are stored once under ``inputs/``."""
        payload = job.input.to_payload()
        for name, image in getattr(job, "_image_data", {}).items():
            if isinstance(image, ImageData):
                ext = image.mime.split("/")[1].replace("jpeg", "jpg")
                target = self.run_dir / "inputs" / f"{image.sha256}.{ext}"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(image.data)
                payload[name] = {"$file": f"inputs/{target.name}", "mime": image.mime, "name": image.name}
        return {
            "event": "planned",
            "at": now(),
            "job": job.job,
            "take": job.take,
            "key": job.key,
            "payload": payload,
            "labels": job.labels,
            "images": job.images,
            "est_cost_usd": job.est_cost_usd,
        }

    def _open(self) -> Journal:
        if self._journal is None:
            self._journal = Journal(self.run_dir / "journal.jsonl")
        return self._journal

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # ------------------------------------------------------------------ views

    @property
    def df(self) -> Any:
        return to_dataframe(self.jobs, self.run_dir.resolve())

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for job in self.jobs:
            out[job.status] = out.get(job.status, 0) + 1
        return out

    @property
    def done(self) -> bool:
        return all(job.done for job in self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        return f"<Sweep {self.name!r} {len(self.jobs)} jobs ({counts}) in {self.run_dir}>"

    def _repr_html_(self) -> str:
        from .display import sweep_html

        return sweep_html(self)

    def add_listener(self, callback: Callable[[Sweep, Job], Any]) -> None:
        """Call ``callback(sweep, job)`` on every change (the job board uses this)."""
        self._listeners.append(callback)

    # ------------------------------------------------------------------ journal

    async def _arecord(self, job: Job, event: str, **fields: Any) -> None:
        """:meth:`_record` for the job's hot path: the line is written and flushed before this returns
        control, and fsynced (in a worker thread) before the job goes on to its next network wait."""
        journal = self._write(job, event, fields, durable=False)
        await asyncio.to_thread(journal.sync)

    def _record(self, job: Job, event: str, **fields: Any) -> None:
        # Every line is flushed before the next network wait; lines that guard money (submitting, the
        # request id, the result, the video) are fsynced too. "started" is progress the server can tell
        # again, so it skips the fsync that would stall every job's turnover.
        self._write(job, event, fields, durable=event not in _PROGRESS_EVENTS)

    def _write(self, job: Job, event: str, fields: Mapping[str, Any], *, durable: bool) -> Journal:
        entry = {"event": event, "at": now(), "job": job.job, **fields}
        journal = self._open()
        journal.append(entry, durable=durable)
        job.apply(entry)
        self._notify(job)
        return journal

    def _notify(self, job: Job) -> None:
        for callback in list(self._listeners):
            try:
                callback(self, job)
            except Exception:  # a broken listener must not stop the sweep
                logger.exception("sweep listener failed")

    def rate(self, job: int, rating: Any = None, note: str | None = None) -> None:
        """Rate a video (thumbs, stars, anything JSON) and/or note it; kept in the journal and ``df``."""
        target = self.jobs[job]
        fields: dict[str, Any] = {}
        if rating is not None:
            fields["rating"] = rating
        if note is not None:
            fields["notes"] = note
        self._record(target, "rated", **fields)
        if self.task is None or self.task.done():
            self.close()

    # ------------------------------------------------------------------ running

    def estimate_usd(self, *, high: bool = True) -> float:
        total = 0.0
        for job in self.jobs:
            if job.done:
                continue
            est = job.input.estimate(_image_size(job))
            total += est.high_usd if high else est.usd
        return total

    async def run(
        self,
        client: AsyncClient | None = None,
        *,
        concurrency: int = 4,
        budget_usd: float | None = None,
        download: bool = True,
        on_update: Callable[[Sweep, Job], Any] | None = None,
        force: bool = False,
        progress: bool | None = None,
    ) -> Sweep:
        """Run every unfinished job; re-attach to submitted ones by request id."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        _check_budget(
            sum(not j.done for j in self.jobs), self.estimate_usd(high=True), self.estimate_usd(high=False), budget_usd
        )
        if client is None:
            from .connect import connect

            client = connect()
        self.client = client
        self._cancelled = False
        cache = CacheIndex(self.run_dir.parent / "cache.jsonl")
        if on_update is not None:
            self.add_listener(on_update)
        bar = _progress(self) if (progress or (progress is None and on_update is None)) else None
        pending = [job for job in self.jobs if not job.done]
        self._uploads = {}
        self._image_uses = Counter(
            _digest(job, name, image)
            for job in pending
            for name, image in getattr(job, "_image_data", {}).items()
            if isinstance(image, ImageData)
        )
        # One slot per remote request; downloads have their own slots, so a slot's next job is
        # submitted while the last one's video is still downloading and being probed.
        slots = (asyncio.Semaphore(concurrency), asyncio.Semaphore(concurrency))
        tasks = [asyncio.ensure_future(self._run_job(job, client, slots, cache, download, force)) for job in pending]
        try:
            await asyncio.gather(*tasks)
        except (asyncio.CancelledError, KeyboardInterrupt):
            # gather has already cancelled each job once; cancelling again would interrupt the
            # jobs' own remote cancel requests, so only wait for them to finish cancelling.
            self._cancelled = True
            for task in tasks:
                if not task.done() and not task.cancelling():
                    task.cancel()
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
            raise
        finally:
            stray = [upload for upload in self._uploads.values() if not upload.done()]
            for upload in stray:
                upload.cancel()  # only still pending if every job waiting for it was cancelled
            if stray:
                await asyncio.gather(*stray, return_exceptions=True)
            if on_update is not None:
                self._listeners.remove(on_update)
            if bar is not None:
                bar.close()
            self.close()
        return self

    async def _run_job(
        self,
        job: Job,
        client: AsyncClient,
        slots: tuple[asyncio.Semaphore, asyncio.Semaphore],
        cache: CacheIndex,
        download: bool,
        force: bool,
    ) -> None:
        if job.request_id is None and not force:
            hit = cache.lookup(job.key)
            if hit is not None:
                await self._arecord(
                    job,
                    "cached",
                    path=hit["path"],
                    poster=hit.get("poster"),
                    info=hit.get("info"),
                    video_url=hit.get("video_url"),
                    output_seed=hit.get("output_seed"),
                    source_request_id=hit.get("request_id"),
                    timings=hit.get("timings"),
                )
                return
        request_slots, download_slots = slots
        await request_slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                request_slots.release()

        try:
            if self._cancelled:
                self._record(job, "cancelled", error="cancelled before it was submitted")
                return
            handle = None
            try:
                if job.status == "downloading" and job.video_url:
                    release()
                    async with download_slots:
                        await self._download(job, client, cache, download)
                    return
                if job.request_id is None:
                    if job.status == "submitting":
                        logger.warning(
                            "job %d may have been submitted before a crash (no request id was "
                            "returned); submitting it again",
                            job.job,
                        )
                    payload = await self._payload(job, client)
                    await self._arecord(job, "submitting")
                    handle = await client.submit(payload, endpoint=self.endpoint)
                    await self._arecord(job, "submitted", request_id=handle.request_id)
                else:
                    handle = client.handle(job.request_id, endpoint=self.endpoint)
                self._handles[job.job] = handle
                async with contextlib.aclosing(handle.events()) as events:
                    await self._follow(job, events, release)
                output = await handle.result()
                await self._arecord(job, "result", output=output.to_json(), completed_at=now())
                # The request is finished and paid for: nothing remote left to cancel, slot free.
                handle = None
                release()
                async with download_slots:
                    await self._download(job, client, cache, download)
            except asyncio.CancelledError:
                if handle is not None:
                    remote = asyncio.ensure_future(handle.cancel())
                    try:
                        await asyncio.shield(remote)
                    except (asyncio.CancelledError, Exception):
                        # Cancelled again: still let the remote cancel finish (it is what stops billing).
                        with contextlib.suppress(BaseException):
                            await asyncio.wait_for(asyncio.shield(remote), 10)
                if job.status == "downloading":
                    # Paid for and finished on the server: keep it resumable rather than lose it.
                    self._record(
                        job,
                        "interrupted",
                        error_type="download_cancelled",
                        error="cancelled while downloading; the video is paid for, resume() downloads it",
                    )
                else:
                    self._record(job, "cancelled", error="cancelled by the user")
                raise
            except RequestCancelled as exc:
                self._record(job, "cancelled", error=str(exc))
            except (ModerationError, RejectedInput, RequestFailed) as exc:
                retryable = exc.retryable
                if isinstance(exc, ModerationError) and retryable is None:
                    retryable = "prompt" not in str(exc).lower()
                if isinstance(exc, RejectedInput):
                    retryable = False
                self._record(
                    job, "failed", error_type=exc.error_type or type(exc).__name__, error=str(exc), retryable=retryable
                )
            except InputError as exc:
                self._record(job, "failed", error_type="input_error", error=str(exc), retryable=False)
            except (APIError, ProtocolError, DownloadError) as exc:
                if job.request_id is not None and not isinstance(exc, DownloadError):
                    # The request may still be running (and billed) on fal: keep it for resume.
                    self._record(job, "interrupted", error_type=type(exc).__name__, error=str(exc))
                else:
                    self._record(
                        job,
                        "failed",
                        error_type=getattr(exc, "error_type", None) or type(exc).__name__,
                        error=str(exc),
                        retryable=True,
                    )
            finally:
                self._handles.pop(job.job, None)
        finally:
            release()

    async def _follow(self, job: Job, events: Any, release: Callable[[], None]) -> None:
        async for event in events:
            if isinstance(event, Queued):
                job.queue_position = event.position
                self._notify(job)
            elif isinstance(event, InProgress):
                if event.logs:
                    job.last_log = event.logs[-1].message
                if job.status != "running":
                    self._record(job, "started")
                else:
                    self._notify(job)
            elif isinstance(event, Completed):
                # The server has finished with it: its slot can take the next job while this result is read.
                release()
                if job.started_at is None:
                    self._record(job, "started")

    async def _payload(self, job: Job, client: AsyncClient) -> VideoInput:
        images = getattr(job, "_image_data", None)
        if images is None:
            images = self._load_images(job)
            job._image_data = images  # type: ignore[attr-defined]
        changes = {}
        for name, image in images.items():
            if not isinstance(image, ImageData):
                continue
            digest = _digest(job, name, image)
            size = len(image.data)
            if size > DATA_URI_LIMIT or (size > SHARED_UPLOAD_MIN and self._image_uses.get(digest, 0) > 1):
                changes[name] = await self._upload_once(digest, image, client)
        return job.input.replace(**changes) if changes else job.input

    async def _upload_once(self, digest: str, image: ImageData, client: AsyncClient) -> str:
        """Upload an image once per run, however many jobs use it (they share the one upload)."""
        task = self._uploads.get(digest)
        if task is None:
            task = asyncio.ensure_future(client.upload(image.data, image.mime, image.name))
            self._uploads[digest] = task
        try:
            # Shielded: one job being cancelled must not cancel the upload the others wait for.
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and (task.cancelled() or task.exception() is not None):
                self._uploads.pop(digest, None)  # the next job tries again
            raise

    def _load_images(self, job: Job) -> dict[str, ImageData | str]:
        return getattr(job, "_image_data", {})

    async def _download(self, job: Job, client: AsyncClient, cache: CacheIndex, download: bool) -> None:
        if not download:
            await self._arecord(job, "completed_no_download")
            return
        from .media import poster, probe

        stem = f"{job.job:03d}-{job.key[:8]}"
        rel_video = Path("videos") / f"{stem}.mp4"
        rel_poster = Path("posters") / f"{stem}.jpg"
        assert job.video_url is not None
        path = await client.download(job.video_url, self.run_dir / rel_video, expected_size=job.file_size)
        try:
            info = await asyncio.to_thread(probe, path)
        except DownloadError:
            path.unlink(missing_ok=True)  # never leave a file that looks like a video but is not one
            raise
        await asyncio.to_thread(poster, path, self.run_dir / rel_poster)
        await self._arecord(job, "downloaded", path=str(rel_video), poster=str(rel_poster), info=info.to_json())
        await asyncio.to_thread(
            cache.add,
            {
                "key": job.key,
                "path": str((self.run_dir / rel_video).resolve()),
                "poster": str((self.run_dir / rel_poster).resolve()),
                "info": info.to_json(),
                "video_url": job.video_url,
                "output_seed": job.output_seed,
                "request_id": job.request_id,
                "timings": {
                    "submitted_at": job.submitted_at,
                    "started_at": job.started_at,
                    "completed_at": job.completed_at,
                },
            },
        )

    def add_takes(self, job: int, n: int = 1) -> list[Job]:
        """Plan ``n`` more takes of job ``job``'s input (journalled); run them with :meth:`run`."""
        if n < 1:
            raise ValueError("n must be at least 1")
        source = self.jobs[job]
        same = [j for j in self.jobs if j.input == source.input]
        images = getattr(source, "_image_data", {})
        hashes = dict(source.images)
        added = []
        for take in range(max(j.take for j in same) + 1, max(j.take for j in same) + 1 + n):
            new = Job(
                job=len(self.jobs),
                input=source.input,
                take=take,
                key=cache_key(self.endpoint, source.input, hashes, take),
                labels=dict(source.labels),
                images=hashes,
                est_cost_usd=source.est_cost_usd,
            )
            new._image_data = images  # type: ignore[attr-defined]
            self._open().append(self._planned(new))
            self.jobs.append(new)
            added.append(new)
        if self.task is None or self.task.done():
            self.close()
        return added

    def cancel(self) -> None:
        """Cancel the running sweep: every in-flight request is cancelled on the server too."""
        self._cancelled = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def resume_async(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """Finish every unfinished job: re-attach by request id, submit only what never was."""
        for job in self.jobs:
            if job.status == "interrupted":
                job.status = "submitted"
            if job.status == "cancelled" and run_kwargs.pop("include_cancelled", False):
                job.status = "planned"
        return await self.run(client, **run_kwargs)

    @classmethod
    def resume(cls, run_dir: str | Path, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """Load a sweep from its journal and finish it (sync; works inside Jupyter too)."""
        from ._sync import run_sync

        sweep = load_sweep(run_dir)
        return run_sync(_closing(client, lambda c: sweep.resume_async(c, **run_kwargs)))

    def retry_failed(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """Run failed jobs again, except refusals that would fail the same way (bad input, input moderation)."""
        from ._sync import run_sync

        return run_sync(_closing(client, lambda c: self.retry_failed_async(c, **run_kwargs)))

    async def retry_failed_async(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        for job in self.jobs:
            if job.status == "failed" and job.retryable is not False:
                self._record(job, "retry")
        return await self.run(client, **run_kwargs)


def _check_budget(jobs: int, high_usd: float, usd: float, budget_usd: float | None) -> None:
    """Refuse (sending nothing) when the high end of the estimate is over the budget."""
    if budget_usd is not None and high_usd > budget_usd + 1e-9:
        raise BudgetExceeded(
            f"{jobs} videos may cost up to ${high_usd:.2f} (about ${usd:.2f}), over the budget of "
            f"${budget_usd:.2f}; nothing was sent. Raise budget_usd or shrink the grid.",
            estimate_usd=high_usd,
            budget_usd=budget_usd,
        )


def _image_size(job: Job) -> tuple[int, int] | None:
    image = getattr(job, "_image_data", {}).get("image_url")
    return image.size if isinstance(image, ImageData) else None


def _describe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not (isinstance(value, str) and value.startswith("data:")) else "data URI"
    if isinstance(value, Path):
        return value.name
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return type(value).__name__


def _json_dump(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _progress(sweep: Sweep) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=len(sweep.jobs), desc=sweep.name, unit="video", initial=sum(j.done for j in sweep.jobs))

    def update(_sweep: Sweep, _job: Job) -> None:
        done = sum(j.done for j in _sweep.jobs)
        if done != bar.n:
            failed = sum(j.status == "failed" for j in _sweep.jobs)
            if failed:
                bar.set_postfix_str(f"failed={failed}", refresh=False)
            bar.update(done - bar.n)

    sweep.add_listener(update)
    original = bar.close

    def close() -> None:
        if update in sweep._listeners:
            sweep._listeners.remove(update)
        original()

    bar.close = close  # type: ignore[method-assign]
    return bar


# --------------------------------------------------------------------------- loading and entry points


def load_sweep(run_dir: str | Path) -> Sweep:
    """Rebuild a sweep from its journal alone."""
    run_dir = Path(run_dir)
    events = Journal.read(run_dir / "journal.jsonl")
    if not events or events[0].get("event") != "sweep":
        raise FileNotFoundError(f"{run_dir} holds no sweep journal (journal.jsonl)")
    meta = {k: v for k, v in events[0].items() if k not in ("event", "at")}
    jobs: dict[int, Job] = {}
    for event in events[1:]:
        if event["event"] == "planned":
            payload = dict(event["payload"])
            images: dict[str, ImageData | str] = {}
            for name, value in list(payload.items()):
                if isinstance(value, dict) and "$file" in value:
                    data = (run_dir / value["$file"]).read_bytes()
                    image = load_image(data, field=name)
                    image = ImageData(image.data, image.mime, image.width, image.height, value.get("name", "image"))
                    images[name] = image
                    payload[name] = image.data_uri()
                elif name in ("image_url", "end_image_url"):
                    images[name] = value
            job = Job(
                job=event["job"],
                input=VideoInput.from_payload(payload),
                take=event["take"],
                key=event["key"],
                labels=event.get("labels", {}),
                images=event.get("images", {}),
                est_cost_usd=event.get("est_cost_usd"),
            )
            job._image_data = images  # type: ignore[attr-defined]
            jobs[job.job] = job
        elif event.get("job") in jobs:
            jobs[event["job"]].apply(event)
    ordered = [jobs[i] for i in sorted(jobs)]
    # A download that never finished is redone from the stored URL; a .part file is never a video.
    for job in ordered:
        if job.status == "completed" and job.path and not (run_dir / job.path).exists():
            job.status = "downloading"
    return Sweep(run_dir, ordered, endpoint=meta.get("endpoint", DEFAULT_ENDPOINT), meta=meta)


async def run_sweep_async(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    concurrency: int = 4,
    budget_usd: float | None = None,
    download: bool = True,
    on_update: Callable[[Sweep, Job], Any] | None = None,
    force: bool = False,
    progress: bool | None = None,
) -> Sweep:
    """Run a grid and return its :class:`Sweep` (await this in a notebook cell)."""
    estimate = grid.estimate()
    _check_budget(estimate.jobs, estimate.high_usd, estimate.usd, budget_usd)
    sweep = Sweep.create(grid, run_dir, name=name)
    try:
        await sweep.run(
            client,
            concurrency=concurrency,
            budget_usd=budget_usd,
            download=download,
            on_update=on_update,
            force=force,
            progress=progress,
        )
    finally:
        sweep.close()
    return sweep


def run_sweep(grid: Grid, *, client: AsyncClient | None = None, **kwargs: Any) -> Sweep:
    """Sync :func:`run_sweep_async` for scripts and notebook cells (nests in Jupyter's loop)."""
    from ._sync import run_sync

    return run_sync(_closing(client, lambda c: run_sweep_async(grid, client=c, **kwargs)))


def start_sweep(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    **run_kwargs: Any,
) -> Sweep:
    """Start a sweep in the background on the running loop and return it at once (widgets use this)."""
    loop = asyncio.get_running_loop()
    sweep = Sweep.create(grid, run_dir, name=name)
    run_kwargs.setdefault("progress", False)
    sweep.task = loop.create_task(sweep.run(client, **run_kwargs))
    sweep.task.add_done_callback(lambda _t: sweep.close())
    return sweep


async def _closing(client: AsyncClient | None, body: Callable[[AsyncClient], Any]) -> Any:
    """Run ``body(client)`` and close the client's connections for this loop afterwards (sync wrappers)."""
    if client is None:
        from .connect import connect

        client = connect()
    try:
        return await body(client)
    finally:
        with contextlib.suppress(RuntimeError):
            await client.aclose()


def iter_rows(sweep: Sweep) -> Iterable[dict[str, Any]]:
    return (job.row(sweep.run_dir) for job in sweep.jobs)


_ = (re, TERMINAL)
