"""The emulator's HTTP surface: fal's hosts as path prefixes on one port.

- ``/queue/...`` stands for ``queue.fal.run`` (submit, status, status stream, result, cancel)
- ``/run/...`` stands for ``fal.run`` (the sync route: runs the job and answers its output)
- ``/rest/...`` stands for ``rest.fal.ai`` (storage token, upload initiate, the JS client's multipart
  upload, and the webhook JWKS of ``rest.alpha.fal.ai/.well-known/jwks.json``)
- ``/cdn/...`` stands for ``v3.fal.media`` (uploads, fal-client's multipart upload, files with Range support)
- ``/api/fal/proxy`` is fal's server-proxy convention (``@fal-ai/server-proxy``): any method, the real
  target in ``x-fal-target-url``, fal's allow-list, the answer streamed back
- ``/api/openapi/queue/openapi.json?endpoint_id=...`` is the endpoint's OpenAPI document (``fal.ai/api/...``)
- ``/_emulator/...`` are the emulator's own admin routes (stats, config, reset)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from .engine import EmulatedRequest, EmulatorConfig, Engine
from .openapi import ENDPOINTS, openapi_document

__all__ = ["create_app", "glob_matches"]

#: fal's hosts, as the proxy maps a target URL onto the emulator's own routes.
_PROXY_HOSTS = {"fal.run": "/run", "queue.fal.run": "/queue", "rest.fal.ai": "/rest"}
#: Response headers the proxy does not copy (fal's proxy drops the first two; the server sets the rest).
_HOP_HEADERS = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}


@functools.lru_cache(maxsize=64)
def _glob(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("\\", i) and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_matches(pattern: str, text: str) -> bool:
    """picomatch's glob as fal's proxy uses it: ``**`` any text, ``*`` / ``?`` within a segment, ``\\`` escapes."""
    return _glob(pattern).fullmatch(text) is not None


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

    def token_refused(request: Request) -> Response | None:
        """fal's CDN wants a live token from ``/storage/auth/token``: 401 when it is unknown or expired."""
        problem = engine.token_problem(request.headers.get("authorization", ""))
        if problem is None:
            return None
        engine.stats["token_refused"] += 1
        return _json({"detail": problem}, 401)

    def split_app(rest_path: str) -> tuple[str, list[str]] | None:
        """``[namespace/]owner/alias`` and the remaining path segments, or None when there is no app."""
        parts = [p for p in rest_path.split("/") if p]
        prefix: list[str] = []
        if parts and parts[0] in NAMESPACES:
            prefix, parts = parts[:1], parts[1:]
        if len(parts) < 2:
            return None
        return "/".join(prefix + parts[:2]), parts[2:]

    def urls(job: EmulatedRequest) -> dict[str, str]:
        base = f"{queue_url}/{job.app}/requests/{job.id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def status_body(job: EmulatedRequest, logs: list[dict[str, Any]] | None) -> dict[str, Any]:
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
        found = split_app(request.path_params["rest"])
        if found is None:
            return _json({"detail": "Application not found"}, 404)
        app, rest = found
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
        return result_response(job)

    def result_response(job: EmulatedRequest) -> Response:
        """The model's answer for a completed job: its output (with ``x-fal-billable-units``) or its error."""
        headers = dict(job.headers)
        if job.error_type and job.status_code != 200:
            headers.setdefault("X-Fal-Error-Type", job.error_type)
        return _json(job.body, job.status_code or 500, job.id, headers)

    async def read_submit(request: Request) -> Response | dict[str, Any]:
        """The parts of a submit (queue or sync run) a job needs, or fal's 400 for a malformed one."""
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
        return {
            "payload": payload,
            "priority": priority,
            "start_timeout": start_timeout,
            "store_io": request.headers.get("x-fal-store-io", "1").strip() != "0",
        }

    async def submit(request: Request, app: str, path: str) -> Response:
        spec = await read_submit(request)
        if isinstance(spec, Response):
            return spec
        webhook = request.query_params.get("fal_webhook")
        job = engine.submit(app, path, webhook_url=webhook, **spec)
        body = {"status": "IN_QUEUE", "request_id": job.id, **urls(job), "queue_position": engine.position(job)}
        return _json(body, 200, job.id)

    # -------------------------------------------------------------- fal.run (sync)

    async def run(request: Request) -> Response:
        """``POST https://fal.run/<endpoint>``: the same job, answered with its output when it completes."""
        engine.routes["run"] += 1
        found = split_app(request.path_params["rest"])
        if found is None:
            return _json({"detail": "Application not found"}, 404)
        if not authorised(request):
            return unauthorised()
        spec = await read_submit(request)
        if isinstance(spec, Response):
            return spec
        app, rest = found
        job = engine.submit(app, "/".join(rest), webhook_url=None, **spec)
        while job.state != "COMPLETED":
            changed = job.changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                if await request.is_disconnected():  # the caller gave up: fal cancels the request
                    engine.cancel(job)
                    return Response(status_code=499)
        return result_response(job)

    async def stream(job: EmulatedRequest, logs: bool) -> AsyncIterator[bytes]:
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
        token, expires = engine.issue_token()
        expires_at = datetime.fromtimestamp(expires, timezone.utc).isoformat()
        return _json({"token": token, "token_type": "Bearer", "base_url": cdn_url, "expires_at": expires_at})

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
        await receive_to(request, path)
        engine.files[key] = (path, request.headers.get("content-type", content_type))
        return Response(status_code=200)

    async def cdn_upload(request: Request) -> Response:
        engine.routes["cdn_upload"] += 1
        refused = token_refused(request)
        if refused is not None:
            return refused
        key, path = engine.new_file(request.headers.get("x-fal-file-name"))
        await receive_to(request, path)  # streamed: a large upload never sits in memory
        engine.files[key] = (path, request.headers.get("content-type", "application/octet-stream"))
        return _json({"access_url": f"{cdn_url}/files/{key}"})

    # Multipart uploads (fal-client's CDN flow and the JS client's REST flow share one store): each part is
    # streamed to its own file, so a 100+ MiB upload never sits in memory; ``complete`` joins them in order.

    def start_multipart(content_type: str) -> tuple[str, str]:
        key, upload_id = uuid.uuid4().hex, uuid.uuid4().hex
        multipart[upload_id] = {"key": key, "parts": {}, "type": content_type or "application/octet-stream"}
        return key, upload_id

    async def receive_to(request: Request, path: Path) -> str:
        """Stream the request body into ``path``; return its MD5 (the part's ETag, as S3-style stores give)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("wb") as fh:
            async for chunk in request.stream():
                digest.update(chunk)
                fh.write(chunk)
        return digest.hexdigest()

    async def put_part(request: Request) -> tuple[int, str] | Response:
        upload_id, number = request.path_params["upload_id"], request.path_params["part"]
        upload = multipart.get(upload_id)
        if upload is None:
            return _json({"detail": "Unknown upload"}, 404)
        if not 1 <= number <= 10_000:
            return _json({"detail": "Part numbers run from 1 to 10000"}, 400)
        etag = await receive_to(request, storage / "parts" / upload_id / str(number))
        upload["parts"][number] = etag
        return number, etag

    def complete_multipart(upload_id: str, listed: Any) -> Response | str:
        """Join the parts of ``upload_id`` (checking the list the client sent, when it sent one)."""
        upload = multipart.get(upload_id)
        if upload is None:
            return _json({"detail": "Unknown upload"}, 404)
        parts: dict[int, str] = upload["parts"]
        if isinstance(listed, list) and listed:
            try:
                claimed = {int(p["partNumber"]): str(p["etag"]).strip('"') for p in listed}
            except (KeyError, TypeError, ValueError):
                return _json({"detail": "parts must be a list of {partNumber, etag}"}, 400)
            if claimed != parts:
                return _json({"detail": "The parts listed do not match the parts uploaded"}, 400)
        if not parts or sorted(parts) != list(range(1, len(parts) + 1)):
            return _json({"detail": f"Parts must be numbered 1..n without gaps; got {sorted(parts)}"}, 400)
        multipart.pop(upload_id)
        path = storage / "files" / upload["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = storage / "parts" / upload_id
        with path.open("wb") as out:
            for number in sorted(parts):
                with (folder / str(number)).open("rb") as part:
                    shutil.copyfileobj(part, out, 1024 * 1024)
        shutil.rmtree(folder, ignore_errors=True)
        engine.files[upload["key"]] = (path, upload["type"])
        return f"{cdn_url}/files/{upload['key']}"

    async def parts_listed(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"{}").get("parts")
        except (json.JSONDecodeError, AttributeError):
            return None

    async def cdn_multipart_start(request: Request) -> Response:
        engine.routes["cdn_upload"] += 1
        refused = token_refused(request)
        if refused is not None:
            return refused
        key, upload_id = start_multipart(request.headers.get("content-type", ""))
        return _json({"access_url": f"{cdn_url}/files/{key}", "uploadId": upload_id})

    async def cdn_multipart_part(request: Request) -> Response:
        engine.routes["cdn_part"] += 1
        refused = token_refused(request)
        if refused is not None:
            return refused
        done = await put_part(request)
        if isinstance(done, Response):
            return done
        return Response(status_code=200, headers={"ETag": f'"{done[1]}"'})

    async def cdn_multipart_complete(request: Request) -> Response:
        refused = token_refused(request)
        if refused is not None:
            return refused
        done = complete_multipart(request.path_params["upload_id"], await parts_listed(request))
        return done if isinstance(done, Response) else _json({"access_url": done})

    async def upload_initiate_multipart(request: Request) -> Response:
        """The JS client's multipart flow: ``upload_url`` takes ``/<part>`` PUTs, then ``/complete``."""
        engine.routes["upload_initiate"] += 1
        if not authorised(request):
            return unauthorised()
        try:
            spec = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return _json({"detail": "Request body is not valid JSON"}, 400)
        key, upload_id = start_multipart(str(spec.get("content_type") or ""))
        return _json(
            {"upload_url": f"{rest_url}/storage/upload/multipart/{upload_id}", "file_url": f"{cdn_url}/files/{key}"}
        )

    async def rest_multipart_part(request: Request) -> Response:
        engine.routes["upload_part"] += 1
        done = await put_part(request)
        if isinstance(done, Response):
            return done
        return _json({"partNumber": done[0], "etag": done[1]})

    async def rest_multipart_complete(request: Request) -> Response:
        done = complete_multipart(request.path_params["upload_id"], await parts_listed(request))
        return done if isinstance(done, Response) else _json({"file_url": done})

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

    # -------------------------------------------------------------- webhook keys, OpenAPI

    async def jwks(request: Request) -> Response:
        engine.routes["jwks"] += 1
        return _json(engine.jwks(), headers={"Cache-Control": "max-age=3600"})

    async def openapi(request: Request) -> Response:
        engine.routes["openapi"] += 1
        endpoint = request.query_params.get("endpoint_id", "")
        if config.openapi is not None:
            return _json(config.openapi)
        if endpoint not in ENDPOINTS:
            return _json({"detail": f"Endpoint {endpoint[:200]!r} not found"}, 404)
        return _json(openapi_document(endpoint, queue_url))

    # -------------------------------------------------------------- fal's server proxy

    clients: dict[str, httpx.AsyncClient] = {}

    async def proxy(request: Request) -> Response:
        """``@fal-ai/server-proxy`` as fal ships it, with fal's hosts mapped onto this emulator's routes."""
        engine.routes["proxy"] += 1
        target = request.headers.get("x-fal-target-url", "")
        parts = urlsplit(target)
        if not target or parts.scheme not in ("http", "https") or not parts.netloc:
            return PlainTextResponse("Invalid request", 400)
        checked = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
        prefix = _PROXY_HOSTS.get(parts.hostname or "")
        if prefix is None or not any(glob_matches(p, checked) for p in config.proxy_allowed_urls):
            engine.stats["proxy_refused"] += 1
            return PlainTextResponse("Invalid request", 400)
        url = base_url + prefix + parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v for k, v in request.headers.items() if k.startswith("x-fal-")}
        # The proxy holds the key (fal's reads FAL_KEY); a caller's own Authorization header wins, as in fal's.
        authorization = request.headers.get("authorization") or (f"Key {config.api_key}" if config.api_key else "")
        if authorization:
            headers["authorization"] = authorization
        headers.update(
            {
                "accept": "application/json",
                "content-type": "application/json",
                "user-agent": request.headers.get("user-agent", ""),
                "x-fal-client-proxy": "@fal-ai/server-proxy/seedance-nb-emulator",
            }
        )
        body = None if request.method == "GET" else await request.body()
        client = clients.get("proxy")
        if client is None:
            # Always this emulator on loopback: no environment proxy may sit in between.
            client = clients["proxy"] = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10), trust_env=False)
        upstream = await client.send(
            client.build_request(request.method, url, headers=headers, content=body), stream=True
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_bytes():
                    yield chunk
            finally:  # also when the caller hangs up mid-stream (an SSE status stream)
                await upstream.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=out)

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
        for client in clients.values():
            await client.aclose()
        await engine.close()

    routes = [
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/api/v1/models/requests/by-endpoint", requests_by_endpoint, methods=["GET"]),
        Route("/_emulator/config", configure, methods=["POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/rest/storage/auth/token", storage_token, methods=["POST"]),
        Route("/rest/storage/upload/initiate", upload_initiate, methods=["POST"]),
        Route("/rest/storage/upload/put/{key}", upload_put, methods=["PUT"]),
        Route("/rest/storage/upload/initiate-multipart", upload_initiate_multipart, methods=["POST"]),
        Route("/rest/storage/upload/multipart/{upload_id}/{part:int}", rest_multipart_part, methods=["PUT"]),
        Route("/rest/storage/upload/multipart/{upload_id}/complete", rest_multipart_complete, methods=["POST"]),
        Route("/rest/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/api/openapi/queue/openapi.json", openapi, methods=["GET"]),
        Route("/api/fal/proxy", proxy, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
        Route("/cdn/files/upload", cdn_upload, methods=["POST"]),
        Route("/cdn/files/upload/multipart", cdn_multipart_start, methods=["POST"]),
        Route("/cdn/files/{key}/multipart/{upload_id}/{part:int}", cdn_multipart_part, methods=["PUT"]),
        Route("/cdn/files/{key}/multipart/{upload_id}/complete", cdn_multipart_complete, methods=["POST"]),
        Route("/cdn/files/{key}", cdn_get, methods=["GET", "HEAD"]),
        Route("/queue/{rest:path}", queue, methods=["GET", "POST", "PUT"]),
        Route("/run/{rest:path}", run, methods=["POST", "PUT"]),
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
