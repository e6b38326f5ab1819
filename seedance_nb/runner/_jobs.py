"""One job of a run from where it stands to its end: the cache, submitting once, settling a lost answer
through fal's history, following the request, and what a cancel or a failure leaves in the journal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client import AsyncClient, Completed, InProgress, Queued
from ..errors import AmbiguousSubmit, RequestCancelled, RequestFailed
from ..hooks import HookChain, RunnerHooks
from ..outcomes import classify_failure, within_deadline
from ..runs import CacheIndex, Job, JobStatus, now
from ..schema import EndpointId, VideoInput
from ._history import CLOCK_SKEW_SECONDS, MAX_RESUBMITS, _answer_of, field_digests, history_lag, match_history
from ._slots import RequestSlots

logger = logging.getLogger("seedance_nb.sweep")

#: What fal's history says of a submit whose answer was lost (:meth:`JobSteps._settle`).
FOUND, ABSENT, UNSETTLED = "found", "absent", "unsettled"


def _cancel_requested(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` was already asked to cancel; Python 3.10 cannot tell (``Task.cancelling`` is 3.11+)."""
    if sys.version_info >= (3, 11):
        return task.cancelling() > 0
    return False


@dataclass
class RunContext:
    """What every job of one run shares: the client, the slots, the cache, the options and the hooks."""

    client: AsyncClient
    request_slots: RequestSlots  # one per remote request; a freed one is refilled before results are read
    download_slots: asyncio.Semaphore
    cache: CacheIndex
    download: bool
    force: bool
    resubmit_unknown: bool
    disable_fallbacks: bool = True
    metrics: bool = True
    hooks: RunnerHooks = field(default_factory=HookChain)  # what the top floor plugged in (claims, metrics)
    job_timeout: float | None = None  # seconds from submit (or re-attachment) to the result (outcomes.py)


