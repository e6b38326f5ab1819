"""The core's run object (:class:`Run`): a run folder and its jobs, the journal, the lock, the views, and the
runner that takes every unfinished job to its end. The steps of one job are in ``_jobs``, the bytes moved in
``_transfers``; what plugs into a run (claims, metrics) comes through :mod:`seedance_nb.hooks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from .._sync import run_sync
from .._text import plural
from ..backends import client_or_connect, with_client
from ..client import AsyncClient
from ..errors import InputError, Problem
from ..files import ImageData
from ..grids import Grid
from ..hooks import HookChain, RunnerHooks
from ..lineup import estimate
from ..openapi_schema import (
    SNAPSHOT_ENDPOINTS,
    current_schema,
    seed_note_once,
    split_seed_message,
    warn_unsupported_fields,
)
from ..outcomes import job_timeout_seconds, settle_unjournalled
from ..runs import CacheIndex, Job, JobStatus, Journal, RunFolder, cache_key, encode_line, now, to_dataframe
from ..schema import DEFAULT_ENDPOINT
from ._budget import _check_budget, _check_concurrency, _describe, _digest, _image_size, _json_dump, normalize_rating
from ._group_sync import GroupSync
from ._jobs import JobSteps, RunContext, _cancel_requested
from ._progress import _progress
from ._reading import _journal_stat, _read_journal
from ._slots import RequestSlots
from ._transfers import Transfers

logger = logging.getLogger("seedance_nb.sweep")

#: Journal events that only record progress (re-derivable from the server): flushed, not fsynced.
_PROGRESS_EVENTS = frozenset({"started"})

_R = TypeVar("_R", bound="Run")


@dataclass(frozen=True)
class RunSettings:
    """One run's options, as :meth:`Run.run` checked them."""

    budget_usd: float | None
    download: bool
    force: bool
    resubmit_unknown: bool
    disable_fallbacks: bool
    metrics: bool
    job_timeout: float | None


def _warn_resubmits(pending: list[Job], resubmit_unknown: bool) -> None:
    """Say how much ``resubmit_unknown=True`` may pay twice for, before anything is sent."""
    unknown = [job for job in pending if job.status in (JobStatus.UNKNOWN, JobStatus.SUBMITTING)]
    if unknown and resubmit_unknown:
        cost = sum(job.est_cost_usd or 0.0 for job in unknown)
        logger.warning(
            "resubmit_unknown=True: %s whose earlier submit may have reached fal will be submitted "
            "again if fal's history cannot settle them; that may pay twice (up to $%.2f)",
            plural(len(unknown), "job"),
            cost,
        )


