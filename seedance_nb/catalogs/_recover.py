"""Recovery: paid results that no journal holds, found in fal's request history and downloaded.

::

    found = sd.recover(since="2026-11-24")     # lists this account's requests for the endpoint
    found.recovered                            # request ids downloaded into sweeps/recovered/
    sd.load_sweep(found.run_dir).df            # a run folder like any sweep's

fal keeps queue results for an hour or less and media for days: a request whose client died
(another machine, a lost notebook, a crashed script) is paid for and then lost unless someone
asks for it. :func:`recover` lists the endpoint's requests from fal's history
(``AsyncClient.request_history``), keeps the completed ones whose request id no journal in the
catalog holds, and writes each into the ``recovered`` run folder as a sweep job: the input
(images saved under ``inputs/``), the request id and timings, the result, the downloaded video
and poster. It also warns (:class:`ExpiringMediaWarning`) about catalogued videos that have a fal
URL, no local copy, and will soon pass fal's media retention.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._names import set_public_module
from .._text import plural
from ..errors import ConfigurationError, SeedanceError
from ..runs import Journal, cache_key
from ..schema import DEFAULT_ENDPOINT, VideoInput
from ._core import Catalog, open_catalog, to_epoch

__all__ = ["ExpiringMediaWarning", "Recovery", "recover", "recover_async"]

logger = logging.getLogger("seedance_nb.catalogs")

_IMAGE_FIELDS = ("image_url", "end_image_url")
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class ExpiringMediaWarning(UserWarning):
    """Catalogued videos with no local copy whose fal URL will soon expire."""


@dataclass
class Recovery:
    """What :func:`recover` found: every listed request, what it recovered, what is about to be lost."""

    run_dir: Path
    requests: Any  # DataFrame: request_id, status_code, sent_at, ended_at, in_journal, recovered
    recovered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    expiring: Any = None  # DataFrame of catalog rows (plus expires_at)

    def __repr__(self) -> str:
        return (
            f"<Recovery {plural(len(self.requests), 'request')} listed, {len(self.recovered)} recovered into "
            f"{self.run_dir}, {len(self.failed)} failed, "
            f"{0 if self.expiring is None else len(self.expiring)} expiring without a local copy>"
        )


def _time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _decode_data_uri(uri: str) -> tuple[bytes, str] | None:
    head, _, data = uri.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        return None
    try:
        return base64.b64decode(data, validate=False), head[5:].split(";", 1)[0]
    except (binascii.Error, ValueError):
        return None


def _video_of(output: Any) -> dict[str, Any] | None:
    if isinstance(output, dict) and isinstance(output.get("video"), dict) and output["video"].get("url"):
        video: dict[str, Any] = output["video"]
        return video
    return None


class _RecoveredFolder:
    """The ``recovered`` run folder: a journal like a sweep's, appended to on every recovery."""

    def __init__(self, run_dir: Path, endpoint: str, backend: str | None) -> None:
        self.run_dir = run_dir
        path = run_dir / "journal.jsonl"
        events = Journal.read(path)
        self.next_job = 1 + max((e["job"] for e in events if e.get("event") == "planned"), default=-1)
        self.journal = Journal(path)
        if not events:
            meta: dict[str, Any] = {
                "name": run_dir.name,
                "endpoint": endpoint,
                "backend": backend,
                "jobs": 0,
                "axes": {},
                "fixed": {},
                "takes": 1,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "recovered": True,
            }
            (run_dir / "sweep.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
            self.journal.append({"event": "sweep", "at": time.time(), **meta})

    def plan(self, item: dict[str, Any], endpoint: str) -> tuple[int, dict[str, Any], str]:
        """Journal the request as a planned + submitted + started + result job; returns (job, video, key)."""
        from ..files import load_image

        source = dict(item.get("json_input") or {})
        payload = dict(source)
        hashes: dict[str, str] = {}
        labels: dict[str, str] = {}
        size = None
        for name in _IMAGE_FIELDS:
            value = source.get(name)
            if not isinstance(value, str):
                continue
            decoded = _decode_data_uri(value) if value.startswith("data:") else None
            if decoded is not None:
                data, mime = decoded
                digest = hashlib.sha256(data).hexdigest()
                target = self.run_dir / "inputs" / f"{digest}.{_EXT.get(mime, 'bin')}"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                label = f"{item['request_id'][:8]}-{name.removesuffix('_url')}.{_EXT.get(mime, 'bin')}"
                payload[name] = {"$file": f"inputs/{target.name}", "mime": mime, "name": label}
                hashes[name], labels[name] = digest, label
                if name == "image_url":
                    try:
                        image = load_image(data, field=name)
                        size = (image.width, image.height)
                    except SeedanceError:
                        size = None
            else:
                hashes[name] = hashlib.sha256(value.encode()).hexdigest()
                labels[name] = value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or value[:60]
        inp = VideoInput.from_payload(source, endpoint)
        key = cache_key(endpoint, inp, hashes, 1)
        job = self.next_job
        self.next_job += 1
        sent, started, ended = (_time(item.get(k)) for k in ("sent_at", "started_at", "ended_at"))
        now = time.time()
        output = item["json_output"]
        events = [
            {
                "event": "planned",
                "at": sent or now,
                "job": job,
                "take": 1,
                "key": key,
                "payload": payload,
                "labels": labels,
                "images": hashes,
                "est_cost_usd": round(inp.estimate(size).usd, 6),
                "recovered": True,
            },
            {"event": "submitted", "at": sent or now, "job": job, "request_id": item["request_id"]},
            {"event": "started", "at": started or sent or now, "job": job},
            {"event": "result", "at": ended or now, "job": job, "output": output, "completed_at": ended or now},
        ]
        self.journal.extend(events)
        return job, output["video"], key

    def close(self) -> None:
        self.journal.close()


async def recover_async(
    since: Any = None,
    *,
    client: Any = None,
    catalog: Catalog | None = None,
    endpoint: str = DEFAULT_ENDPOINT,
    run_dir: str | Path | None = None,
    download: bool = True,
    warn_within_days: float = 2.0,
) -> Recovery:
    """:func:`recover` for a running loop (``await sd.recover_async(...)`` in a notebook cell)."""
    import pandas as pd

    if client is None:
        from ..backends import connect

        refuse_without_key("client=sd.connect('emulator')")
        client = connect(quiet=True)
    cat = catalog or open_catalog()
    start = to_epoch(since, "since")
    start = time.time() - 86400 if start is None else start
    await _to_thread(cat.refresh)
    items = await client.request_history(endpoint, start=start, payloads=True)
    known = await _to_thread(cat.known_request_ids)
    folder_path = Path(run_dir) if run_dir is not None else cat.root / "recovered"
    listing, todo = _listing(items, known)
    result = Recovery(run_dir=folder_path.resolve(), requests=None)
    if todo:
        folder = _RecoveredFolder(folder_path, endpoint, getattr(client, "backend", None))
        try:
            for item in sorted(todo, key=lambda i: str(i.get("sent_at") or "")):
                await _recover_one(item, client, folder, endpoint, download, result)
        finally:
            folder.close()
        await _to_thread(cat.index_run, folder_path)
    recovered = set(result.recovered)
    for row in listing:
        row["recovered"] = row["request_id"] in recovered
    result.requests = pd.DataFrame(
        listing, columns=["request_id", "status_code", "sent_at", "ended_at", "in_journal", "recovered"]
    )
    result.expiring = await _to_thread(lambda: cat.expiring(within_days=warn_within_days))
    if len(result.expiring):
        warnings.warn(
            f"{plural(len(result.expiring), 'catalogued video')} with no local copy, and fal's URL expiring within "
            f"{warn_within_days:g} days (first: {result.expiring['expires_at'].min():%Y-%m-%d %H:%M} UTC); "
            "download them now (Recovery.expiring lists them)",
            ExpiringMediaWarning,
            stacklevel=2,
        )
    if result.recovered:
        logger.info("recovered %s into %s", plural(len(result.recovered), "request"), folder_path)
    return result


def _listing(items: list[dict[str, Any]], known: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """fal's history as rows (``recovered`` filled in later), and the successful requests the catalog lacks."""
    listing = []
    todo = []
    for item in items:
        rid = item.get("request_id")
        if not isinstance(rid, str):
            continue
        listing.append(
            {
                "request_id": rid,
                "status_code": item.get("status_code"),
                "sent_at": item.get("sent_at"),
                "ended_at": item.get("ended_at"),
                "in_journal": rid in known,
                "recovered": False,
            }
        )
        if rid not in known and item.get("status_code") == 200 and _video_of(item.get("json_output")):
            todo.append(item)
    return listing, todo


async def _recover_one(
    item: dict[str, Any], client: Any, folder: _RecoveredFolder, endpoint: str, download: bool, result: Recovery
) -> None:
    """Journal one request fal has and the catalog lacks, then (with ``download``) fetch its video and poster."""
    from ..media import poster, probe

    rid = item["request_id"]
    try:
        job, video, key = folder.plan(item, endpoint)
    except SeedanceError as exc:  # an input this version cannot read back: list it, keep going
        result.failed[rid] = str(exc)
        return
    result.recovered.append(rid)
    if not download:
        return
    stem = f"{job:03d}-{key[:8]}"
    rel_video, rel_poster = Path("videos") / f"{stem}.mp4", Path("posters") / f"{stem}.jpg"
    try:
        path = await client.download(video["url"], folder.run_dir / rel_video, expected_size=video.get("file_size"))
        info = await _to_thread(probe, path)
        await _to_thread(poster, path, folder.run_dir / rel_poster)
    except SeedanceError as exc:
        # Journalled with its result: a later recover() or resume() can still fetch it.
        result.failed[rid] = f"listed and journalled, but the video did not download: {exc}"
        return
    folder.journal.append(
        {
            "event": "downloaded",
            "at": time.time(),
            "job": job,
            "path": str(rel_video),
            "poster": str(rel_poster),
            "info": info.to_json(),
        }
    )


def refuse_without_key(emulator: str) -> None:
    """Without an API key there is no fal history to read: say so (``ConfigurationError``) rather than read
    the embedded emulator's and report "0 request(s) in fal's history". ``emulator``: how to ask the emulator."""
    from ..keys import resolve_key

    if not resolve_key(None):
        raise ConfigurationError(
            "fal was not asked: no FAL_KEY is set, so there is no fal request history to read (nothing was "
            "recovered). Set FAL_KEY to the 'key_id:key_secret' from fal.ai/dashboard/keys and run again, or "
            f"pass {emulator} to recover from the embedded emulator."
        )


def recover(since: Any = None, *, client: Any = None, **kwargs: Any) -> Recovery:
    """Find completed requests of this account that no journal holds and download them into
    ``<sweeps root>/recovered`` (see the module docstring). ``since``: an ISO date or datetime,
    a ``timedelta`` ago, or epoch seconds (default: 24 hours ago, as fal's history)."""
    from ._sync_helpers import run_with_client

    if client is None:
        refuse_without_key("client=sd.connect('emulator')")
    return run_with_client(client, lambda c: recover_async(since, client=c, **kwargs))


async def _to_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


set_public_module(__name__)
