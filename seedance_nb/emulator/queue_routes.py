"""The emulator's queue routes: ``queue.fal.run``, ``fal.run`` and the platform API's request history.

- ``POST /queue/<endpoint>``: submit (``x-fal-queue-priority``, ``x-fal-request-timeout``,
  ``x-fal-store-io``, ``?fal_webhook=``)
- ``GET /queue/<app>/requests/<id>/status`` (``?logs=1``), ``.../status/stream`` (SSE),
  ``GET .../requests/<id>`` (the result), ``PUT .../requests/<id>/cancel``
- ``POST /run/<endpoint>``: fal.run, the same job answered with its output
- ``GET /api/v1/models/requests/by-endpoint``: fal's request history

Endpoint ids and the URLs built from them are :class:`seedance_nb.schema.EndpointId`'s::

    routes = QueueRoutes(gateway)
    Starlette(routes=routes.routes())
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..schema import EndpointId
from .engine import EmulatedRequest, SubmitOptions
from .gateway import Gateway, reply

__all__ = ["HistoryQuery", "QueueRoutes", "endpoint_in", "parse_time", "queue_route", "read_submit"]

#: What follows ``requests/<id>`` in a queue URL, and the route it names.
_TAILS = {(): "result", ("status",): "status", ("status", "stream"): "stream", ("cancel",): "cancel"}


def endpoint_in(path: str) -> EndpointId | None:
    """The endpoint a ``/queue`` or ``/run`` path names (empty segments ignored), or None when it names no app."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:  # one segment names no app here (EndpointId's legacy ``<number>-<alias>`` is not routed)
        return None
    try:
        return EndpointId.parse("/".join(parts))
    except ValueError:  # a namespace without owner/alias
        return None


def queue_route(method: str, segments: list[str], *, strict_subpath: bool) -> tuple[str, str | None]:
    """Which queue route ``segments`` (the path after the app) name, and the request id they carry.

    ``submit`` for any POST; ``result``, ``status``, ``stream`` or ``cancel`` under ``requests/<id>``;
    ``subpath`` when the endpoint's subpath was kept before ``requests`` and ``strict_subpath`` refuses it
    (fal's 404); ``unknown`` otherwise.
    """
    if method == "POST":
        return "submit", None
    if "requests" not in segments:
        return "unknown", None
    at = segments.index("requests")
    if at != 0 and strict_subpath:
        return "subpath", None
    if len(segments) < at + 2:
        return "unknown", None
    route = _TAILS.get(tuple(segments[at + 2 :]), "unknown")
    return route, None if route == "unknown" else segments[at + 1]


def parse_time(value: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) as a Unix timestamp."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _bad_request(detail: str, headers: dict[str, str] | None = None) -> Response:
    return reply({"detail": detail, "error_type": "bad_request"}, 400, headers=headers)


async def read_submit(request: Request) -> SubmitOptions | Response:
    """What a submit (queue or fal.run) carries besides the endpoint, or fal's 400 ``bad_request``."""
    raw = await request.body()
    try:
        payload = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return _bad_request("Request body is not valid JSON")
    priority = request.headers.get("x-fal-queue-priority", "normal")
    if priority not in ("normal", "low"):
        return _bad_request(f"Invalid priority {priority!r}")
    timeout = request.headers.get("x-fal-request-timeout")
    start_timeout = None
    if timeout is not None:
        try:
            start_timeout = float(timeout)
        except ValueError:
            start_timeout = -1.0
        if start_timeout <= 1:
            return _bad_request(
                "X-Fal-Request-Timeout must be a number of seconds greater than 1",
                headers={"X-Fal-Error-Type": "bad_request"},
            )
    store_io = request.headers.get("x-fal-store-io", "1").strip() != "0"
    return SubmitOptions(payload=payload, priority=priority, start_timeout=start_timeout, store_io=store_io)


