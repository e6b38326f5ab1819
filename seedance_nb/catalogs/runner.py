"""What the sweep runner asks the catalog: the cap before a run, the team cache, one submission per request.

The runner (:mod:`seedance_nb.runner`) names no wing: :class:`RunHooks` implements the core's hook interface
(:class:`seedance_nb.hooks.RunnerHooks`), and the top floor (:class:`seedance_nb.sweep.Sweep`) plugs one
into every run; the runner calls it at a few points.
One submission per request holds for every run: across the user's own processes and run folders through
the per-user claim store (``$SEEDANCE_HOME/cache.sqlite``, :func:`~seedance_nb.catalogs._claims.user_claims`),
across a team through a configured catalog (``catalog=`` or ``SEEDANCE_CATALOG_URL``), which also gives the
team cache. A run folder merely under the sweeps root gets the cap and the index of the local catalog::

    hooks = RunHooks.for_run(run_dir, catalog)           # catalog=False: no catalog, the user's claims only
    await hooks.before_run(estimate_high_usd, label)     # BudgetExceeded (nothing sent) or a reservation
    hit = await hooks.lookup(key)                        # a video completed by anyone sharing the catalog
    info = await hooks.fetch(client, hit, video, poster) # copy it (or download it from fal's URL) here
    handle = await hooks.submit(client, key, payload, endpoint)  # submit once across processes
    await hooks.settled(key, request_id)                 # an ambiguous submit found in fal's history
    await hooks.completed(key, output) / hooks.failed(key)
    await hooks.after_run()                              # index the run, release the reservation

A team catalog that goes down mid-run (:class:`~seedance_nb.catalogs._store.CatalogUnavailable`) stops no
job: claims fall back to the user's own store (the user's processes still pay once; a team member may pay
for the same request again, and a warning says so), and what the team catalog missed is written to it
when it answers again (checked every few seconds, and at the end of the run).

Every call runs the (blocking) database work in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .._text import plural
from ..hooks import RunnerHooks
from ._claims import ClaimStore, user_claims
from ._core import Catalog, open_catalog, sweeps_root
from ._store import CatalogUnavailable, shown_url

__all__ = ["RunHooks"]

logger = logging.getLogger("seedance_nb.catalogs")

#: While the team catalog is down, whether it answers again is tried this often (a connect attempt).
RETRY_SECONDS = 5.0


class RunHooks(RunnerHooks):
    """One run's link to the claims (the user's own, and a team catalog's when configured) and the catalog
    (cap, index, team cache). Built by :meth:`for_run`; every method is safe to call whatever applies."""

    def __init__(
        self, catalog: Catalog | None, run_dir: Path, *, team: bool = True, mine: ClaimStore | None = None
    ) -> None:
        self.catalog = catalog
        self.run_dir = Path(run_dir)
        #: The team features (the cache through the catalog, one submission per request across the team):
        #: on when a catalog is configured (``catalog=`` or ``SEEDANCE_CATALOG_URL``). A run folder that is
        #: merely under the sweeps root gets the cap and the index only.
        self.team = team and catalog is not None
        #: The user's own claims: every run's, and the team's stand-in while the team catalog is down.
        self.mine = mine if mine is not None else user_claims()
        self.reservation: int | None = None
        #: An emulated run: checked against the cap (a rehearsal refuses as fal's run would be), never reserving.
        self.emulated = False
        #: Cache keys of requests another process submitted and this run only follows.
        self.following: set[str] = set()
        #: Claim records the team catalog missed while down (``key -> values``), written when it is back.
        self.pending: dict[str, dict[str, Any]] = {}
        self._down_since: float | None = None
        self._next_try = 0.0
        self._reconciling = asyncio.Lock()

    @classmethod
    def for_run(
        cls,
        run_dir: str | os.PathLike[str],
        catalog: Catalog | RunHooks | bool | None = None,
        *,
        backend: str | None = None,
    ) -> RunHooks:
        """The hooks for a run folder: all of them with ``catalog`` (a :class:`Catalog`, or True for the
        default one) or when ``SEEDANCE_CATALOG_URL`` is set; the cap and the index when the run folder is
        merely under the sweeps root; the user's own claims only otherwise (and with ``catalog=False``).
        Hooks given as ``catalog`` are returned as they are (``run_sweep_async`` reserves under the cap
        before the run folder exists, then runs with those hooks). ``backend="emulator"``: the run is
        checked against the cap but reserves nothing (emulated jobs are never money)."""
        if isinstance(catalog, RunHooks):
            return catalog
        resolved = Path(run_dir).resolve()
        if catalog is False:
            hooks = cls(None, resolved, team=False)
        elif isinstance(catalog, Catalog):
            hooks = cls(catalog, Path(run_dir))
        elif catalog is True or os.environ.get("SEEDANCE_CATALOG_URL"):
            hooks = cls(open_catalog(), resolved)
        elif resolved.is_relative_to(sweeps_root(None)):
            hooks = cls(open_catalog(), resolved, team=False)
        else:
            hooks = cls(None, resolved, team=False)
        hooks.emulated = backend == "emulator"
        return hooks

    # ------------------------------------------------------------------ the team catalog down and back

    def _went_down(self, exc: CatalogUnavailable) -> None:
        if self._down_since is None:
            logger.warning(
                "%s. This run goes on: its claims fall back to your own store (your processes still submit each "
                "request once; a team member may pay for the same request again) and are written to the team "
                "catalog when it answers again.",
                str(exc).split(". Nothing was sent")[0],
            )
            self._down_since = time.monotonic()
        self._next_try = time.monotonic() + RETRY_SECONDS

    async def _team_up(self) -> bool:
        """Whether the team's claims can be used now; while down, tries every :data:`RETRY_SECONDS` to
        write what it missed (and is up again when that works)."""
        if not self.team:
            return False
        if self._down_since is None:
            return True
        if time.monotonic() < self._next_try or self._reconciling.locked():
            return False
        return await self.reconcile()

    def _miss(self, key: str, **values: Any) -> None:
        """Remember a claim record the team catalog did not get (merged with what it missed before)."""
        self.pending[key] = {**self.pending.get(key, {}), **{k: v for k, v in values.items() if v is not None}}
        self.pending[key]["state"] = values["state"]

    def _collect_unsynced(self) -> None:
        assert self.catalog is not None
        for key in list(self.catalog.unsynced):
            self._miss(key, **self.catalog.unsynced.pop(key))

    async def reconcile(self) -> bool:
        """Write the claim records the team catalog missed; True when it answered (nothing left to write)."""
        if not self.team:
            return True
        assert self.catalog is not None
        async with self._reconciling:  # one at a time: an older record is never written after a newer one
            self._collect_unsynced()
            snapshot = list(self.pending.items())
            written, answered = await asyncio.to_thread(self._write_missed, snapshot)
        for key, values in snapshot[:written]:
            if self.pending.get(key) is values:
                del self.pending[key]
        if not answered:
            self._next_try = time.monotonic() + RETRY_SECONDS
            return False
        if self._down_since is not None:
            logger.warning("the team catalog answers again: %s written to it", plural(written, "claim record"))
            self._down_since = None
        return True

    def _write_missed(self, items: list[tuple[str, dict[str, Any]]]) -> tuple[int, bool]:
        assert self.catalog is not None
        written = 0
        try:
            if not items:
                self.catalog.claim_state("")  # a probe
            for key, values in items:
                if values["state"] == "completed" and not values.get("request_id"):
                    self.catalog.claim_completed(key, values.get("output") or {})
                else:
                    self.catalog.record(key, values)
                written += 1
        except CatalogUnavailable:
            return written, False
        return written, True

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        """Refuse (``BudgetExceeded``) or reserve under the catalog's cap; a team catalog that cannot be
        reached raises :class:`CatalogUnavailable` (nothing was sent)."""
        if self.catalog is not None:
            check = self.catalog.check_cap
            self.reservation = await asyncio.to_thread(check, estimate_usd, label=label, reserve=not self.emulated)

    async def after_run(self) -> None:
        """Write what the team catalog missed, index the run, release its reservation. A catalog that is
        down is said (the journal stays the record; the next catalog query indexes the run)."""
        if self.catalog is None:
            return
        reservation, self.reservation = self.reservation, None
        try:
            await self.reconcile()
            if (self.run_dir / "journal.jsonl").exists():
                await asyncio.to_thread(self.catalog.index_run, self.run_dir)
            await asyncio.to_thread(self.catalog.release_reservation, reservation)
        except CatalogUnavailable as exc:
            logger.warning(
                "%s. The run is complete in its journal: the next catalog query indexes it%s%s.",
                str(exc).split(". Nothing was sent")[0],
                f"; {plural(len(self.pending), 'claim record')} could not be written to it" if self.pending else "",
                "; its cap reservation lapses within 12 hours" if reservation is not None else "",
            )

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """A video of ``key`` completed by anyone sharing the team catalog, or None.

        Args:
            key: the request's cache key.
        """
        if self.catalog is None or not await self._team_up():
            return None
        try:
            return await asyncio.to_thread(self.catalog.lookup, key)
        except CatalogUnavailable as exc:
            self._went_down(exc)
            return None

    async def fetch(self, client: Any, hit: dict[str, Any], video: Path, poster: Path) -> dict[str, Any] | None:
        """Put the catalogued video into this run folder (a copy of a local file, else a download from fal's
        URL while it lives). Returns the hit with ``path``/``poster``/``info`` of the copy, or None when the
        video cannot be had any more (the runner then submits as usual)."""
        from ..errors import SeedanceError
        from ..media import poster as make_poster
        from ..media import probe

        video.parent.mkdir(parents=True, exist_ok=True)
        try:
            if hit.get("local") and hit.get("path"):
                await asyncio.to_thread(shutil.copyfile, hit["path"], video)
            elif hit.get("video_url"):
                await client.download(hit["video_url"], video, expected_size=(hit.get("info") or {}).get("size_bytes"))
            else:
                return None
            info = await asyncio.to_thread(probe, video)
            await asyncio.to_thread(make_poster, video, poster)
        except (OSError, SeedanceError):
            video.unlink(missing_ok=True)
            return None
        return {**hit, "path": str(video), "poster": str(poster), "info": info.to_json()}

    async def submit(
        self, client: Any, key: str, payload: Any, endpoint: str, *, absent: bool = False, **submit_kw: Any
    ) -> Any:
        """Submit once across everyone sharing the claims (the team's, else the user's own); returns the
        request's handle. A request another process submitted is followed by id, and its key is kept in
        :attr:`following` (never cancel it). ``absent``: this job's earlier ambiguous submit was proven
        absent from fal's history (its own ``unknown`` claim may be taken again)."""
        kw = {"endpoint": endpoint, "absent": absent, **submit_kw}
        if await self._team_up():
            assert self.catalog is not None
            try:
                handle, mine = await self.catalog.submit_once(client, key, payload, **kw)
            except CatalogUnavailable as exc:  # raised before anything was sent
                self._went_down(exc)
            else:
                if self.catalog.unsynced:  # it went down after the POST: the answer is kept, written later
                    self._collect_unsynced()
                    self._went_down(CatalogUnavailable(shown_url(self.catalog.engine), "a claim could not be written"))
                values = {"state": "submitted", "request_id": handle.request_id, "endpoint": endpoint}
                await self._mine(self.mine.record, key, values)  # the user's store knows it too
                return self._followed(key, handle, mine)
        handle, mine = await self.mine.submit_once(client, key, payload, **kw)
        if self.team and mine:
            self._miss(key, state="submitted", request_id=handle.request_id, endpoint=endpoint, owner=self.mine.owner)
        return self._followed(key, handle, mine)

    def _followed(self, key: str, handle: Any, mine: bool) -> Any:
        if not mine:
            self.following.add(key)
        return handle

    async def _mine(self, write: Any, *args: Any, **kw: Any) -> None:
        """A write to the user's own claims beside the team's: a mirror, never a reason to stop a job."""
        try:
            await asyncio.to_thread(write, *args, **kw)
        except Exception as exc:  # a local SQLite file: a full disk, a locked file
            logger.warning("the per-user claim store could not be written (%s)", exc)

    async def _team(self, key: str, write: Any, *args: Any, missed: dict[str, Any], **kw: Any) -> None:
        """A write to the team's claims; remembered for later when the team catalog is down."""
        if not self.team:
            return
        assert self.catalog is not None
        if await self._team_up():
            try:
                await asyncio.to_thread(write, key, *args, **kw)
                return
            except CatalogUnavailable as exc:
                self._went_down(exc)
        self._miss(key, **missed)

    async def settled(self, key: str, request_id: str) -> None:
        """An ambiguous submit was found in fal's history: the claim now names its request id.

        Args:
            key: the request's cache key.
            request_id: fal's id of the request found.
        """
        await self._mine(self.mine.claim_submitted, key, request_id, settled=True)
        if self.catalog is not None:
            write = self.catalog.claim_submitted
            await self._team(
                key, write, request_id, settled=True, missed={"state": "submitted", "request_id": request_id}
            )

    async def completed(self, key: str, output: dict[str, Any]) -> None:
        """The request finished: its output serves everyone sharing the claims.

        Args:
            key: the request's cache key.
            output: fal's output (video URL, seed).
        """
        await self._mine(self.mine.claim_completed, key, output)
        if self.catalog is not None:
            await self._team(key, self.catalog.claim_completed, output, missed={"state": "completed", "output": output})

    async def failed(self, key: str) -> None:
        """The request failed or was cancelled: the next run (anyone's) may submit it again.

        Args:
            key: the request's cache key.
        """
        await self._mine(self.mine.release, key, force=True)
        if self.catalog is not None:
            missed = {"state": "released", "owner": self.catalog.owner}
            await self._team(key, self.catalog.release, force=True, missed=missed)
