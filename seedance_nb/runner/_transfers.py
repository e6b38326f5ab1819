"""Moving bytes for a run: input images uploaded once and shared, videos downloaded, probed and cached."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client import AsyncClient
from ..files import DATA_URI_LIMIT, ImageData
from ..media import PosterError, probe_with_poster
from ..runs import Job
from ..schema import VideoInput
from ._budget import SHARED_UPLOAD_MIN, _digest

if TYPE_CHECKING:
    from ._jobs import RunContext

logger = logging.getLogger("seedance_nb.sweep")


class Transfers:
    """The run's uploads and downloads (a part of :class:`seedance_nb.runner.Run`)."""

    run_dir: Path
    _uploads: dict[str, asyncio.Future[str]]
    _image_uses: Counter[str]

    if TYPE_CHECKING:

        async def _arecord(self, job: Job, event: str, **fields: Any) -> None: ...

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

    async def _download(self, job: Job, ctx: RunContext) -> None:
        if not ctx.download:
            await self._arecord(job, "completed_no_download")
            return
        stem = f"{job.job:03d}-{job.key[:8]}"
        rel_video = Path("videos") / f"{stem}.mp4"
        rel_poster = Path("posters") / f"{stem}.jpg"
        assert job.video_url is not None
        path = await ctx.client.download(job.video_url, self.run_dir / rel_video, expected_size=job.file_size)
        try:  # one thread hop, the file opened once
            info = await asyncio.to_thread(probe_with_poster, path, self.run_dir / rel_poster)
        except PosterError:
            raise  # a readable video whose first frame could not be drawn: kept, as it was paid for
        except Exception:
            path.unlink(missing_ok=True)  # never leave a file that looks like a video but is not one
            raise
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
        await ctx.hooks.after_download(self, job, path)  # metrics, when plugged in: queued, never waited on here
