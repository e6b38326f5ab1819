"""Replaying a cassette: the emulator's queue answers the recorded answers (``seedance-nb emulator --replay FILE``).

A cassette (:mod:`seedance_nb.cassette_format`) holds a fal session: submits, status polls and streams, results,
cancels. In replay the ``/queue`` routes answer from it instead of the engine; everything else (storage, the
CDN, the sync route, the request history, OpenAPI) stays the live emulator's.

- **Matching.** A submit (``POST /queue/<endpoint>``) takes the next recorded job of the same endpoint (submit
  order; when all are used they are handed out again from the first). It gets a fresh request id, and every
  recorded string is rewritten for it: the recorded id becomes the new one, ``<queue>``/``<cdn>``/``<rest>``/
  ``<api>`` become this emulator's hosts. Later requests about that id are matched by method and route (status,
  status stream, result, cancel), each route answering its recorded exchanges in order (the last one again
  once they run out).
- **Timings.** A status poll moves to the next recorded answer only once that answer's recorded time since the
  submit, times ``speed``, has passed (``--speed 0``: every poll moves on, so the status sequence is the
  recorded one at any polling rate). A status stream replays its recorded events (or the polls' answers when
  only polls were recorded), paced the same way.
- **Outputs.** A video in a recorded result is replaced by a stand-in rendered here (the recorded width, height
  and duration; padded with an MP4 ``free`` box to the recorded ``file_size``), served from this emulator's CDN;
  every other value of the result is the recorded one.

::

    with serve(replay="tests/cassettes/seedance-480p-4s.cassette.json", speed=0) as emu:
        ...   # fal-client, @fal-ai/client or seedance-nb's client, pointed at emu.queue_url
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..cassette_format import Job, jobs, load, stream_events
from .gateway import Gateway, reply
from .render import render_mp4

__all__ = ["Replay", "ReplayRoutes", "stand_in_size"]

#: Recorded response headers not replayed (the server's own, or about a body that is rebuilt here).
_DROPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "date", "server", "connection"}


def stand_in_size(job: Job) -> tuple[int, int, int]:
    """The (width, height, seconds) of the video a recorded job's input asks for (the stand-in's shape).

    Args:
        job: a recorded job.
    """
    from ..endpoints.registry import get  # the registry: sizes by endpoint, resolution and aspect ratio

    payload = job.input if isinstance(job.input, dict) else {}
    try:
        width, height = get(job.endpoint).output_size(
            payload.get("resolution"), str(payload.get("aspect_ratio") or "auto")
        )
    except Exception:  # noqa: BLE001 (an endpoint the registry does not know: fal's common 480p landscape)
        width, height = 864, 496
    duration = str(payload.get("duration", "4"))
    return width, height, int(duration) if duration.isdigit() else 4


def _pad_mp4(path: Path, size: int | None) -> None:
    """Append an MP4 ``free`` box so that the file is ``size`` bytes (players skip it); no-op when it cannot."""
    have = path.stat().st_size
    if size is None or size - have < 8:
        return
    with path.open("ab") as out:
        out.write(struct.pack(">I4s", size - have, b"free"))
        out.write(bytes(size - have - 8))


def _videos(value: Any) -> list[dict[str, Any]]:
    """Every ``{"url": ..., "content_type": "video/..."}`` in a result."""
    if isinstance(value, dict):
        found = [value] if str(value.get("content_type", "")).startswith("video/") and "url" in value else []
        return found + [v for item in value.values() for v in _videos(item)]
    if isinstance(value, list):
        return [v for item in value for v in _videos(item)]
    return []


@dataclass
class _Live:
    """A replayed job: the recorded one, its new id, when it was submitted and how far each route has got."""

    job: Job
    request_id: str
    started: float
    cursors: dict[str, int] = field(default_factory=dict)


class Replay:
    """A cassette loaded for replay, and the jobs replayed so far.

    Args:
        path: the cassette file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.document = load(self.path)
        self.jobs = jobs(self.document)
        self.live: dict[str, _Live] = {}
        self._handed: dict[str, int] = {}
        self._stand_ins: dict[str, str] = {}

    def take(self, endpoint: str) -> _Live | None:
        """The next recorded job of ``endpoint`` under a fresh request id, or None when none was recorded.

        Args:
            endpoint: the endpoint id as submitted (``owner/alias[/path]``).
        """
        recorded = [job for job in self.jobs if job.endpoint == endpoint]
        if not recorded:
            return None
        turn = self._handed.get(endpoint, 0)
        self._handed[endpoint] = turn + 1
        live = _Live(recorded[turn % len(recorded)], str(uuid.uuid4()), time.monotonic())
        self.live[live.request_id] = live
        return live

    def timeline(self, live: _Live) -> list[tuple[float, dict[str, Any]]]:
        """The job's recorded status answers as (seconds after the submit, JSON): polls, else stream events."""
        t0 = live.job.submit["t"]
        polls = [
            (item["t"] - t0, item["response"]["body"]["json"])
            for item in live.job.routes.get("status", [])
            if isinstance((item.get("response") or {}).get("body", {}).get("json"), dict)
        ]
        if polls:
            return polls
        events: list[tuple[float, dict[str, Any]]] = []
        for item in live.job.routes.get("stream", []):
            found = stream_events(item)
            span = float((item.get("response") or {}).get("elapsed") or 0.0)
            finished = item["t"] - t0 + span
            events += [(finished * (n + 1) / len(found), event) for n, event in enumerate(found)]
        return events

    async def stand_in(self, job: Job, recorded: dict[str, Any], store: Any) -> str:
        """The URL of the stand-in video for a recorded job's output (rendered once per job, kept).

        Args:
            job: the recorded job.
            recorded: the recorded video field (its ``file_size`` is matched).
            store: the engine's ``new_file``/``files`` (where the stand-in is kept and served from).
        """
        key = f"{job.request_id}:{recorded.get('url')}"
        if key not in self._stand_ins:
            width, height, seconds = stand_in_size(job)
            name, path = store.new_file("stand-in.mp4")
            image = Image.new("RGB", (width, height), (40, 90, 140))
            prompt = str((job.input or {}).get("prompt", "replayed")) if isinstance(job.input, dict) else "replayed"

            def render() -> None:
                render_mp4(image, path, width=width, height=height, seconds=seconds, seed=0, prompt=prompt, audio=False)
                size = recorded.get("file_size")
                _pad_mp4(path, size if isinstance(size, int) else None)

            await asyncio.to_thread(render)
            store.files[name] = (path, str(recorded.get("content_type") or "video/mp4"))
            self._stand_ins[key] = store.urls.file(name)
        return self._stand_ins[key]