class Run(JobSteps, Transfers):
    """The core's run object: a run folder and its jobs, the journal, the cache and the runner. It names no
    wing: what plugs into a run comes from :meth:`make_hooks`, which the top floor's
    :class:`seedance_nb.sweep.Sweep` (the one users get) overrides with the claims and the metrics.

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
        self.task: asyncio.Task[Any] | None = None
        self._journal: Journal | None = None
        self._group_sync = GroupSync()
        #: The write the disk refused to the journal (a full disk), if any: the run stopped where the journal did.
        self.write_error: OSError | None = None
        self._uploads: dict[str, asyncio.Future[str]] = {}
        self._image_uses: Counter[str] = Counter()
        self._listeners: list[Callable[[Any, Job], Any]] = []
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
        cls: type[_R],
        grid: Grid,
        run_dir: str | Path | None = None,
        *,
        name: str | None = None,
        backend: str | None = None,
    ) -> _R:
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
            **({"endpoints": list(grid.endpoints)} if len(grid.endpoints) > 1 else {}),
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
    def load(cls: type[_R], run_dir: str | Path) -> _R:
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
            "event": JobStatus.PLANNED,
            "at": now(),
            "job": job.job,
            "take": job.take,
            "key": job.key,
            "endpoint": job.input.endpoint,
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
        fresh = {job.job: job for job in _read_journal(self.run_dir)[1]}
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
        return f"<{type(self).__name__} {self.name!r} {plural(len(self.jobs), 'job')} ({counts}) in {self.run_dir}>"

    def add_listener(self, callback: Callable[[Any, Job], Any]) -> None:
        """Call ``callback(sweep, job)`` on every change (the job board uses this).

        Args:
            callback: called with this sweep and the job that changed, on the sweep's loop; an exception it
                raises is logged, never stops the sweep.
        """
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Any, Job], Any]) -> None:
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
        await self._group_sync.sync(journal)  # one fsync for the lines the wave's jobs wrote meanwhile

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
            est = estimate(job.input, _image_size(job))  # by the job's own endpoint's rule
            total += est.high_usd if high else est.usd
        return total

    @classmethod
    def make_hooks(
        cls,
        run_dir: Path,
        catalog: Any = None,
        *,
        backend: str | None = None,
        metrics: bool = True,
        endpoint: str | None = None,
    ) -> HookChain:
        """What plugs into a run of this class: the core's own run has none (hooks given as ``catalog`` are
        used as they are). The top floor's :class:`seedance_nb.sweep.Sweep` adds the claims and the metrics.

        Args:
            run_dir: the run folder.
            catalog: :meth:`run`'s ``catalog`` (hooks already made are returned as they are).
            backend: ``"fal"`` or ``"emulator"``.
            metrics: :meth:`run`'s ``metrics``.
            endpoint: the run's endpoint id.
        """
        if isinstance(catalog, HookChain):
            return catalog
        return HookChain([catalog] if isinstance(catalog, RunnerHooks) else [])

    async def run(
        self,
        client: AsyncClient,
        *,
        concurrency: int = 4,
        budget_usd: float | None = None,
        download: bool = True,
        on_update: Callable[[Any, Job], Any] | None = None,
        force: bool = False,
        progress: bool | None = None,
        resubmit_unknown: bool = False,
        disable_fallbacks: bool = True,
        metrics: bool = True,
        catalog: Any = None,
        job_timeout: float | None = None,
    ) -> Any:
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
            metrics: measure each downloaded video (seedance_nb.quality, in a worker process) into ``df``.
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
        if not isinstance(client, AsyncClient):
            raise TypeError(
                f"Sweep.run needs a client, got {type(client).__name__}: pass sd.connect() (or use run_sweep, "
                "resume or retry_failed, which choose one)"
            )
        settings = RunSettings(
            budget_usd, download, force, resubmit_unknown, disable_fallbacks, metrics, job_timeout_seconds(job_timeout)
        )
        hooks = self.make_hooks(self.run_dir, catalog, backend=client.backend, metrics=metrics, endpoint=self.endpoint)
        with self._submitting("run"):
            if not hooks.began:
                await hooks.before_run(self.estimate_usd(high=True), label=self.name)
            try:
                return await self._run_locked(client, concurrency, settings, hooks, on_update, progress)
            finally:
                await asyncio.shield(hooks.after_run())

    async def _run_locked(
        self,
        client: AsyncClient,
        concurrency: int,
        settings: RunSettings,
        hooks: HookChain,
        on_update: Callable[[Any, Job], Any] | None,
        progress: bool | None,
    ) -> Any:
        """:meth:`run` under the folder's lock: checks, then every unfinished job at once (in slots)."""
        pending = [job for job in self.jobs if not job.done]
        _check_budget(len(pending), self.estimate_usd(high=True), self.estimate_usd(high=False), settings.budget_usd)
        await self._check_schema(client)
        self.client = client
        if self.meta.get("backend") is None:
            self.meta["backend"] = client.backend
        self._cancelled, self.write_error = False, None
        if on_update is not None:
            self.add_listener(on_update)
        bar = _progress(self) if (progress or (progress is None and on_update is None)) else None
        self._prepare_uploads(pending)
        _warn_resubmits(pending, settings.resubmit_unknown)
        # One slot per remote request; downloads have their own slots, so a slot's next job is
        # submitted while the last one's video is still downloading and being probed.
        ctx = RunContext(
            client,
            RequestSlots(concurrency),
            asyncio.Semaphore(concurrency),
            await asyncio.to_thread(CacheIndex),
            settings.download,
            settings.force,
            settings.resubmit_unknown,
            settings.disable_fallbacks,
            settings.metrics,
            hooks=hooks,
            job_timeout=settings.job_timeout,
        )
        try:
            await self._run_all(ctx, pending)
        finally:
            await asyncio.to_thread(ctx.cache.close)  # the index's connections (one per worker thread)
            await self._end_run(on_update, bar)
        self._after_run()
        return self

    def _prepare_uploads(self, pending: list[Job]) -> None:
        """Count the uses of each input image (one used by several jobs is uploaded once and shared)."""
        self._uploads = {}
        self._image_uses = Counter(
            _digest(job, name, image)
            for job in pending
            for name, image in job.image_data.items()
            if isinstance(image, ImageData)
        )

    async def _run_all(self, ctx: RunContext, pending: list[Job]) -> None:
        """Every pending job at once (each waits for a slot); a cancel reaches every job and the unsent ones."""
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

    async def _end_run(self, on_update: Callable[[Any, Job], Any] | None, bar: Any) -> None:
        """Whatever way the run ended: stray uploads cancelled, the listener and the bar gone, the journal closed."""
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

    def _after_run(self) -> None:
        """After a run that was not cancelled: settle what a refused journal write left, warn of unknown jobs."""
        if self.write_error is not None:  # the disk refused the journal: show the jobs as resume() will find them
            self._reload()
            settle_unjournalled(self.jobs, self.run_dir, self.write_error)
        left = [job.job for job in self.jobs if job.status == JobStatus.UNKNOWN]
        if left:
            logger.warning(
                "%s (%s) may have been submitted (the answer was lost) and fal's history could not settle "
                "them; resume() tries again, resume(resubmit_unknown=True) submits them again (may pay twice)",
                plural(len(left), "job"),
                ", ".join(map(str, left)),
            )

    async def _check_schema(self, client: AsyncClient) -> None:
        """Before money is spent: say which fields fal's schema for this endpoint does not list (fal may ignore
        them). A ``seed`` the user chose is no warning: an INFO line, and on fal a note printed once per session
        (:func:`~seedance_nb.openapi_schema.seed_note_once`). A grid over endpoints: each is checked by its own
        schema. (The daily drift check is a wing's hook: seedance_nb.sweep.)"""
        pending = [job.input for job in self.jobs if not job.done]
        for endpoint in dict.fromkeys(inp.endpoint for inp in pending):
            if endpoint not in SNAPSHOT_ENDPOINTS:
                continue
            mine = [inp for inp in pending if inp.endpoint == endpoint]
            others, seed = split_seed_message(warn_unsupported_fields(mine, current_schema(endpoint)))
            for message in others:
                logger.warning("%s", message)
            if seed is not None:  # a seed the user chose: a quiet note once per session, where fal bills (stdout)
                logger.info("%s", seed)
                note = seed_note_once(endpoint) if client.backend == "fal" else None
                if note is not None:
                    print(note)

    def _cache_hits(self, ctx: RunContext, jobs: list[Job]) -> dict[int, dict[str, Any]]:
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
                    key=cache_key(source.input.endpoint, source.input, hashes, take),
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
                    self._record(job, JobStatus.CANCELLED, error="cancelled before it was submitted")
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
    ) -> Any:
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
    def resume(cls: type[_R], run_dir: str | Path, client: AsyncClient | None = None, **run_kwargs: Any) -> _R:
        """Load a sweep from its journal and finish it (sync; works inside Jupyter too).

        Args:
            run_dir: the sweep's run folder.
            client: the client (default: :func:`seedance_nb.connect`).
            **run_kwargs: :meth:`resume_async`'s options.
        """
        sweep = cls.load(run_dir)
        run_sync(with_client(client, lambda c: sweep.resume_async(c, **run_kwargs)))  # runs and returns sweep
        return sweep

    def retry_failed(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Any:
        """Run failed jobs again, except refusals that would fail the same way (bad input, input moderation).
        Jobs whose submit may have reached fal (``unknown``) are settled first, never simply re-sent.

        Args:
            client: the client (default: :func:`seedance_nb.connect`).
            **run_kwargs: :meth:`run`'s options.
        """
        return run_sync(with_client(client, lambda c: self.retry_failed_async(c, **run_kwargs)))

    async def retry_failed_async(self, client: AsyncClient | None = None, **run_kwargs: Any) -> Any:
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