@dataclass(frozen=True)
class HistoryQuery:
    """The query of ``GET /v1/models/requests/by-endpoint`` (REAL_FAL.md: start defaults to 24 h ago)."""

    endpoint_id: str
    start: float
    end: float | None
    limit: int
    offset: int
    status: str | None
    request_id: str | None
    payloads: bool

    @classmethod
    def parse(cls, q: QueryParams) -> HistoryQuery | Response:
        """The query, or fal's 422 naming what is wrong with it."""
        endpoint_id = q.get("endpoint_id")
        if not endpoint_id:
            return reply({"detail": "endpoint_id is required"}, 422)
        start, end = q.get("start"), q.get("end")
        try:
            query = cls(
                endpoint_id=endpoint_id,
                start=parse_time(start) if start else time.time() - 86400,
                end=parse_time(end) if end else None,
                limit=int(q.get("limit", "50")),
                offset=int(q.get("cursor") or 0),
                status=q.get("status"),
                request_id=q.get("request_id"),
                payloads="payloads" in {part.strip() for item in q.getlist("expand") for part in item.split(",")},
            )
        except ValueError as exc:
            return reply({"detail": f"bad query parameter: {exc}"}, 422)
        if not 1 <= query.limit <= 100:
            return reply({"detail": "limit must be between 1 and 100"}, 422)
        return query