class ReplayRoutes:
    """The ``/queue`` routes answered from a cassette (mounted before the live queue routes)."""

    def __init__(self, gateway: Gateway, replay: Replay) -> None:
        self.gateway = gateway
        self.replay = replay

    def routes(self) -> list[Route]:
        """The starlette routes."""
        return [Route("/queue/{rest:path}", self.queue, methods=["GET", "POST", "PUT"])]

    def _text(self, text: str, live: _Live) -> str:
        urls = self.gateway.urls
        text = text.replace(live.job.request_id, live.request_id)
        for role in ("queue", "rest", "cdn", "api"):
            text = text.replace(f"<{role}>", getattr(urls, role))
        return text

    def _json(self, value: Any, live: _Live) -> Any:
        return json.loads(self._text(json.dumps(value), live))

    def _answer(self, item: dict[str, Any], live: _Live, body: Any = None) -> Response:
        """A recorded answer, rewritten for ``live`` (``body``: a JSON body to send instead of the recorded)."""
        recorded = item.get("response") or {}
        headers = {
            k: self._text(v, live) for k, v in (recorded.get("headers") or {}).items() if k not in _DROPPED_HEADERS
        }
        data = recorded.get("body") or {}
        if body is not None or "json" in data:
            content = json.dumps(body if body is not None else self._json(data["json"], live)).encode()
        else:
            content = self._text(data.get("text") or "", live).encode()
        return Response(content, status_code=int(recorded.get("status", 200)), headers=headers)

    async def queue(self, request: Request) -> Response:
        """Every ``/queue`` request: a submit takes a recorded job; the rest answer from it."""
        self.gateway.count("replay")
        admitted = await self.gateway.admit(request)
        if isinstance(admitted, Response):
            return admitted
        path = request.path_params["rest"].strip("/")
        if request.method == "POST":
            live = self.replay.take(path)
            if live is None:
                return reply({"detail": f"the cassette recorded no request to {path}"}, 404)
            return self._answer(live.job.submit, live)
        live = next((job for rid, job in self.replay.live.items() if f"/requests/{rid}" in f"/{path}"), None)
        if live is None:
            return reply({"detail": "Request not found"}, 404)
        route = _route_of(path, live.request_id)
        if route == "stream":
            return self._stream(request, live)
        if route == "status":
            return self._status(live)
        items = live.job.routes.get(route or "", [])
        if not items:
            return reply({"detail": f"the cassette recorded no {route} of this request"}, 404, live.request_id)
        turn = live.cursors.get(route or "", -1) + 1
        live.cursors[route or ""] = turn
        item = items[min(turn, len(items) - 1)]
        if route == "result":
            return await self._result(item, live)
        return self._answer(item, live)

    def _due(self, live: _Live, seconds: float) -> bool:
        return time.monotonic() - live.started >= seconds * self.gateway.config.speed

    def _status(self, live: _Live) -> Response:
        timeline = self.replay.timeline(live)
        if not timeline:
            return reply({"detail": "the cassette recorded no status of this request"}, 404, live.request_id)
        turn = live.cursors.get("status", -1) + 1
        if turn > 0 and (turn >= len(timeline) or not self._due(live, timeline[turn][0])):
            turn -= 1
        live.cursors["status"] = turn
        body = self._json(timeline[turn][1], live)
        code = 200 if body.get("status") == "COMPLETED" else 202
        return reply(body, code, live.request_id)

    def _stream(self, request: Request, live: _Live) -> Response:
        timeline = self.replay.timeline(live)

        async def events() -> Any:
            for seconds, event in timeline:
                for _ in range(600):  # bounded: at most 60 s per event
                    if self._due(live, seconds):
                        break
                    await asyncio.sleep(0.1)
                yield b"data: " + json.dumps(self._json(event, live)).encode() + b"\n\n"

        headers = {"x-fal-request-id": live.request_id, "Cache-Control": "no-cache"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def _result(self, item: dict[str, Any], live: _Live) -> Response:
        data = (item.get("response") or {}).get("body") or {}
        if "json" not in data:
            return self._answer(item, live)
        body = self._json(data["json"], live)
        for video in _videos(body):
            video["url"] = await self.replay.stand_in(live.job, video, self.gateway.engine)
        return self._answer(item, live, body)


def _route_of(path: str, request_id: str) -> str | None:
    tail = f"/{path}".split(f"/requests/{request_id}", 1)[1]
    return {"": "result", "/status": "status", "/status/stream": "stream", "/cancel": "cancel"}.get(tail)
