"""The emulator's HTTP surface: fal's three hosts as path prefixes on one port.

- ``/queue/...`` stands for ``queue.fal.run`` (submit, status, status stream, result, cancel)
- ``/rest/...`` stands for ``rest.fal.ai`` (storage token, upload initiate)
- ``/cdn/...`` stands for ``v3.fal.media`` (uploads and files, with Range support)
- ``/_emulator/...`` are the emulator's own admin routes (stats, config, reset)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .engine import EmulatorConfig, Engine, Job

__all__ = ["create_app"]

NAMESPACES = ("workflows", "comfy")
NGINX_BODY = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


class _Dropped(Exception):
    """Raised inside a streaming body to cut the connection mid-response."""


def _json(
    body: Any, status: int = 200, request_id: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    out = dict(headers or {})
    if request_id:
        out["x-fal-request-id"] = request_id
    return JSONResponse(body, status_code=status, headers=out)


def create_app(config: EmulatorConfig, storage: Path, base_url: str) -> Starlette:
    """A starlette app serving the emulator; ``base_url`` is where clients reach it."""
    queue_url, rest_url, cdn_url = f"{base_url}/queue", f"{base_url}/rest", f"{base_url}/cdn"
    engine = Engine(config, storage, cdn_url)

    # -------------------------------------------------------------- helpers

    def authorised(request: Request) -> bool:
        if not config.api_key:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("key", "bearer") and value == config.api_key

    def unauthorised() -> Response:
        return _json({"detail": "No user found for Key ID and Secret"}, 401)

    def fault(route: str, *, can_drop: bool) -> Response | str | None:
        """Decide one injected fault for this request (reproducible from fault_seed)."""
        rng = engine.rng
        roll = rng.random()
        edge = config.rate_429
        if roll < edge:
            engine.stats["fault_429"] += 1
            return _json({"detail": "Too many requests, please slow down"}, 429, headers={"Retry-After": "0"})
        edge += config.rate_ingress
        if roll < edge:
            code = rng.choice((502, 503, 504))
            engine.stats["fault_ingress"] += 1
            return Response(
                NGINX_BODY.format(code=code, reason=_REASONS[code]), status_code=code, media_type="text/html"
            )
        edge += config.rate_slow
        if roll < edge:
            engine.stats["fault_slow"] += 1
            return "slow"
        edge += config.rate_drop
        if can_drop and roll < edge:
            engine.stats["fault_drop"] += 1
            return "drop"
        return None

    def urls(job: Job) -> dict[str, str]:
        base = f"{queue_url}/{job.app}/requests/{job.id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def status_body(job: Job, logs: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"status": job.state, "request_id": job.id, **urls(job)}
        if job.state == "IN_QUEUE":
            body["queue_position"] = engine.position(job)
        body["logs"] = logs
        body["metrics"] = {"inference_time": job.inference_time} if job.state == "COMPLETED" else {}
        if job.state == "COMPLETED" and job.error:
            body["error"], body["error_type"] = job.error, job.error_type
        return body

    def wants_logs(request: Request) -> bool:
        return request.query_params.get("logs", "0").lower() in ("1", "true", "yes")

    async def maybe_drop(response: Response) -> Response:
        """Send the headers and half the body, then cut the connection."""
        raw = response.body
        half = raw[: max(1, len(raw) // 2)]

        async def body() -> AsyncIterator[bytes]:
            yield half
            await asyncio.sleep(0)
            raise _Dropped("connection dropped by fault injection")

        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers["content-length"] = str(len(raw))
        return StreamingResponse(body(), status_code=response.status_code, headers=headers)

    # -------------------------------------------------------------- queue

    async def queue(request: Request) -> Response:
        parts = [p for p in request.path_params["rest"].split("/") if p]
        prefix: list[str] = []
        if parts and parts[0] in NAMESPACES:
            prefix, parts = parts[:1], parts[1:]
        if len(parts) < 2:
            return _json({"detail": "Application not found"}, 404)
        app = "/".join(prefix + parts[:2])
        rest = parts[2:]
        if request.method == "POST":
            route = "submit"
        elif "requests" in rest:
            at = rest.index("requests")
            if at != 0 and config.strict_subpath:
                return _json({"detail": "Not Found"}, 404)
            tail = rest[at + 2 :]
            route = {(): "result", ("status",): "status", ("status", "stream"): "stream", ("cancel",): "cancel"}.get(
                tuple(tail), "unknown"
            )
            if len(rest) < at + 2:
                route = "unknown"
        else:
            route = "unknown"
        engine.routes[route] += 1
        if route == "unknown":
            return _json({"detail": "Not Found"}, 404)
        if not authorised(request):
            return unauthorised()
        injected = fault(route, can_drop=request.method == "GET")
        if isinstance(injected, Response):
            return injected
        if injected == "slow":
            await asyncio.sleep(config.slow_seconds)
        response = await handle(request, route, app, rest)
        if injected == "drop" and not isinstance(response, StreamingResponse):
            return await maybe_drop(response)
        return response

    async def handle(request: Request, route: str, app: str, rest: list[str]) -> Response:
        if route == "submit":
            return await submit(request, app, "/".join(rest))
        request_id = rest[rest.index("requests") + 1]
        job = engine.get(request_id)
        if job is None or job.app != app:
            if route == "cancel":
                return _json({"status": "NOT_FOUND"}, 404)
            return _json({"detail": "Request not found"}, 404)
        if route == "status":
            body = status_body(job, job.logs[-20:] if wants_logs(request) else None)
            return _json(body, 200 if job.state == "COMPLETED" else 202, job.id)
        if route == "stream":
            return StreamingResponse(
                stream(job, wants_logs(request)),
                media_type="text/event-stream",
                headers={"x-fal-request-id": job.id, "Cache-Control": "no-cache"},
            )
        if route == "cancel":
            code, status = engine.cancel(job)
            return _json({"status": status}, code, job.id)
        # result
        if job.state != "COMPLETED":
            return _json({"detail": "Request is still in progress"}, 400, job.id)
        headers = dict(job.headers)
        if job.error_type and job.status_code != 200:
            headers.setdefault("X-Fal-Error-Type", job.error_type)
        return _json(job.body, job.status_code or 500, job.id, headers)

    async def submit(request: Request, app: str, path: str) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return _json({"detail": "Request body is not valid JSON", "error_type": "bad_request"}, 400)
        priority = request.headers.get("x-fal-queue-priority", "normal")
        if priority not in ("normal", "low"):
            return _json({"detail": f"Invalid priority {priority!r}", "error_type": "bad_request"}, 400)
        timeout = request.headers.get("x-fal-request-timeout")
        start_timeout = None
        if timeout is not None:
            try:
                start_timeout = float(timeout)
            except ValueError:
                start_timeout = -1.0
            if start_timeout <= 1:
                return _json(
                    {
                        "detail": "X-Fal-Request-Timeout must be a number of seconds greater than 1",
                        "error_type": "bad_request",
                    },
                    400,
                    headers={"X-Fal-Error-Type": "bad_request"},
                )
        webhook = request.query_params.get("fal_webhook")
        job = engine.submit(app, path, payload, priority=priority, webhook_url=webhook, start_timeout=start_timeout)
        body = {"status": "IN_QUEUE", "request_id": job.id, **urls(job), "queue_position": engine.position(job)}
        return _json(body, 200, job.id)

    async def stream(job: Job, logs: bool) -> AsyncIterator[bytes]:
        sent_logs = 0
        last: tuple[str, int | None] | None = None
        while True:
            changed = job.changed
            new = job.logs[sent_logs:] if logs else []
            sent_logs = len(job.logs)
            key = (job.state, engine.position(job) if job.state == "IN_QUEUE" else None)
            if key != last or new or job.state == "COMPLETED":
                event = status_body(job, list(new) if logs else None)
                yield b"data: " + json.dumps(event).encode() + b"\n\n"
                last = key
            if job.state == "COMPLETED":
                return
            try:
                await asyncio.wait_for(changed.wait(), timeout=config.keepalive)
            except asyncio.TimeoutError:
                yield b": ping\n\n"

    # -------------------------------------------------------------- storage

    async def storage_token(request: Request) -> Response:
        engine.routes["storage_token"] += 1
        if not authorised(request):
            return unauthorised()
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        return _json(
            {"token": uuid.uuid4().hex, "token_type": "Bearer", "base_url": cdn_url, "expires_at": expires.isoformat()}
        )

    async def upload_initiate(request: Request) -> Response:
        engine.routes["upload_initiate"] += 1
        if not authorised(request):
            return unauthorised()
        try:
            spec = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return _json({"detail": "Request body is not valid JSON"}, 400)
        key = uuid.uuid4().hex
        pending[key] = (str(spec.get("content_type") or "application/octet-stream"), spec.get("file_name"))
        return _json({"upload_url": f"{rest_url}/storage/upload/put/{key}", "file_url": f"{cdn_url}/files/{key}"})

    pending: dict[str, tuple[str, str | None]] = {}
    multipart: dict[str, dict[str, Any]] = {}

    async def upload_put(request: Request) -> Response:
        engine.routes["upload_put"] += 1
        key = request.path_params["key"]
        if key not in pending:
            return _json({"detail": "Unknown upload"}, 404)
        content_type, _name = pending.pop(key)
        path = storage / "files" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(await request.body())
        engine.files[key] = (path, request.headers.get("content-type", content_type))
        return Response(status_code=200)

    async def cdn_upload(request: Request) -> Response:
        engine.routes["cdn_upload"] += 1
        if not request.headers.get("authorization") and config.api_key:
            return unauthorised()
        url = engine.store_file(
            await request.body(),
            request.headers.get("content-type", "application/octet-stream"),
            request.headers.get("x-fal-file-name"),
        )
        return _json({"access_url": url})

    async def cdn_multipart_start(request: Request) -> Response:
        engine.routes["cdn_upload"] += 1
        key = uuid.uuid4().hex
        upload_id = uuid.uuid4().hex
        multipart[upload_id] = {"key": key, "parts": {}, "type": request.headers.get("content-type", "")}
        return _json({"access_url": f"{cdn_url}/files/{key}", "uploadId": upload_id})

    async def cdn_multipart_part(request: Request) -> Response:
        upload = multipart.get(request.path_params["upload_id"])
        if upload is None:
            return _json({"detail": "Unknown upload"}, 404)
        data = await request.body()
        etag = uuid.uuid5(uuid.NAMESPACE_OID, str(len(data)) + request.path_params["part"]).hex
        upload["parts"][int(request.path_params["part"])] = (etag, data)
        return Response(status_code=200, headers={"ETag": etag})

    async def cdn_multipart_complete(request: Request) -> Response:
        upload = multipart.pop(request.path_params["upload_id"], None)
        if upload is None:
            return _json({"detail": "Unknown upload"}, 404)
        path = storage / "files" / upload["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            for number in sorted(upload["parts"]):
                fh.write(upload["parts"][number][1])
        engine.files[upload["key"]] = (path, upload["type"] or "application/octet-stream")
        return _json({"access_url": f"{cdn_url}/files/{upload['key']}"})

    async def cdn_get(request: Request) -> Response:
        engine.routes["cdn_get"] += 1
        entry = engine.files.get(request.path_params["key"])
        if entry is None:
            return _json({"detail": "File not found"}, 404)
        if request.method == "GET" and config.rate_drop and engine.rng.random() < config.rate_drop:
            engine.stats["fault_drop"] += 1
            data = entry[0].read_bytes()
            return await maybe_drop(Response(data, media_type=entry[1]))
        return FileResponse(entry[0], media_type=entry[1])

    # -------------------------------------------------------------- admin

    # -------------------------------------------------------------- platform API (api.fal.ai)

    async def requests_by_endpoint(request: Request) -> Response:
        """fal's request history: ``GET https://api.fal.ai/v1/models/requests/by-endpoint`` (REAL_FAL.md)."""
        engine.routes["history"] += 1
        if not authorised(request):
            return unauthorised()
        q = request.query_params
        endpoint_id = q.get("endpoint_id")
        if not endpoint_id:
            return _json({"detail": "endpoint_id is required"}, 422)
        try:
            start = _parse_time(q.get("start")) if q.get("start") else time.time() - 86400
            end = _parse_time(q.get("end")) if q.get("end") else None
            limit = int(q.get("limit", "50"))
            offset = int(q.get("cursor") or 0)
        except ValueError as exc:
            return _json({"detail": f"bad query parameter: {exc}"}, 422)
        if not 1 <= limit <= 100:
            return _json({"detail": "limit must be between 1 and 100"}, 422)
        expand = {part.strip() for part in q.getlist("expand") for part in part.split(",")}
        items = engine.requests_by_endpoint(
            endpoint_id,
            start=start,
            end=end,
            status=q.get("status"),
            request_id=q.get("request_id"),
            payloads="payloads" in expand,
        )
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return _json({"items": page, "next_cursor": str(offset + limit) if more else None, "has_more": more})

    async def stats(request: Request) -> Response:
        return _json(engine.snapshot())

    async def configure(request: Request) -> Response:
        engine.routes["admin"] += 1
        try:
            changes = json.loads(await request.body() or b"{}")
            config.update(**changes)
        except (ValueError, TypeError) as exc:
            return _json({"detail": str(exc)}, 400)
        if "fault_seed" in changes:
            engine.rng.seed(config.fault_seed)
        return _json(config.as_dict())

    async def reset(request: Request) -> Response:
        engine.reset_stats()
        return _json(engine.snapshot())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.close()

    routes = [
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/api/v1/models/requests/by-endpoint", requests_by_endpoint, methods=["GET"]),
        Route("/_emulator/config", configure, methods=["POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/rest/storage/auth/token", storage_token, methods=["POST"]),
        Route("/rest/storage/upload/initiate", upload_initiate, methods=["POST"]),
        Route("/rest/storage/upload/put/{key}", upload_put, methods=["PUT"]),
        Route("/cdn/files/upload", cdn_upload, methods=["POST"]),
        Route("/cdn/files/upload/multipart", cdn_multipart_start, methods=["POST"]),
        Route("/cdn/files/{key}/multipart/{upload_id}/{part:int}", cdn_multipart_part, methods=["PUT"]),
        Route("/cdn/files/{key}/multipart/{upload_id}/complete", cdn_multipart_complete, methods=["POST"]),
        Route("/cdn/files/{key}", cdn_get, methods=["GET", "HEAD"]),
        Route("/queue/{rest:path}", queue, methods=["GET", "POST", "PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.engine = engine
    app.state.started = time.time()
    return app


def _parse_time(value: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC) as a Unix timestamp."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