class QueueRoutes:
    """Submit, status, status stream, result, cancel, fal.run and the request history."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.answers: dict[str, Callable[[Request, EmulatedRequest], Response]] = {
            "status": self.status,
            "stream": self.stream,
            "cancel": self.cancel,
            "result": self.result,
        }

    def routes(self) -> list[Route]:
        return [
            Route("/queue/{rest:path}", self.queue, methods=["GET", "POST", "PUT"]),
            Route("/run/{rest:path}", self.run, methods=["POST", "PUT"]),
            Route("/api/v1/models/requests/by-endpoint", self.history, methods=["GET"]),
        ]

    # ------------------------------------------------------------------ answers about a request

    def urls(self, job: EmulatedRequest) -> dict[str, str]:
        """The request's result, status and cancel URLs, as the submit and every status carry them."""
        queue = self.gateway.urls.queue
        return {
            "response_url": job.endpoint.request_url(queue, job.id),
            "status_url": job.endpoint.status_url(queue, job.id),
            "cancel_url": job.endpoint.cancel_url(queue, job.id),
        }

    def status_body(self, job: EmulatedRequest, logs: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"status": job.state, "request_id": job.id, **self.urls(job)}
        if job.state == "IN_QUEUE":
            body["queue_position"] = self.engine.position(job)
        body["logs"] = logs
        body["metrics"] = {"inference_time": job.inference_time} if job.state == "COMPLETED" else {}
        if job.state == "COMPLETED" and job.error:
            body["error"], body["error_type"] = job.error, job.error_type
        return body

    @staticmethod
    def wants_logs(request: Request) -> bool:
        return request.query_params.get("logs", "0").lower() in ("1", "true", "yes")

    @staticmethod
    def output(job: EmulatedRequest) -> Response:
        """The model's answer for a completed job: its output (with ``x-fal-billable-units``) or its error."""
        headers = dict(job.headers)
        if job.error_type and job.status_code != 200:
            headers.setdefault("X-Fal-Error-Type", job.error_type)
        return reply(job.body, job.status_code or 500, job.id, headers)

    # ------------------------------------------------------------------ queue.fal.run

    async def queue(self, request: Request) -> Response:
        """Every ``/queue`` request: parse the route, pass the gateway, answer."""
        endpoint = endpoint_in(request.path_params["rest"])
        if endpoint is None:
            return reply({"detail": "Application not found"}, 404)
        segments = endpoint.path.split("/") if endpoint.path else []
        route, request_id = queue_route(request.method, segments, strict_subpath=self.gateway.config.strict_subpath)
        if route == "subpath":
            return reply({"detail": "Not Found"}, 404)
        self.gateway.count(route)
        if route == "unknown":
            return reply({"detail": "Not Found"}, 404)
        admitted = await self.gateway.admit(request, faults=True)
        if isinstance(admitted, Response):
            return admitted
        if route == "submit":
            response = await self.submit(request, endpoint)
        else:
            assert request_id is not None
            response = self.about(request, route, endpoint, request_id)
        return await admitted.deliver(response)

    async def submit(self, request: Request, endpoint: EndpointId) -> Response:
        options = await read_submit(request)
        if isinstance(options, Response):
            return options
        job = self.engine.submit(endpoint, options, webhook_url=request.query_params.get("fal_webhook"))
        body = {
            "status": "IN_QUEUE",
            "request_id": job.id,
            **self.urls(job),
            "queue_position": self.engine.position(job),
        }
        return reply(body, 200, job.id)

    def about(self, request: Request, route: str, endpoint: EndpointId, request_id: str) -> Response:
        """A status, stream, cancel or result of ``request_id`` (404 when it is not this app's or has expired)."""
        job = self.engine.get(request_id)
        if job is None or job.endpoint.app != endpoint.app:
            if route == "cancel":
                return reply({"status": "NOT_FOUND"}, 404)
            return reply({"detail": "Request not found"}, 404)
        return self.answers[route](request, job)

    def status(self, request: Request, job: EmulatedRequest) -> Response:
        body = self.status_body(job, job.logs[-20:] if self.wants_logs(request) else None)
        return reply(body, 200 if job.state == "COMPLETED" else 202, job.id)

    def stream(self, request: Request, job: EmulatedRequest) -> Response:
        return StreamingResponse(
            self.events(job, self.wants_logs(request)),
            media_type="text/event-stream",
            headers={"x-fal-request-id": job.id, "Cache-Control": "no-cache"},
        )

    def cancel(self, request: Request, job: EmulatedRequest) -> Response:
        code, status = self.engine.cancel(job)
        return reply({"status": status}, code, job.id)

    def result(self, request: Request, job: EmulatedRequest) -> Response:
        if job.state != "COMPLETED":
            return reply({"detail": "Request is still in progress"}, 400, job.id)
        return self.output(job)

    async def events(self, job: EmulatedRequest, logs: bool) -> AsyncIterator[bytes]:
        """The status stream: an event per change (state, queue position, new logs), pings between."""
        sent_logs = 0
        last: tuple[str, int | None] | None = None
        while True:
            changed = job.changed
            new = job.logs[sent_logs:] if logs else []
            sent_logs = len(job.logs)
            key = (job.state, self.engine.position(job) if job.state == "IN_QUEUE" else None)
            if key != last or new or job.state == "COMPLETED":
                event = self.status_body(job, list(new) if logs else None)
                yield b"data: " + json.dumps(event).encode() + b"\n\n"
                last = key
            if job.state == "COMPLETED":
                return
            try:
                await asyncio.wait_for(changed.wait(), timeout=self.gateway.config.keepalive)
            except asyncio.TimeoutError:
                yield b": ping\n\n"

    # ------------------------------------------------------------------ fal.run (sync)

    async def run(self, request: Request) -> Response:
        """``POST https://fal.run/<endpoint>``: the same job, answered with its output when it completes."""
        self.gateway.count("run")
        endpoint = endpoint_in(request.path_params["rest"])
        if endpoint is None:
            return reply({"detail": "Application not found"}, 404)
        admitted = await self.gateway.admit(request)
        if isinstance(admitted, Response):
            return admitted
        options = await read_submit(request)
        if isinstance(options, Response):
            return options
        job = self.engine.submit(endpoint, options, webhook_url=None)
        while job.state != "COMPLETED":
            changed = job.changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                if await request.is_disconnected():  # the caller gave up: fal cancels the request
                    self.engine.cancel(job)
                    return Response(status_code=499)
        return self.output(job)

    # ------------------------------------------------------------------ platform API (api.fal.ai)

    async def history(self, request: Request) -> Response:
        """fal's request history: ``GET https://api.fal.ai/v1/models/requests/by-endpoint`` (REAL_FAL.md)."""
        self.gateway.count("history")
        admitted = await self.gateway.admit(request)
        if isinstance(admitted, Response):
            return admitted
        query = HistoryQuery.parse(request.query_params)
        if isinstance(query, Response):
            return query
        items = self.engine.requests_by_endpoint(
            query.endpoint_id,
            start=query.start,
            end=query.end,
            status=query.status,
            request_id=query.request_id,
            payloads=query.payloads,
        )
        offset, limit = query.offset, query.limit
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return reply({"items": page, "next_cursor": str(offset + limit) if more else None, "has_more": more})