class JobSteps:
    """The steps of one job (a part of :class:`seedance_nb.runner.Run`)."""

    run_dir: Path
    endpoint: str
    jobs: list[Job]
    _cancelled: bool

    if TYPE_CHECKING:

        async def _arecord(self, job: Job, event: str, **fields: Any) -> None: ...

        def _record(self, job: Job, event: str, **fields: Any) -> None: ...

        def _notify(self, job: Job) -> None: ...

        async def _payload(self, job: Job, client: AsyncClient) -> VideoInput: ...

        async def _download(self, job: Job, ctx: RunContext) -> None: ...

    async def _run_job(self, job: Job, ctx: RunContext, hit: dict[str, Any] | None = None) -> None:
        """One job from where it stands to its end. Any error ends this job only (see classify_failure)."""
        try:
            if hit is None and not ctx.force and job.status == JobStatus.PLANNED:
                hit = await self._from_catalog(job, ctx)  # completed by anyone sharing the catalog
            if hit is not None and await self._from_cache(job, hit):
                return
            await self._follow_job(job, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # per-job isolation: one job's failure (a full disk too) never stops the rest
            event, fields = classify_failure(exc, job)
            if event == JobStatus.INTERRUPTED or not isinstance(
                exc, RequestFailed | RequestCancelled | AmbiguousSubmit
            ):
                logger.warning("job %d: %s", job.job, fields.get("error"))
            try:
                self._record(job, event, **fields)
            except OSError as write_error:  # the journal itself cannot be written (a full disk)
                job.apply({"event": event, "at": now(), "job": job.job, **fields})
                self._notify(job)
                logger.error("job %d: could not journal %r (%s); resume() settles it", job.job, event, write_error)
        finally:
            if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                await asyncio.shield(ctx.hooks.failed(job.key))  # anyone sharing the catalog may submit it again

    async def _from_catalog(self, job: Job, ctx: RunContext) -> dict[str, Any] | None:
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
            JobStatus.CACHED,
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

    async def _follow_job(self, job: Job, ctx: RunContext) -> None:
        """Submit (or re-attach to) ``job``'s request, follow it to its result, then download it."""
        client = ctx.client
        await ctx.request_slots.acquire()
        held = starting = True

        def started() -> None:  # this slot's submit is sent (or none will be): finished jobs may go on
            nonlocal starting
            if starting:
                starting = False
                ctx.request_slots.started()

        def release() -> None:
            nonlocal held
            started()
            if held:
                held = False
                ctx.request_slots.release()

        handle = None
        try:
            if self._cancelled:
                self._record(job, JobStatus.CANCELLED, error="cancelled before it was submitted")
                return
            if job.status == JobStatus.DOWNLOADING and job.video_url:
                release()
                async with ctx.download_slots:
                    await self._download(job, ctx)
                return
            if job.request_id is None:
                submitted = await self._submit(job, ctx)
                started()
                if not submitted:
                    return
            started()
            assert job.request_id is not None
            if ctx.download:
                await ctx.hooks.awaiting_video(job)
            handle = client.handle(job.request_id, endpoint=job.input.endpoint, **job.urls)
            details = await within_deadline(self._follow(job, handle, release, ctx.request_slots), ctx.job_timeout, job)
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
            await self._cancelled_job(job, ctx, handle)
            raise
        finally:
            release()

    async def _cancelled_job(self, job: Job, ctx: RunContext, handle: Any) -> None:
        """Only the user's cancel gets here (an interrupted cell, Cancel, a cancelled task): stop billing, and
        journal what the job is left as."""
        if handle is None and job.request_id is not None and job.status != JobStatus.DOWNLOADING:
            handle = ctx.client.handle(job.request_id, endpoint=job.input.endpoint, **job.urls)
        if handle is not None and job.key not in ctx.hooks.following:
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
                JobStatus.INTERRUPTED,
                error_type="download_cancelled",
                error="cancelled while downloading; the video is paid for, resume() downloads it",
            )
        elif job.status != JobStatus.UNKNOWN:  # an unknown one may be on fal: left for resume() to settle
            self._record(job, JobStatus.CANCELLED, error="cancelled by the user")

    async def _submit(self, job: Job, ctx: RunContext) -> bool:
        """Submit ``job`` (first settling an earlier ambiguous submit). True when it has a request id."""
        verdict = None
        for _attempt in range(MAX_RESUBMITS + 1):
            if job.status in (JobStatus.UNKNOWN, JobStatus.SUBMITTING) and job.sent_at is not None:
                verdict = await self._settle(job, ctx.client)
                if verdict == FOUND:
                    if job.request_id is not None:
                        await ctx.hooks.settled(job.key, job.request_id)  # others follow it now
                    return True
                if verdict == UNSETTLED and not ctx.resubmit_unknown:
                    if job.status != JobStatus.UNKNOWN:
                        self._record(
                            job,
                            JobStatus.UNKNOWN,
                            error_type="ambiguous_submit",
                            error="the submit may have reached fal and its history could not settle it",
                        )
                    return False
            payload = await self._payload(job, ctx.client)
            sent = payload.to_payload()
            await self._arecord(job, JobStatus.SUBMITTING, digest=field_digests(sent))
            if not ctx.force:  # one submission per request: the user's, the team's
                submitting = ctx.hooks.submit(
                    ctx.client,
                    job.key,
                    payload,
                    job.input.endpoint,
                    # its own earlier claim may be taken again: proven absent, or resubmitted knowingly
                    absent=verdict == ABSENT or (verdict == UNSETTLED and ctx.resubmit_unknown),
                    disable_fallbacks=ctx.disable_fallbacks,
                )
            else:
                submitting = ctx.client.submit(
                    payload, endpoint=job.input.endpoint, disable_fallbacks=ctx.disable_fallbacks
                )
            sending = asyncio.ensure_future(submitting)
            try:
                handle = await asyncio.shield(sending)
            except AmbiguousSubmit as exc:
                self._record(job, JobStatus.UNKNOWN, error_type="ambiguous_submit", error=str(exc))
                continue  # settle it through fal's history before anything is sent again
            except asyncio.CancelledError:
                await self._cancelled_mid_submit(job, sending)
                raise
            await self._arecord(
                job, JobStatus.SUBMITTED, request_id=handle.request_id, urls=handle.urls(), sent_at=job.sent_at
            )
            return True
        return False

    async def _cancelled_mid_submit(self, job: Job, sending: asyncio.Future[Any]) -> None:
        """The POST is on the wire: wait (briefly) for its answer, so that the request can be cancelled on fal
        rather than left to run and be billed; without an answer the job is ``unknown`` (resume settles it)."""
        answered = await _answer_of(sending)
        if answered is None:
            self._record(
                job,
                JobStatus.UNKNOWN,
                error_type="cancelled_mid_submit",
                error="cancelled while its submit was on the wire: it may have reached fal; resume() settles it",
            )
        else:
            urls = answered.urls()
            self._record(job, JobStatus.SUBMITTED, request_id=answered.request_id, urls=urls, sent_at=job.sent_at)

    async def _settle(self, job: Job, client: AsyncClient) -> str:
        """Whether a submit that may have reached fal did: ``found`` (attached to it), ``absent`` (proven
        not there: safe to submit) or ``unsettled`` (fal's history could not tell)."""
        assert job.sent_at is not None
        if not job.sent_digest:
            return UNSETTLED  # a journal from before digests were kept: nothing to match by
        wait = job.sent_at + history_lag(client) - now()
        if wait > 0:
            await asyncio.sleep(wait)  # fal's history may trail the queue by a moment
        claimed = {j.request_id for j in self.jobs if j.request_id and j is not job}
        try:
            items = await client.request_history(
                job.input.endpoint, start=job.sent_at - CLOCK_SKEW_SECONDS, payloads=True
            )
        except Exception as exc:  # the history is a second opinion: when it fails, leave the job unknown
            logger.warning("job %d: fal's request history could not be read (%s)", job.job, exc)
            return UNSETTLED
        request_id = match_history(items, job.sent_digest, job.sent_at, claimed)
        if request_id is None:
            logger.info("job %d: fal's history shows its earlier submit never arrived; submitting it", job.job)
            return ABSENT
        ep = EndpointId.parse(job.input.endpoint)
        urls = {
            "status_url": ep.status_url(client.queue_url, request_id),
            "response_url": ep.request_url(client.queue_url, request_id),
            "cancel_url": ep.cancel_url(client.queue_url, request_id),
        }
        await self._arecord(
            job, JobStatus.SUBMITTED, request_id=request_id, urls=urls, sent_at=job.sent_at, settled=True
        )
        logger.info("job %d: settled through fal's history as request %s (not submitted again)", job.job, request_id)
        return FOUND

    async def _follow(self, job: Job, handle: Any, release: Callable[[], None], slots: RequestSlots) -> Any:
        """Follow ``job``'s request to COMPLETED (its slot freed then) and read its result, once the freed slots
        have sent their next submits (:meth:`RequestSlots.refilled`: submits first when a wave ends together)."""
        async with contextlib.aclosing(handle.events()) as events:
            await self._follow_events(job, events, release)
        await slots.refilled()
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
