"""What the sweep runner asks the catalog: the cap before a run, the team cache, one submission per request.

The runner (:mod:`seedance_nb.sweep`) holds one :class:`RunHooks` per run, or None when no catalog applies
(a run folder outside the sweeps root, with no ``SEEDANCE_CATALOG_URL`` and no ``catalog=`` given), and
calls it at a few points (a run folder merely under the sweeps root gets the cap and the index; the team
cache and the claims need a configured catalog)::

    hooks = RunHooks.for_run(run_dir, catalog)           # None: the runner behaves as without a catalog
    await hooks.before_run(estimate_high_usd, label)     # BudgetExceeded (nothing sent) or a reservation
    hit = await hooks.lookup(key)                        # a video completed by anyone sharing the catalog
    info = await hooks.fetch(client, hit, video, poster) # copy it (or download it from fal's URL) here
    handle = await hooks.submit(client, key, payload, endpoint)  # submit once across processes
    await hooks.settled(key, request_id)                 # an ambiguous submit found in fal's history
    await hooks.completed(key, output) / hooks.failed(key)
    await hooks.after_run()                              # index the run, release the reservation

Every call runs the (blocking) database work in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from ._core import Catalog, _root, open_catalog

__all__ = ["RunHooks"]


class RunHooks:
    def __init__(self, catalog: Catalog, run_dir: Path, *, team: bool = True) -> None:
        self.catalog = catalog
        self.run_dir = Path(run_dir)
        #: The team features (the cache through the catalog, one submission per request across processes):
        #: on when a catalog is configured (``catalog=`` or ``SEEDANCE_CATALOG_URL``). A run folder that is
        #: merely under the sweeps root gets the cap and the index only; the per-user cache covers one person.
        self.team = team
        self.reservation: int | None = None
        #: Cache keys of requests another process submitted and this run only follows.
        self.following: set[str] = set()

    @classmethod
    def for_run(
        cls, run_dir: str | os.PathLike[str], catalog: Catalog | RunHooks | bool | None = None
    ) -> RunHooks | None:
        """The hooks for a run folder: all of them with ``catalog`` (a :class:`Catalog`, or True for the
        default one) or when ``SEEDANCE_CATALOG_URL`` is set; the cap and the index only when the run folder
        is merely under the sweeps root; None otherwise (and with ``catalog=False``). Hooks given as
        ``catalog`` are returned as they are (``run_sweep_async`` reserves under the cap before the run
        folder exists, then runs with those hooks)."""
        if isinstance(catalog, RunHooks):
            return catalog
        if catalog is False:
            return None
        if isinstance(catalog, Catalog):
            return cls(catalog, Path(run_dir))
        resolved = Path(run_dir).resolve()
        if catalog is True or os.environ.get("SEEDANCE_CATALOG_URL"):
            return cls(open_catalog(), resolved)
        if resolved.is_relative_to(_root(None)):
            return cls(open_catalog(), resolved, team=False)
        return None

    async def before_run(self, estimate_usd: float, label: str | None = None) -> None:
        self.reservation = await asyncio.to_thread(self.catalog.check_cap, estimate_usd, label=label)

    async def after_run(self) -> None:
        try:
            if (self.run_dir / "journal.jsonl").exists():
                await asyncio.to_thread(self.catalog.index_run, self.run_dir)
        finally:
            reservation, self.reservation = self.reservation, None
            await asyncio.to_thread(self.catalog.release_reservation, reservation)

    async def lookup(self, key: str) -> dict[str, Any] | None:
        if not self.team:
            return None
        return await asyncio.to_thread(self.catalog.lookup, key)

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

    async def submit(self, client: Any, key: str, payload: Any, endpoint: str, **submit_kw: Any) -> Any:
        """Submit once across everyone sharing the catalog; returns the request's handle. A request another
        process submitted is followed by id, and its key is kept in :attr:`following` (never cancel it)."""
        if not self.team:
            return await client.submit(payload, endpoint=endpoint, **submit_kw)
        handle, mine = await self.catalog.submit_once(client, key, payload, endpoint=endpoint, **submit_kw)
        if not mine:
            self.following.add(key)
        return handle

    async def settled(self, key: str, request_id: str) -> None:
        """An ambiguous submit was found in fal's history: the claim now names its request id."""
        if self.team:
            await asyncio.to_thread(self.catalog.claim_submitted, key, request_id)

    async def completed(self, key: str, output: dict[str, Any]) -> None:
        if self.team:
            await asyncio.to_thread(self.catalog.claim_completed, key, output)

    async def failed(self, key: str) -> None:
        """The request failed or was cancelled: the next run (anyone's) may submit it again."""
        if self.team:
            await asyncio.to_thread(self.catalog.release, key, force=True)
