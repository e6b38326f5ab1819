"""The runner's hooks: the few calls a run makes to whatever plugs into it (the core names no wing).

A wing that must act during a run (the catalog's claims before a submit, metrics after a download) subclasses
:class:`RunnerHooks` and overrides the calls it needs; every default does nothing (``submit`` just submits).
The top floor (:class:`seedance_nb.sweep.Sweep`) decides which hooks a run gets; the runner holds one
:class:`HookChain` per run and calls it at these points::

    await hooks.before_run(estimate_high_usd, label)       # a cap may refuse (BudgetExceeded, nothing sent)
    hit = await hooks.lookup(key)                          # a video someone else completed, or None
    info = await hooks.fetch(client, hit, video, poster)   # bring it into this run folder
    handle = await hooks.submit(client, key, payload, endpoint, absent=..., disable_fallbacks=...)
    await hooks.settled(key, request_id)                   # an ambiguous submit found in fal's history
    await hooks.completed(key, output) / hooks.failed(key)
    await hooks.after_download(run, job, path)             # must return quickly: queue slow work
    await hooks.after_run()                                # flush, index, release (also after a failure)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["HookChain", "RunnerHooks"]


class RunnerHooks:
    """What a run calls at its few points; subclass and override. Every default does nothing.

    ``following`` holds the cache keys of requests another process submitted and this run only follows
    (the runner never cancels those on fal).
    """

    following: set[str] = frozenset()  # type: ignore[assignment]  # a subclass keeps its own set

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        """Before anything is sent: may refuse the run by raising (nothing sent).

        Args:
            estimate_usd: the high end of the run's estimate, in dollars.
            label: the run's name.
        """

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """A finished video of this request made elsewhere, or None.

        Args:
            key: the job's cache key.
        """
        return None

    async def fetch(self, client: Any, hit: dict[str, Any], video: Path, poster: Path) -> dict[str, Any] | None:
        """Bring ``hit`` (from :meth:`lookup`) into the run folder; a cache entry, or None when it cannot.

        Args:
            client: the run's client.
            hit: what :meth:`lookup` returned.
            video: where the video goes.
            poster: where its poster goes.
        """
        return None

    async def submit(
        self, client: Any, key: str, payload: Any, endpoint: str, *, absent: bool, disable_fallbacks: bool
    ) -> Any:
        """Submit ``payload`` and return its handle (the default sends it).

        Args:
            client: the run's client.
            key: the job's cache key.
            payload: the input as it will be sent.
            endpoint: the endpoint id.
            absent: this job's earlier submit was proven absent (or is resubmitted knowingly).
            disable_fallbacks: ask fal not to reroute the request.
        """
        return await client.submit(payload, endpoint=endpoint, disable_fallbacks=disable_fallbacks)

    async def settled(self, key: str, request_id: str) -> None:
        """An ambiguous submit was found in fal's history as ``request_id``.

        Args:
            key: the job's cache key.
            request_id: the request it is.
        """

    async def completed(self, key: str, output: dict[str, Any]) -> None:
        """The request completed with ``output``.

        Args:
            key: the job's cache key.
            output: the result's JSON.
        """

    async def failed(self, key: str) -> None:
        """The job failed or was cancelled (its request may be submitted again).

        Args:
            key: the job's cache key.
        """

    async def awaiting_video(self, job: Any) -> None:
        """``job`` has a request on fal whose video this run will download: get ready for it now (the metrics
        hook starts its worker process here, so that the worker's imports overlap the generation). Called once
        per job that is submitted or re-attached with downloading on; never for a job served from a cache.

        Args:
            job: the job.
        """

    async def after_download(self, run: Any, job: Any, path: Path) -> None:
        """A video was downloaded and probed. Must return quickly: queue slow work, never run it here.

        Args:
            run: the run object (:class:`seedance_nb.runner.Run`).
            job: the job.
            path: the video's file.
        """

    async def after_run(self) -> None:
        """The run is over (also after a failure or a cancel): flush, index, release."""


class HookChain(RunnerHooks):
    """Several hooks as one: each call goes to every hook in order. ``lookup`` answers with the first hook that
    has a video (and ``fetch`` asks that one); ``submit`` goes to the first hook that overrides it.

    Args:
        hooks: the hooks, in order.
    """

    def __init__(self, hooks: Sequence[RunnerHooks] = ()) -> None:
        self.hooks = list(hooks)
        #: ``before_run`` has run (a run started with hooks that already checked the cap does not check twice).
        self.began = False
        self._found: dict[int, RunnerHooks] = {}

    @property
    def following(self) -> set[str]:  # type: ignore[override]
        """The union of every hook's ``following``."""
        return set().union(*(hook.following for hook in self.hooks))

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        """Every hook's ``before_run``; when one refuses, the ones before it are closed again.

        Args:
            estimate_usd: the high end of the run's estimate, in dollars.
            label: the run's name.
        """
        done: list[RunnerHooks] = []
        try:
            for hook in self.hooks:
                await hook.before_run(estimate_usd, label)
                done.append(hook)
        except BaseException:
            for hook in done:
                await hook.after_run()
            raise
        self.began = True

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """The first hook's video for ``key``.

        Args:
            key: the job's cache key.
        """
        for hook in self.hooks:
            hit = await hook.lookup(key)
            if hit is not None:
                self._found[id(hit)] = hook
                return hit
        return None

    async def fetch(self, client: Any, hit: dict[str, Any], video: Path, poster: Path) -> dict[str, Any] | None:
        """Fetch through the hook whose :meth:`lookup` found ``hit``.

        Args:
            client: the run's client.
            hit: what :meth:`lookup` returned.
            video: where the video goes.
            poster: where its poster goes.
        """
        hook = self._found.pop(id(hit), None)
        return None if hook is None else await hook.fetch(client, hit, video, poster)

    async def submit(
        self, client: Any, key: str, payload: Any, endpoint: str, *, absent: bool, disable_fallbacks: bool
    ) -> Any:
        """Submit through the first hook that overrides ``submit`` (else send it).

        Args:
            client: the run's client.
            key: the job's cache key.
            payload: the input as it will be sent.
            endpoint: the endpoint id.
            absent: this job's earlier submit was proven absent (or is resubmitted knowingly).
            disable_fallbacks: ask fal not to reroute the request.
        """
        owner = next((h for h in self.hooks if type(h).submit is not RunnerHooks.submit), RunnerHooks())
        return await owner.submit(client, key, payload, endpoint, absent=absent, disable_fallbacks=disable_fallbacks)

    async def settled(self, key: str, request_id: str) -> None:
        """Every hook's ``settled``.

        Args:
            key: the job's cache key.
            request_id: the request it is.
        """
        for hook in self.hooks:
            await hook.settled(key, request_id)

    async def completed(self, key: str, output: dict[str, Any]) -> None:
        """Every hook's ``completed``.

        Args:
            key: the job's cache key.
            output: the result's JSON.
        """
        for hook in self.hooks:
            await hook.completed(key, output)

    async def failed(self, key: str) -> None:
        """Every hook's ``failed``.

        Args:
            key: the job's cache key.
        """
        for hook in self.hooks:
            await hook.failed(key)

    async def awaiting_video(self, job: Any) -> None:
        """Every hook's ``awaiting_video``.

        Args:
            job: the job.
        """
        for hook in self.hooks:
            await hook.awaiting_video(job)

    async def after_download(self, run: Any, job: Any, path: Path) -> None:
        """Every hook's ``after_download``.

        Args:
            run: the run object.
            job: the job.
            path: the video's file.
        """
        for hook in self.hooks:
            await hook.after_download(run, job, path)

    async def after_run(self) -> None:
        """Every hook's ``after_run`` (each one runs even when an earlier one fails; the first error is raised)."""
        error: BaseException | None = None
        for hook in self.hooks:
            try:
                await hook.after_run()
            except Exception as exc:
                error = error or exc
        self.began = False
        if error is not None:
            raise error
