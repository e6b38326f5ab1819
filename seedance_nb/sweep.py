"""Sweeps: a grid over any inputs, a concurrent runner, a crash-safe journal, cache, resume and budget.

::

    grid = Grid(image="cat.png", prompt=["push in", "whip pan"], duration=[4, 8], takes=2)  # random seed per take
    len(grid), grid.estimate()          # 16 videos and their cost, before anything is sent
    sweep = run_sweep(grid, budget_usd=10)
    sweep.df                            # one row per video
    Sweep.resume("sweeps/<name>")       # after a crash: re-attaches by request id, pays for nothing twice

Every state change is journalled (and fsynced) before the next network wait;
the request id is written the moment fal returns it, with the URLs fal named
for it. Only one process may submit from a run folder (a lock; a second one
gets :class:`~seedance_nb.errors.RunFolderBusy`). One job's failure, of any
kind (a full disk included), ends that job only; a remote request is
cancelled only when the user cancels.

fal has no idempotency key, so a submit whose answer was lost (a dropped
connection, a 5xx, a crash between sending it and journalling its id) may or
may not have been queued. Such a job is ``unknown``: the runner, ``resume()``
and ``retry_failed()`` settle it through fal's request history (matching the
endpoint, the send time and every input field), attach to the request when it
is there, and submit again only when it is proven absent. One that cannot be
settled is left ``unknown`` unless ``resubmit_unknown=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import os
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._names import set_public_module
from .backends import client_or_connect, with_client
from .client import AsyncClient, Completed, InProgress, Queued, parse_time
from .duels import DuelsMixin
from .errors import (
    AmbiguousSubmit,
    BudgetExceeded,
    InputError,
    Problem,
    RequestCancelled,
    RequestFailed,
)
from .files import DATA_URI_LIMIT, ImageData, load_image
from .grids import Grid
from .keys import scrub
from .openapi_schema import SNAPSHOT_ENDPOINTS, check_drift_daily_async, current_schema, warn_unsupported_fields
from .outcomes import classify_failure, job_timeout_seconds, settle_unjournalled, within_deadline
from .quality import MetricsMixin, measure_download
from .runs import (
    CacheIndex,
    Job,
    JobStatus,
    Journal,
    RunFolder,
    cache_key,
    encode_line,
    now,
    to_dataframe,
)
from .schema import DEFAULT_ENDPOINT, EndpointId, VideoInput

__all__ = ["Grid", "Sweep", "load_sweep", "run_sweep", "run_sweep_async", "start_sweep"]  # Grid: from .grids

logger = logging.getLogger("seedance_nb.sweep")

# --------------------------------------------------------------------------- sweep


#: Images used by more than one job of a run and larger than this are uploaded once and sent by URL,
#: rather than inlined as a data URI in every submit (below it, inlining is cheaper than the upload).
SHARED_UPLOAD_MIN = 256 * 1024

#: Journal events that only record progress (re-derivable from the server): flushed, not fsynced.
_PROGRESS_EVENTS = frozenset({"started"})

#: How many times one run submits a job again after fal's history proved an ambiguous submit absent.
MAX_RESUBMITS = 5

#: How far fal's clock may be behind ours when matching a journalled send time to fal's history (both are
#: NTP time; a wider window would let an older identical request from another run be taken for this one).
CLOCK_SKEW_SECONDS = 10.0


def field_digests(payload: Mapping[str, Any]) -> dict[str, str]:
    """sha256 of each field of a payload as sent (compact canonical JSON): what identifies a request in
    fal's history without journalling its images twice."""
    return {
        name: hashlib.sha256(
            json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        for name, value in payload.items()
    }


def match_history(
    items: Iterable[Mapping[str, Any]], digest: Mapping[str, str], sent_at: float, claimed: set[str]
) -> str | None:
    """The request id in fal's history that is this submit, or None. Pure.

    A candidate has every field we sent equal and is not already another job's. The journal's send time is
    written before the POST goes out, so the request is the candidate sent soonest after it; candidates a
    little before it (fal's clock may trail ours) count only when none came after.
    """
    after: list[tuple[int, float, str]] = []
    before: list[tuple[float, str]] = []
    for item in items:
        request_id = item.get("request_id")
        if not isinstance(request_id, str) or request_id in claimed:
            continue
        inp = item.get("json_input")
        if not isinstance(inp, Mapping) or not digest:
            continue
        if field_digests({k: inp[k] for k in digest if k in inp}) != dict(digest):
            continue
        at = parse_time(item.get("sent_at"))
        at = sent_at if at is None else at
        if at >= sent_at - 1.0:
            # Sent at or after the journalled time first (that is the order on one clock), the closest.
            after.append((0 if at >= sent_at else 1, abs(at - sent_at), request_id))
        elif at >= sent_at - CLOCK_SKEW_SECONDS:
            before.append((sent_at - at, request_id))
    if after:
        return min(after)[2]
    return min(before)[1] if before else None


def _cancel_requested(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` was already asked to cancel; Python 3.10 cannot tell (``Task.cancelling`` is 3.11+)."""
    if sys.version_info >= (3, 11):
        return task.cancelling() > 0
    return False


@dataclass
class _RunContext:
    client: AsyncClient
    request_slots: asyncio.Semaphore
    download_slots: asyncio.Semaphore
    cache: CacheIndex
    download: bool
    force: bool
    resubmit_unknown: bool
    disable_fallbacks: bool = True
    metrics: bool = True
    hooks: Any = None  # the catalog's RunHooks (seedance_nb.catalogs.runner), or None
    job_timeout: float | None = None  # seconds from submit (or re-attachment) to the result (outcomes.py)


class Sweep(DuelsMixin, MetricsMixin):
    """A run folder and its jobs. ``df`` is a fresh DataFrame; a bare ``sweep`` in a cell shows the grid.

    Made by :meth:`create` (a new run folder), :meth:`load` or :func:`run_sweep`, not usually by hand.

    Args:
        run_dir: the run folder.
        jobs: its jobs.
        endpoint: the fal endpoint id.
        meta: ``sweep.json``'s content (name, backend, axes, ...).
    """

    def __init__(
        self, run_dir: Path, jobs: list[Job], *, endpoint: str = DEFAULT_ENDPOINT, meta: Mapping[str, Any] | None = None
    ) -> None:
        # Absolute, so a later change of working folder (a notebook's os.chdir) never loses the videos.
        self.folder = RunFolder(Path(run_dir).absolute())
        self.run_dir = self.folder.path
        self.jobs = jobs
        self.endpoint = endpoint
        self.meta = dict(meta or {})
        self.name = self.meta.get("name") or self.run_dir.name
        self.client: AsyncClient | None = None
        self.task: asyncio.Task | None = None
        self._journal: Journal | None = None
        #: The write the disk refused to the journal (a full disk), if any: the run stopped where the journal did.
        self.write_error: OSError | None = None
        self._uploads: dict[str, asyncio.Future[str]] = {}
        self._image_uses: Counter[str] = Counter()
        self._listeners: list[Callable[[Sweep, Job], Any]] = []
        self._cancelled = False
        self._lock_depth = 0
        self._lock_stack: contextlib.ExitStack | None = None
        #: The journal's (size, mtime) when this object last knew it whole: reloaded under the lock if changed.
        self._seen: tuple[int, int] | None = None

    @property
    def backend(self) -> str | None:
        """``"fal"`` or ``"emulator"``: where this sweep's videos come from."""
        return self.meta.get("backend")

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls, grid: Grid, run_dir: str | Path | None = None, *, name: str | None = None, backend: str | None = None
    ) -> Sweep:
        """A new run folder for ``grid``, created atomically (a crash leaves none or a complete one).

        Args:
            grid: the inputs, one planned job per cell and take.
            run_dir: the folder to create (default: a new one under the sweeps root).
            name: the sweep's name (and the folder's, when ``run_dir`` is not given).
            backend: ``"fal"`` or ``"emulator"``, recorded in ``sweep.json``.
        """
        folder = RunFolder(Path(run_dir)) if run_dir else RunFolder.new(name)
        jobs = grid.jobs()
        meta = {
            "name": name or folder.path.name,
            "endpoint": grid.endpoint,
            "backend": backend,
            "jobs": len(jobs),
            "axes": {k: [_describe(v) for v in vals] for k, vals in grid.axes.items()},
            "fixed": {k: _describe(v) for k, v in grid.fixed.items()},
            "takes": grid.takes,
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        sweep = cls(folder.path, jobs, endpoint=grid.endpoint, meta=meta)
        folder.create(sweep._write_header)
        sweep._seen = _journal_stat(folder.journal)
        return sweep

    @classmethod
    def load(cls, run_dir: str | Path) -> Sweep:
        """Rebuild a sweep from its journal alone (no lock needed: reading is always allowed).

        Args:
            run_dir: the sweep's run folder (the one holding ``journal.jsonl``).

        Raises:
            FileNotFoundError: the folder holds no sweep journal.
        """
        meta, jobs = _read_journal(Path(run_dir))
        sweep = cls(Path(run_dir), jobs, endpoint=meta.get("endpoint", DEFAULT_ENDPOINT), meta=meta)
        sweep._seen = _journal_stat(sweep.folder.journal)
        return sweep

    def _write_header(self, into: Path) -> None:
        """Write sweep.json, the journal's header and planned lines, and the input images into ``into``."""
        (into / "inputs").mkdir(parents=True, exist_ok=True)
        (into / RunFolder.META).write_text(_json_dump(self.meta), encoding="utf-8")
        lines = [{"event": "sweep", "at": now(), **self.meta}, *(self._planned(job, into) for job in self.jobs)]
        with (into / RunFolder.JOURNAL).open("w", encoding="utf-8") as fh:
            fh.write("".join(encode_line(line) for line in lines))
            fh.flush()
            os.fsync(fh.fileno())

    def _planned(self, job: Job, into: Path | None = None) -> dict[str, Any]:
        """The journal's ``planned`` event for ``job``; images are stored once under ``inputs/``."""
        into = into or self.run_dir
        payload = job.input.to_payload()
        for name, image in job.image_data.items():
            if isinstance(image, ImageData):
                ext = image.mime.split("/")[1].replace("jpeg", "jpg")
                target = into / "inputs" / f"{image.sha256}.{ext}"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(target.name + ".part")
                    tmp.write_bytes(image.data)
                    os.replace(tmp, target)
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
            self._journal = Journal(self.folder.journal)
        return self._journal

    def close(self) -> None:
        """Close the journal file this object holds open (it is opened again when needed)."""
        if self._journal is not None:
            self._journal.close()
            self.write_error = self._journal.error or self.write_error
            self._journal = None

    @contextlib.contextmanager
    def _submitting(self, purpose: str) -> Iterator[None]:
        """Hold the run folder's lock while this sweep may submit (re-entrant for this sweep object)."""
        if self._lock_depth == 0:
            stack = contextlib.ExitStack()
            stack.enter_context(self.folder.lock(purpose=purpose))
            self._lock_stack = stack
            # Another process may have written since this object read the journal: start from it as it is.
            if _journal_stat(self.folder.journal) != self._seen:
                self._reload()
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_stack is not None:
                self.close()
                self._seen = _journal_stat(self.folder.journal)
                self._lock_stack.close()
                self._lock_stack = None

    def _reload(self) -> None:
        """Bring every job up to the journal on disk (another process may have run this folder)."""
        if not self.folder.journal.exists():
            return
        fresh = {job.job: job for job in load_sweep(self.run_dir).jobs}
        for job in self.jobs:
            other = fresh.get(job.job)
            if other is not None:
                other.image_data = job.image_data or other.image_data
                job.__dict__.update(other.__dict__)
        known = {job.job for job in self.jobs}
        self.jobs.extend(job for number, job in sorted(fresh.items()) if number not in known)

    # ------------------------------------------------------------------ views

    @property
    def df(self) -> Any:
        return to_dataframe(self.jobs, self.run_dir.resolve(), backend=self.backend)

    def counts(self) -> dict[str, int]:
        """How many jobs stand in each status (``{"completed": 3, "failed": 1}``)."""
        out: dict[str, int] = {}
        for job in self.jobs:
            out[str(job.status)] = out.get(str(job.status), 0) + 1
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
        """Call ``callback(sweep, job)`` on every change (the job board uses this).

        Args:
            callback: called with this sweep and the job that changed, on the sweep's loop; an exception it
                raises is logged, never stops the sweep.
        """
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Sweep, Job], Any]) -> None:
        """Stop calling ``callback`` (added by :meth:`add_listener`); nothing happens when it is not there.

        Args:
            callback: the function given to :meth:`add_listener`.
        """
        if callback in self._listeners:
            self._listeners.remove(callback)

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

    def record_metrics(self, job: Job, measured: Any) -> None:
        """Journal a ``metrics`` event for ``job`` and apply it (call on the sweep's thread or loop).

        The line is flushed, not fsynced: metrics can always be measured again, so they never wait on the disk.

        Args:
            job: one of this sweep's jobs.
            measured: its video's :class:`~seedance_nb.quality.VideoMetrics`.
        """
        self._write(job, "metrics", {"metrics": measured.to_json()}, durable=False)

    def _notify(self, job: Job) -> None:
        for callback in list(self._listeners):
            try:
                callback(self, job)
            except Exception:  # a broken listener must not stop the sweep
                logger.exception("sweep listener failed")

    def rate(self, job: int, rating: Any = None, note: str | None = None) -> None:
        """Rate a video and/or note it; kept in the journal and ``df``.

        Args:
            job: the job number (the ``job`` column).
            rating: stars, a whole number 1-5; ``"up"``/``True`` are stored as 5 and ``"down"``/``False``
                as 1 (one scale everywhere). None leaves the rating as it is.
            note: free text.
        """
        target = self._job(job)
        fields: dict[str, Any] = {}
        if rating is not None:
            fields["rating"] = normalize_rating(rating)
        if note is not None:
            if not isinstance(note, str):
                raise InputError([Problem("note", "must be text", note, "a string")])
            fields["notes"] = note
        self._record(target, "rated", **fields)
        if self.task is None or self.task.done():
            self.close()

    def _job(self, number: Any) -> Job:
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(self.jobs):
            raise InputError([Problem("job", "no such job in this sweep", number, f"0..{len(self.jobs) - 1}")])
        return self.jobs[number]

    # ------------------------------------------------------------------ running

    def estimate_usd(self, *, high: bool = True) -> float:
        """The estimated price of the jobs not finished yet, in dollars.

        Args:
            high: the high end of each estimate (a ``duration="auto"`` job may run 15 s); else the point estimate.
        """
        total = 0.0
        for job in self.jobs:
            if job.done:
                continue
            est = job.input.estimate(_image_size(job))
            total += est.high_usd if high else est.usd
        return total

    async def run(
        self,
        client: AsyncClient,
        *,
        concurrency: int = 4,
        budget_usd: float | None = None,
        download: bool = True,
        on_update: Callable[[Sweep, Job], Any] | None = None,
        force: bool = False,
        progress: bool | None = None,
        resubmit_unknown: bool = False,
        disable_fallbacks: bool = True,
        metrics: bool = True,
        catalog: Any = None,
        job_timeout: float | None = None,
    ) -> Sweep:
        """Run every unfinished job; re-attach to submitted ones by request id (holding the folder's lock).

        Args:
            client: the client to send through. The runner never chooses one: the entry points do
                (:func:`seedance_nb.backends.client_or_connect`).
            concurrency: requests on fal at once (a slot frees when fal says COMPLETED).
            budget_usd: refuse to start (sending nothing) when the estimate's high end is above it.
            download: fetch each video into the run folder.
            on_update: ``callback(sweep, job)`` on every change.
            force: ignore the cache (pay again for requests made before).
            progress: a progress bar (default: when no ``on_update`` is given).
            resubmit_unknown: submit again the jobs whose earlier submit may have reached fal but could
                not be settled through fal's history (this may pay twice; a warning says how much).
            disable_fallbacks: ask fal not to reroute a job to "an equivalent endpoint" (on by default: a
                sweep compares takes, and a silent reroute would corrupt the comparison).
            metrics: measure each downloaded video (seedance_nb.quality, in a worker thread) into ``df``.
            catalog: a :class:`seedance_nb.catalogs.Catalog`, True (the default one) or False (none): the
                cap across sweeps, the cache through the catalog and one submission per request across a
                team. By default all of it when ``SEEDANCE_CATALOG_URL`` is set, and the cap (and the
                index) when the run folder is under the sweeps root. Whatever it is, each request is
                submitted once across the user's own processes and run folders (the per-user claims in
                ``$SEEDANCE_HOME``): a second one follows the first's request id. (:func:`run_sweep_async` passes the
                catalog's ``RunHooks`` that already hold this run's reservation under the cap.)
            job_timeout: seconds each job may take from its submit (or re-attachment) to its result; past it the
                job is ``interrupted``, left running on fal and resumable (default ``SEEDANCE_JOB_TIMEOUT``, else
                30 minutes; ``math.inf``: none).
        """
        _check_concurrency(concurrency)
        deadline = job_timeout_seconds(job_timeout)
        if not isinstance(client, AsyncClient):
            raise TypeError(
                f"Sweep.run needs a client, got {type(client).__name__}: pass sd.connect() (or use run_sweep, "
                "resume or retry_failed, which choose one)"
            )
        hooks = _catalog_hooks(self.run_dir, catalog, client.backend)
        with self._submitting("run"):
            if hooks is not None and hooks.reservation is None:
                await hooks.before_run(self.estimate_usd(high=True), label=self.name)
            try:
                return await self._run_locked(
                    client,
                    concurrency=concurrency,
                    budget_usd=budget_usd,
                    download=download,
                    on_update=on_update,
                    force=force,
                    progress=progress,
                    resubmit_unknown=resubmit_unknown,
                    disable_fallbacks=disable_fallbacks,
                    metrics=metrics,
                    hooks=hooks,
                    job_timeout=deadline,
                )
            finally:
                if hooks is not None:
                    await asyncio.shield(hooks.after_run())

    async def _run_locked(
        self,
        client: AsyncClient,
        *,
        concurrency: int,
        budget_usd: float | None,
        download: bool,
        on_update: Callable[[Sweep, Job], Any] | None,
        force: bool,
        progress: bool | None,
        resubmit_unknown: bool,
        disable_fallbacks: bool,
        metrics: bool,
        hooks: Any = None,
        job_timeout: float | None = None,
    ) -> Sweep:
        _check_budget(
            sum(not j.done for j in self.jobs), self.estimate_usd(high=True), self.estimate_usd(high=False), budget_usd
        )
        await self._check_schema(client)
        self.client = client
        if self.meta.get("backend") is None:
            self.meta["backend"] = client.backend
        self._cancelled, self.write_error = False, None
        if on_update is not None:
            self.add_listener(on_update)
        bar = _progress(self) if (progress or (progress is None and on_update is None)) else None
        pending = [job for job in self.jobs if not job.done]
        self._uploads = {}
        self._image_uses = Counter(
            _digest(job, name, image)
            for job in pending
            for name, image in job.image_data.items()
            if isinstance(image, ImageData)
        )
        unknown = [job for job in pending if job.status in (JobStatus.UNKNOWN, JobStatus.SUBMITTING)]
        if unknown and resubmit_unknown:
            cost = sum(job.est_cost_usd or 0.0 for job in unknown)
            logger.warning(
                "resubmit_unknown=True: %d job(s) whose earlier submit may have reached fal will be submitted "
                "again if fal's history cannot settle them; that may pay twice (up to $%.2f)",
                len(unknown),
                cost,
            )
        # One slot per remote request; downloads have their own slots, so a slot's next job is
        # submitted while the last one's video is still downloading and being probed.
        ctx = _RunContext(
            client,
            asyncio.Semaphore(concurrency),
            asyncio.Semaphore(concurrency),
            await asyncio.to_thread(CacheIndex),
            download,
            force,
            resubmit_unknown,
            disable_fallbacks,
            metrics,
            hooks=hooks,
            job_timeout=job_timeout,
        )
        # Cache look-ups for every job at once, before any job takes a slot: jobs are then submitted in grid order.
        hits = await asyncio.to_thread(self._cache_hits, ctx, pending)
        tasks = [asyncio.ensure_future(self._run_job(job, ctx, hits.get(job.job))) for job in pending]
        try:
            await asyncio.gather(*tasks)
        except (asyncio.CancelledError, KeyboardInterrupt):
            # gather has already cancelled each job once; cancelling again would interrupt the
            # jobs' own remote cancel requests, so only wait for them to finish cancelling.
            self._cancelled = True
            for task in tasks:
                if not task.done() and not _cancel_requested(task):
                    task.cancel()
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
            self._cancel_unsent()
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
        if self.write_error is not None:  # the disk refused the journal: show the jobs as resume() will find them
            self._reload()
            settle_unjournalled(self.jobs, self.run_dir, self.write_error)
        left = [job.job for job in self.jobs if job.status == JobStatus.UNKNOWN]
        if left:
            logger.warning(
                "job(s) %s may have been submitted (the answer was lost) and fal's history could not settle "
                "them; resume() tries again, resume(resubmit_unknown=True) submits them again (may pay twice)",
                left,
            )
        return self

    async def _check_schema(self, client: AsyncClient) -> None:
        """Before money is spent: say which fields fal's schema for this endpoint does not list (fal may ignore
        them: today possibly ``seed``), and on fal check the schema for drift once a day."""
        if self.endpoint not in SNAPSHOT_ENDPOINTS:
            return
        if client.backend == "fal":
            try:
                await check_drift_daily_async(self.endpoint)
            except Exception as exc:  # a courtesy check: it never stops a run
                logger.info("the daily schema check could not run: %s", exc)
        pending = [job.input for job in self.jobs if not job.done]
        for message in warn_unsupported_fields(pending, current_schema(self.endpoint)):
            logger.warning("%s", message)

    def _cache_hits(self, ctx: _RunContext, jobs: list[Job]) -> dict[int, dict[str, Any]]:
        """The per-user cache's entry for every job that has never been sent (none with ``force``)."""
        if ctx.force:
            return {}
        hits = {}
        for job in jobs:
            if job.request_id is None and job.status == JobStatus.PLANNED:
                hit = ctx.cache.lookup(job.key)
                if hit is not None:
                    hits[job.job] = hit
        return hits

    async def _run_job(self, job: Job, ctx: _RunContext, hit: dict[str, Any] | None = None) -> None:
        """One job from where it stands to its end. Any error ends this job only (see classify_failure)."""
        try:
            if hit is None and ctx.hooks is not None and not ctx.force and job.status == JobStatus.PLANNED:
                hit = await self._from_catalog(job, ctx)  # completed by anyone sharing the catalog
            if hit is not None and await self._from_cache(job, hit):
                return
            await self._follow_job(job, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # per-job isolation: one job's failure (a full disk too) never stops the rest
            event, fields = classify_failure(exc, job)
            if event == "interrupted" or not isinstance(exc, RequestFailed | RequestCancelled | AmbiguousSubmit):
                logger.warning("job %d: %s", job.job, fields.get("error"))
            try:
                self._record(job, event, **fields)
            except OSError as write_error:  # the journal itself cannot be written (a full disk)
                job.apply({"event": event, "at": now(), "job": job.job, **fields})
                self._notify(job)
                logger.error("job %d: could not journal %r (%s); resume() settles it", job.job, event, write_error)
        finally:
            if ctx.hooks is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                await asyncio.shield(ctx.hooks.failed(job.key))  # anyone sharing the catalog may submit it again

    async def _from_catalog(self, job: Job, ctx: _RunContext) -> dict[str, Any] | None:
        """A video of this request completed by anyone sharing the catalog, brought into this run folder
        (copied, or downloaded from fal's URL while it lives) as a cache entry; None when there is none."""
        remote = await ctx.hooks.lookup(job.key)
        if remote is None:
            return None
        stem = f"{job.job:03d}-{job.key[:8]}"
        return await ctx.hooks.fetch(
            ctx.client, remote, self.run_dir / "videos" / f"{stem}.mp4", self.run_dir / "posters" / f"{stem}.jpg"
        )

    async def _from_cache(self, job: Job, hit: dict[str, Any]) -> bool:
        """Serve ``job`` from the per-user cache (nothing sent, nothing paid): the video and poster are linked
        or copied into this run folder, so the folder stays self-contained."""
        stem = f"{job.job:03d}-{job.key[:8]}"
        try:
            path, poster = await asyncio.to_thread(CacheIndex.materialize, hit, self.run_dir, stem)
        except OSError as exc:
            logger.warning("job %d: the cached video could not be brought into %s (%s)", job.job, self.run_dir, exc)
            return False
        await self._arecord(
            job,
            "cached",
            path=path,
            poster=poster,
            info=hit.get("info"),
            video_url=hit.get("video_url"),
            output_seed=hit.get("output_seed"),
            source_request_id=hit.get("request_id"),
            source=hit.get("path"),
            timings=hit.get("timings"),
        )
        return True

    async def _follow_job(self, job: Job, ctx: _RunContext) -> None:
        client = ctx.client
        await ctx.request_slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                ctx.request_slots.release()

        handle = None
        try:
            if self._cancelled:
                self._record(job, "cancelled", error="cancelled before it was submitted")
                return
            if job.status == JobStatus.DOWNLOADING and job.video_url:
                release()
                async with ctx.download_slots:
                    await self._download(job, ctx)
                return
            if job.request_id is None:
                if not await self._submit(job, ctx):
                    return
            assert job.request_id is not None
            handle = client.handle(job.request_id, endpoint=self.endpoint, **job.urls)
            details = await within_deadline(self._follow(job, handle, release), ctx.job_timeout, job)
            if ctx.hooks is not None:
                await ctx.hooks.completed(job.key, details.output.to_json())
            await self._arecord(
                job,
                "result",
                output=details.output.to_json(),
                completed_at=now(),
                billable_units=details.billable_units,
                inference_time=job.inference_seconds,
            )
            # The request is finished and paid for: nothing remote left to cancel, slot free.
            handle = None
            release()
            async with ctx.download_slots:
                await self._download(job, ctx)
        except asyncio.CancelledError:
            # Only the user's cancel gets here (an interrupted cell, Cancel, a cancelled task): stop billing.
            if handle is None and job.request_id is not None and job.status != JobStatus.DOWNLOADING:
                handle = client.handle(job.request_id, endpoint=self.endpoint, **job.urls)
            if handle is not None and not (ctx.hooks is not None and job.key in ctx.hooks.following):
                # (never cancel a request another process submitted and this one only follows)
                remote = asyncio.ensure_future(handle.cancel())
                try:
                    await asyncio.shield(remote)
                except (asyncio.CancelledError, Exception):
                    # Cancelled again: still let the remote cancel finish (it is what stops billing).
                    with contextlib.suppress(BaseException):
                        await asyncio.wait_for(asyncio.shield(remote), 10)
            if job.status == JobStatus.DOWNLOADING:
                # Paid for and finished on the server: keep it resumable rather than lose it.
                self._record(
                    job,
                    "interrupted",
                    error_type="download_cancelled",
                    error="cancelled while downloading; the video is paid for, resume() downloads it",
                )
            elif job.status == JobStatus.UNKNOWN:
                pass  # it may be on fal: left for resume() to settle, never marked cancelled blindly
            else:
                self._record(job, "cancelled", error="cancelled by the user")
            raise
        finally:
            release()

    async def _submit(self, job: Job, ctx: _RunContext) -> bool:
        """Submit ``job`` (first settling an earlier ambiguous submit). True when it has a request id."""
        verdict = None
        for _attempt in range(MAX_RESUBMITS + 1):
            if job.status in (JobStatus.UNKNOWN, JobStatus.SUBMITTING) and job.sent_at is not None:
                verdict = await self._settle(job, ctx.client)
                if verdict == "found":
                    if ctx.hooks is not None and job.request_id is not None:
                        await ctx.hooks.settled(job.key, job.request_id)  # others follow it now
                    return True
                if verdict == "unsettled" and not ctx.resubmit_unknown:
                    if job.status != JobStatus.UNKNOWN:
                        self._record(
                            job,
                            "unknown",
                            error_type="ambiguous_submit",
                            error="the submit may have reached fal and its history could not settle it",
                        )
                    return False
            payload = await self._payload(job, ctx.client)
            sent = payload.to_payload()
            await self._arecord(job, "submitting", digest=field_digests(sent))
            if ctx.hooks is not None and not ctx.force:  # one submission per request: the user's, the team's
                submitting = ctx.hooks.submit(
                    ctx.client,
                    job.key,
                    payload,
                    self.endpoint,
                    # its own earlier claim may be taken again: proven absent, or resubmitted knowingly
                    absent=verdict == "absent" or (verdict == "unsettled" and ctx.resubmit_unknown),
                    disable_fallbacks=ctx.disable_fallbacks,
                )
            else:
                submitting = ctx.client.submit(payload, endpoint=self.endpoint, disable_fallbacks=ctx.disable_fallbacks)
            sending = asyncio.ensure_future(submitting)
            try:
                handle = await asyncio.shield(sending)
            except AmbiguousSubmit as exc:
                self._record(job, "unknown", error_type="ambiguous_submit", error=str(exc))
                continue  # settle it through fal's history before anything is sent again
            except asyncio.CancelledError:
                # The POST is on the wire: wait (briefly) for its answer, so that the request can be cancelled
                # on fal rather than left to run and be billed.
                answered = await _answer_of(sending)
                if answered is None:
                    self._record(
                        job,
                        "unknown",
                        error_type="cancelled_mid_submit",
                        error="cancelled while its submit was on the wire: it may have reached fal; "
                        "resume() settles it",
                    )
                else:
                    urls = answered.urls()
                    self._record(job, "submitted", request_id=answered.request_id, urls=urls, sent_at=job.sent_at)
                raise
            await self._arecord(job, "submitted", request_id=handle.request_id, urls=handle.urls(), sent_at=job.sent_at)
            return True
        return False

    async def _settle(self, job: Job, client: AsyncClient) -> str:
        """Whether a submit that may have reached fal did: ``found`` (attached to it), ``absent`` (proven
        not there: safe to submit) or ``unsettled`` (fal's history could not tell)."""
        assert job.sent_at is not None
        if not job.sent_digest:
            return "unsettled"  # a journal from before digests were kept: nothing to match by
        wait = job.sent_at + history_lag(client) - now()
        if wait > 0:
            await asyncio.sleep(wait)  # fal's history may trail the queue by a moment
        claimed = {j.request_id for j in self.jobs if j.request_id and j is not job}
        try:
            items = await client.request_history(self.endpoint, start=job.sent_at - CLOCK_SKEW_SECONDS, payloads=True)
        except Exception as exc:  # the history is a second opinion: when it fails, leave the job unknown
            logger.warning("job %d: fal's request history could not be read (%s)", job.job, exc)
            return "unsettled"
        request_id = match_history(items, job.sent_digest, job.sent_at, claimed)
        if request_id is None:
            logger.info("job %d: fal's history shows its earlier submit never arrived; submitting it", job.job)
            return "absent"
        ep = EndpointId.parse(self.endpoint)
        urls = {
            "status_url": ep.status_url(client.queue_url, request_id),
            "response_url": ep.request_url(client.queue_url, request_id),
            "cancel_url": ep.cancel_url(client.queue_url, request_id),
        }
        await self._arecord(job, "submitted", request_id=request_id, urls=urls, sent_at=job.sent_at, settled=True)
        logger.info("job %d: settled through fal's history as request %s (not submitted again)", job.job, request_id)
        return "found"

    async def _follow(self, job: Job, handle: Any, release: Callable[[], None]) -> Any:
        """Follow ``job``'s request to COMPLETED (its slot freed then) and read its result."""
        async with contextlib.aclosing(handle.events()) as events:
            await self._follow_events(job, events, release)
        return await handle.result_details()

    async def _follow_events(self, job: Job, events: Any, release: Callable[[], None]) -> None:
        async for event in events:
            if isinstance(event, Queued):
                job.queue_position = event.position
                self._notify(job)
            elif isinstance(event, InProgress):
                if event.logs:
                    job.last_log = event.logs[-1].message
                if job.status != JobStatus.RUNNING:
                    self._record(job, "started")
                else:
                    self._notify(job)
            elif isinstance(event, Completed):
                # The server has finished with it: its slot can take the next job while this result is read.
                release()
                inference = event.metrics.get("inference_time")
                if isinstance(inference, int | float) and not isinstance(inference, bool):
                    job.inference_seconds = float(inference)
                if job.started_at is None:
                    self._record(job, "started")

    async def _payload(self, job: Job, client: AsyncClient) -> VideoInput:
        changes = {}
        for name, image in job.image_data.items():
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

    async def _download(self, job: Job, ctx: _RunContext) -> None:
        if not ctx.download:
            await self._arecord(job, "completed_no_download")
            return
        from .media import poster, probe

        stem = f"{job.job:03d}-{job.key[:8]}"
        rel_video = Path("videos") / f"{stem}.mp4"
        rel_poster = Path("posters") / f"{stem}.jpg"
        assert job.video_url is not None
        path = await ctx.client.download(job.video_url, self.run_dir / rel_video, expected_size=job.file_size)
        try:
            info = await asyncio.to_thread(probe, path)
        except Exception:
            path.unlink(missing_ok=True)  # never leave a file that looks like a video but is not one
            raise
        await asyncio.to_thread(poster, path, self.run_dir / rel_poster)
        await self._arecord(job, "downloaded", path=str(rel_video), poster=str(rel_poster), info=info.to_json())
        try:
            await asyncio.to_thread(
                ctx.cache.add,
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
        except (OSError, sqlite3.Error) as exc:  # the video is safe in the run folder; only the cache missed it
            logger.warning("job %d: the cache index could not be updated (%s)", job.job, exc)
        if ctx.metrics:
            await measure_download(self, job, path)  # in a worker thread; journals a "metrics" event

    def add_takes(self, job: int, n: int = 1, *, same_seed_ok: bool = False) -> list[Job]:
        """Plan ``n`` more takes of job ``job``'s input (journalled); run them with :meth:`run`.

        A job with a fixed ``seed`` would likely give the same video again, paid again: refused unless
        ``same_seed_ok=True``.

        Args:
            job: the number of the job to take again.
            n: how many more takes.
            same_seed_ok: allow more takes of an input with a fixed seed.

        Returns:
            The new jobs, planned.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError([Problem("n", "must be a whole number of at least 1", n, "1, 2, 3, ...")])
        source = self._job(job)
        if source.input.seed is not None and not same_seed_ok:
            raise InputError(
                [
                    Problem(
                        "seed",
                        f"job {job} has a fixed seed ({source.input.seed}): another take likely pays again for "
                        "the same video",
                        source.input.seed,
                        "pass same_seed_ok=True to take it anyway",
                    )
                ]
            )
        with self._submitting("add_takes"):
            same = [j for j in self.jobs if j.input == source.input]
            hashes = dict(source.images)
            first = max(j.take for j in same) + 1
            added = []
            for take in range(first, first + n):
                new = Job(
                    job=len(self.jobs),
                    input=source.input,
                    take=take,
                    key=cache_key(self.endpoint, source.input, hashes, take),
                    labels=dict(source.labels),
                    images=hashes,
                    est_cost_usd=source.est_cost_usd,
                    image_data=source.image_data,
                )
                self._open().append(self._planned(new))
                self.jobs.append(new)
                added.append(new)
        return added

    def _cancel_unsent(self) -> None:
        """Journal every job never sent as ``cancelled`` (nothing was paid for it): the run is over."""
        for job in self.jobs:
            if job.status == JobStatus.PLANNED:
                with contextlib.suppress(OSError):
                    self._record(job, "cancelled", error="cancelled before it was submitted")
        self.close()

    def start(self, client: AsyncClient, **run_kwargs: Any) -> None:
        """Run in the background (:meth:`run` as a task on the running loop, kept in ``task``); returns at once.

        Args:
            client: the client to run with.
            **run_kwargs: :meth:`run`'s other arguments.
        """
        self.task = asyncio.get_running_loop().create_task(self.run(client, **run_kwargs))
        self.task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.close()
        if task.cancelled() or self._cancelled:
            self._cancel_unsent()  # also when it was cancelled before the run began

    def cancel(self) -> None:
        """Cancel the running sweep: every in-flight request is cancelled on the server too, and every job
        never sent is ``cancelled`` (nothing was paid for it)."""
        self._cancelled = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def resume_async(
        self, client: AsyncClient | None = None, *, include_cancelled: bool = False, **run_kwargs: Any
    ) -> Sweep:
        """Finish every unfinished job: re-attach by request id, settle ambiguous submits through fal's
        history, submit only what never was.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            include_cancelled: run every cancelled job again as a new request (those cancelled after
                submission too).
            **run_kwargs: :meth:`run`'s options.
        """
        client = client_or_connect(client)
        with self._submitting("resume"):
            for job in self.jobs:
                if job.status == JobStatus.INTERRUPTED:
                    job.status = JobStatus.DOWNLOADING if job.video_url else JobStatus.SUBMITTED
                    if job.request_id is None and not job.video_url:
                        job.status = JobStatus.PLANNED
                if include_cancelled and job.status == JobStatus.CANCELLED:
                    self._record(job, "retry")
            return await self.run(client, **run_kwargs)

    @classmethod
    def resume(cls, run_dir: str | Path, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """Load a sweep from its journal and finish it (sync; works inside Jupyter too).

        Args:
            run_dir: the sweep's run folder.
            client: the client (default: :func:`seedance_nb.connect`).
            **run_kwargs: :meth:`resume_async`'s options.
        """
        from ._sync import run_sync

        sweep = load_sweep(run_dir)
        return run_sync(with_client(client, lambda c: sweep.resume_async(c, **run_kwargs)))

    def retry_failed(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """Run failed jobs again, except refusals that would fail the same way (bad input, input moderation).
        Jobs whose submit may have reached fal (``unknown``) are settled first, never simply re-sent.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            **run_kwargs: :meth:`run`'s options.
        """
        from ._sync import run_sync

        return run_sync(with_client(client, lambda c: self.retry_failed_async(c, **run_kwargs)))

    async def retry_failed_async(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Sweep:
        """:meth:`retry_failed` on the running loop (await it in a notebook cell).

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            **run_kwargs: :meth:`run`'s options.
        """
        client = client_or_connect(client)
        with self._submitting("retry"):
            for job in self.jobs:
                if job.status == JobStatus.FAILED and job.retryable is not False:
                    self._record(job, "retry")
            return await self.run(client, **run_kwargs)


async def _answer_of(sending: asyncio.Future[Any], timeout: float = 15.0) -> Any:
    """The handle a submit in flight returns, waited for at most ``timeout`` s; None if it does not come."""
    try:
        return await asyncio.wait_for(asyncio.shield(sending), timeout)
    except (asyncio.CancelledError, asyncio.TimeoutError, Exception):
        if not sending.done():
            sending.cancel()
        return None


def normalize_rating(rating: Any) -> int:
    """One rating scale: stars 1-5. ``"up"``/``True`` → 5, ``"down"``/``False`` → 1."""
    if rating is True or (isinstance(rating, str) and rating.strip().lower() in ("up", "👍", "+1", "good")):
        return 5
    if rating is False or (isinstance(rating, str) and rating.strip().lower() in ("down", "👎", "-1", "bad")):
        return 1
    if isinstance(rating, int) and 1 <= rating <= 5:
        return int(rating)
    if isinstance(rating, float) and rating.is_integer() and 1 <= rating <= 5:
        return int(rating)
    raise InputError([Problem("rating", "is not a rating", rating, "stars 1..5, or 'up' (5) / 'down' (1)")])


def history_lag(client: AsyncClient) -> float:
    """Seconds fal's request history may trail the queue: absence is trusted only after this long."""
    return 0.0 if client.backend == "emulator" else 30.0


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError([Problem("concurrency", "must be a whole number of at least 1", concurrency, "1, 2, 4, ...")])


def _digest(job: Job, name: str, image: ImageData) -> str:
    """The sha256 of a job's image input (journalled with the job; hashed again only if missing)."""
    return job.images.get(name) or image.sha256


def _catalog_hooks(run_dir: Path, catalog: Any, backend: str | None = None) -> Any:
    """The claims' and the catalog's hooks for a run folder (see seedance_nb.catalogs.runner.RunHooks.for_run):
    the user's own claims always (one submission per request across the user's processes), the catalog's
    cap, index and team claims where one applies. ``catalog=False`` leaves the user's claims only. An
    emulated run (``backend="emulator"``) is checked against the cap but reserves nothing: it is not money."""
    from .catalogs.runner import RunHooks

    return RunHooks.for_run(run_dir, catalog, backend=backend)


def _check_budget(jobs: int, high_usd: float, usd: float, budget_usd: float | None) -> None:
    """Refuse (sending nothing) when the high end of the estimate is over the budget."""
    if budget_usd is None:
        return
    if isinstance(budget_usd, bool) or not isinstance(budget_usd, int | float) or not budget_usd >= 0:
        raise InputError([Problem("budget_usd", "must be a number of dollars, 0 or more", budget_usd, "e.g. 10")])
    if high_usd > budget_usd + 1e-9:
        raise BudgetExceeded(
            f"{jobs} videos may cost up to ${high_usd:.2f} (about ${usd:.2f}), over the budget of "
            f"${budget_usd:.2f}; nothing was sent. Raise budget_usd or shrink the grid.",
            estimate_usd=high_usd,
            budget_usd=budget_usd,
        )


def _image_size(job: Job) -> tuple[int, int] | None:
    image = job.image_data.get("image_url")
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
    return json.dumps(scrub(data), indent=2, ensure_ascii=False, default=str)  # no API key in sweep.json


def _progress(sweep: Sweep) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    bar = tqdm(total=len(sweep.jobs), desc=sweep.name, unit="video", initial=sum(j.done for j in sweep.jobs))

    def update(_sweep: Sweep, _job: Job) -> None:
        done = sum(j.done for j in _sweep.jobs)
        if done != bar.n:
            failed = sum(j.status == JobStatus.FAILED for j in _sweep.jobs)
            if failed:
                bar.set_postfix_str(f"failed={failed}", refresh=False)
            bar.update(done - bar.n)

    sweep.add_listener(update)
    original = bar.close

    def close() -> None:
        sweep.remove_listener(update)
        original()

    bar.close = close  # type: ignore[method-assign]  # tqdm has no close hook: wrap this bar's own method
    return bar


# --------------------------------------------------------------------------- loading and entry points


def load_sweep(run_dir: str | Path) -> Sweep:
    """Rebuild a sweep from its journal alone (no lock needed: reading is always allowed).

    Args:
        run_dir: the sweep's run folder (the one holding ``journal.jsonl``).

    Raises:
        FileNotFoundError: the folder holds no sweep journal.
    """
    return Sweep.load(run_dir)


def _read_journal(run_dir: Path) -> tuple[dict[str, Any], list[Job]]:
    """A run folder's sweep header and its jobs as the journal leaves them (see :meth:`Sweep.load`)."""
    events = Journal.read(run_dir / RunFolder.JOURNAL)
    if not events or events[0].get("event") != "sweep":
        raise FileNotFoundError(f"{run_dir} holds no sweep journal (journal.jsonl)")
    meta = {k: v for k, v in events[0].items() if k not in ("event", "at")}
    jobs: dict[int, Job] = {}
    images_by_file: dict[str, tuple[ImageData, str]] = {}
    for event in events[1:]:
        if event.get("event") == "planned":
            payload = dict(event["payload"])
            images: dict[str, ImageData | str] = {}
            for name, value in list(payload.items()):
                if isinstance(value, dict) and "$file" in value:
                    # Each input image is read once and its data URI shared by every job that uses it.
                    if value["$file"] not in images_by_file:
                        loaded = load_image((run_dir / value["$file"]).read_bytes(), field=name)
                        image = ImageData(
                            loaded.data, loaded.mime, loaded.width, loaded.height, value.get("name", "image")
                        )
                        images_by_file[value["$file"]] = (image, image.data_uri())
                    images[name], payload[name] = images_by_file[value["$file"]]
                elif name in ("image_url", "end_image_url"):
                    images[name] = value
            job = Job(
                job=event["job"],
                input=VideoInput.from_payload(payload, meta.get("endpoint", DEFAULT_ENDPOINT)),
                take=event["take"],
                key=event["key"],
                labels=event.get("labels", {}),
                images=event.get("images", {}),
                est_cost_usd=event.get("est_cost_usd"),
                image_data=images,
            )
            jobs[job.job] = job
        elif event.get("job") in jobs:
            jobs[event["job"]].apply(event)
    ordered = [jobs[i] for i in sorted(jobs)]
    # A download that never finished is redone from the stored URL; a .part file is never a video.
    for job in ordered:
        if job.status in (JobStatus.COMPLETED, JobStatus.CACHED) and job.path and not (run_dir / job.path).exists():
            job.status = JobStatus.DOWNLOADING if job.video_url else JobStatus.PLANNED
    return meta, ordered


def _journal_stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


async def run_sweep_async(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    **options: Any,
) -> Sweep:
    """Run a grid and return its :class:`Sweep` (await this in a notebook cell).

    Every argument is checked (and the budget, and the catalog's cap) before the run folder is created or
    anything is sent.

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the folder's, when ``run_dir`` is not given).
        **options: the keyword arguments of :meth:`Sweep.run` (``concurrency=4``, ``budget_usd``, ``download``,
            ``on_update``, ``force``, ``progress``, ``metrics``, ``catalog``, ...); an unknown name is a
            ``TypeError``.

    Raises:
        InputError: a bad argument (nothing was created or sent).
        BudgetExceeded: the estimate is over ``budget_usd`` or the catalog's cap (nothing was sent).
    """
    if not isinstance(grid, Grid):
        raise InputError([Problem("grid", "must be a Grid", type(grid).__name__, "sd.Grid(image=..., prompt=...)")])
    try:
        bound = inspect.signature(Sweep.run).bind(None, client, **options)
    except TypeError as exc:  # an unknown name, refused as Python refuses it for Sweep.run
        raise TypeError(f"run_sweep_async() {exc}") from None
    bound.apply_defaults()
    settings = bound.arguments
    _check_concurrency(settings["concurrency"])
    job_timeout_seconds(settings["job_timeout"])
    estimate = grid.estimate()
    _check_budget(estimate.jobs, estimate.high_usd, estimate.usd, settings["budget_usd"])
    client = client_or_connect(client)
    folder = RunFolder(Path(run_dir)) if run_dir else RunFolder.new(name)
    hooks = _catalog_hooks(folder.path, settings["catalog"], client.backend)
    if hooks is not None:  # the catalog's cap (across sweeps and processes), before the run folder exists
        await hooks.before_run(estimate.high_usd, label=name or folder.path.name)
    try:
        sweep = Sweep.create(grid, folder.path, name=name, backend=client.backend)
    except BaseException:
        if hooks is not None:
            await hooks.after_run()
        raise
    try:
        # the hooks already hold the cap's reservation
        await sweep.run(client, **{**options, "catalog": hooks if hooks is not None else False})
    finally:
        sweep.close()
    return sweep


def run_sweep(grid: Grid, *, client: AsyncClient | None = None, **kwargs: Any) -> Sweep:
    """Sync :func:`run_sweep_async` for scripts and notebook cells (runs in a worker thread in Jupyter).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        **kwargs: :func:`run_sweep_async`'s options.
    """
    from ._sync import run_sync

    return run_sync(with_client(client, lambda c: run_sweep_async(grid, client=c, **kwargs)))


def start_sweep(
    grid: Grid,
    *,
    client: AsyncClient | None = None,
    run_dir: str | Path | None = None,
    name: str | None = None,
    **run_kwargs: Any,
) -> Sweep:
    """Start a sweep in the background on the running loop and return it at once (widgets use this).

    Args:
        grid: the inputs to run.
        client: the client (default: :func:`seedance_nb.connect`).
        run_dir: the run folder to create (default: a new one under the sweeps root).
        name: the sweep's name (and the run folder's, when ``run_dir`` is not given).
        **run_kwargs: :meth:`Sweep.run`'s other arguments (``progress`` is off by default here).

    Raises:
        RuntimeError: no event loop is running (call it from a notebook cell or a coroutine).
    """
    asyncio.get_running_loop()  # no loop: fail before the run folder is created
    client = client_or_connect(client)
    sweep = Sweep.create(grid, run_dir, name=name, backend=client.backend)
    run_kwargs.setdefault("progress", False)
    sweep.start(client, **run_kwargs)
    return sweep


set_public_module(__name__)
