"""The emulator's storage routes: ``rest.fal.ai``'s storage API and the ``v3.fal.media`` CDN.

- ``POST /rest/storage/auth/token``: a CDN upload token (with ``expires_at``)
- ``POST /rest/storage/upload/initiate`` then ``PUT /rest/storage/upload/put/<key>``: fal-js's upload
- ``POST /rest/storage/upload/initiate-multipart``, ``PUT .../multipart/<id>/<n>``, ``POST .../complete``:
  fal-js's multipart upload
- ``POST /cdn/files/upload`` (token): fal-client's upload; ``/cdn/files/upload/multipart``, part PUTs and
  ``complete``: fal-client's multipart upload (both multipart flows share one store)
- ``GET|HEAD /cdn/files/<key>``: the files, with Range support

Object expiry: fal's CDN reads ``X-Fal-Object-Lifecycle`` (JSON ``{"expiration_duration_seconds": N}``) on an
upload; storage-backed initiation (``/rest/storage/upload/initiate*``) reads it or
``X-Fal-Object-Lifecycle-Preference`` (fal-client 1.0.3 sends both, fal-js 1.10.1 the first). A file past its
expiry answers 404 and is deleted; ``EmulatorConfig.object_ttl_scale`` shrinks the seconds for tests.

Bodies are streamed to disk: a 100+ MiB upload never sits in memory::

    routes = StorageRoutes(gateway)
    Starlette(routes=routes.routes())
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .engine import Engine
from .gateway import Gateway, drop_halfway, read_json_body, reply

__all__ = ["MultipartUploads", "StorageRoutes", "lifecycle_seconds", "receive_to"]

#: The header fal's CDN reads on an upload, and the one storage-backed initiation also accepts (REAL_FAL.md).
CDN_LIFECYCLE = "x-fal-object-lifecycle"
PREFERENCE_LIFECYCLE = "x-fal-object-lifecycle-preference"


def lifecycle_seconds(request: Request, names: tuple[str, ...]) -> float | None | Response:
    """The object lifetime the first of ``names`` present asks for (None: no header, or fal's default
    retention), or a 400 for a header that is not ``{"expiration_duration_seconds": <seconds or null>}``."""
    raw = next((request.headers[n] for n in names if n in request.headers), None)
    if raw is None:
        return None
    try:
        spec = json.loads(raw)
        seconds = spec.get("expiration_duration_seconds") if isinstance(spec, dict) else math.nan
    except ValueError:
        seconds = math.nan
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
        return reply({"detail": f"Invalid object lifecycle header: {raw[:200]!r}"}, 400)
    return float(seconds)


async def receive_to(request: Request, path: Path) -> str:
    """Stream the request body into ``path``; return its MD5 (the part's ETag, as S3-style stores give)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("wb") as fh:
        async for chunk in request.stream():
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


async def parts_listed(request: Request) -> Any:
    """The ``parts`` list a multipart ``complete`` sent, or None."""
    body = await read_json_body(request)
    return None if isinstance(body, Response) or not isinstance(body, dict) else body.get("parts")


@dataclass
class _Upload:
    key: str
    content_type: str
    #: part number -> ETag (the MD5 of its bytes)
    parts: dict[int, str] = field(default_factory=dict)


class MultipartUploads:
    """Multipart uploads in progress: each part streamed to its own file, joined in order on ``complete``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.uploads: dict[str, _Upload] = {}

    def start(self, content_type: str) -> tuple[str, str]:
        """A new upload: the CDN key its file gets and its upload id."""
        key, upload_id = uuid.uuid4().hex, uuid.uuid4().hex
        self.uploads[upload_id] = _Upload(key, content_type or "application/octet-stream")
        return key, upload_id

    async def put_part(self, request: Request) -> tuple[int, str] | Response:
        """Store the part the request carries: its number and ETag, or a 404/400."""
        upload_id, number = request.path_params["upload_id"], request.path_params["part"]
        upload = self.uploads.get(upload_id)
        if upload is None:
            return reply({"detail": "Unknown upload"}, 404)
        if not 1 <= number <= 10_000:
            return reply({"detail": "Part numbers run from 1 to 10000"}, 400)
        etag = await receive_to(request, self.engine.storage / "parts" / upload_id / str(number))
        upload.parts[number] = etag
        return number, etag

    def complete(self, upload_id: str, listed: Any) -> Response | str:
        """Join the parts of ``upload_id`` (checking the list the client sent, when it sent one): its file's key."""
        upload = self.uploads.get(upload_id)
        if upload is None:
            return reply({"detail": "Unknown upload"}, 404)
        parts = upload.parts
        if isinstance(listed, list) and listed:
            try:
                claimed = {int(p["partNumber"]): str(p["etag"]).strip('"') for p in listed}
            except (KeyError, TypeError, ValueError):
                return reply({"detail": "parts must be a list of {partNumber, etag}"}, 400)
            if claimed != parts:
                return reply({"detail": "The parts listed do not match the parts uploaded"}, 400)
        if not parts or sorted(parts) != list(range(1, len(parts) + 1)):
            return reply({"detail": f"Parts must be numbered 1..n without gaps; got {sorted(parts)}"}, 400)
        self.uploads.pop(upload_id)
        storage = self.engine.storage
        path = storage / "files" / upload.key
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = storage / "parts" / upload_id
        with path.open("wb") as out:
            for number in sorted(parts):
                with (folder / str(number)).open("rb") as part:
                    shutil.copyfileobj(part, out, 1024 * 1024)
        shutil.rmtree(folder, ignore_errors=True)
        self.engine.files[upload.key] = (path, upload.content_type)
        return upload.key


class StorageRoutes:
    """Upload tokens, uploads (single and multipart, REST and CDN flavours) and file serving."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.engine = gateway.engine
        self.urls = gateway.urls
        #: Single-PUT uploads initiated but not yet sent: key -> (content type, file name, lifetime or None).
        self.pending: dict[str, tuple[str, str | None, float | None]] = {}
        self.multipart = MultipartUploads(gateway.engine)
        #: CDN key -> (when it was stored, monotonic; the lifetime it asked for), for uploads that asked for one.
        self.expires: dict[str, tuple[float, float]] = {}

    def keep_for(self, key: str, seconds: float | None) -> None:
        """Record that ``key`` lives ``seconds`` from now; None keeps it (fal's default retention)."""
        if seconds is not None:
            self.expires[key] = (time.monotonic(), seconds)

    def expired(self, key: str) -> bool:
        """Whether ``key`` is past its lifetime (times ``object_ttl_scale``, read now); an expired object is
        deleted (fal's CDN no longer serves it)."""
        kept = self.expires.get(key)
        if kept is None or time.monotonic() - kept[0] < kept[1] * self.engine.config.object_ttl_scale:
            return False
        self.expires.pop(key, None)
        entry = self.engine.files.pop(key, None)
        if entry is not None:
            entry[0].unlink(missing_ok=True)
        self.gateway.count("cdn_expired")
        return True

    def routes(self) -> list[Route]:
        return [
            Route("/rest/storage/auth/token", self.token, methods=["POST"]),
            Route("/rest/storage/upload/initiate", self.initiate, methods=["POST"]),
            Route("/rest/storage/upload/put/{key}", self.put, methods=["PUT"]),
            Route("/rest/storage/upload/initiate-multipart", self.initiate_multipart, methods=["POST"]),
            Route("/rest/storage/upload/multipart/{upload_id}/{part:int}", self.rest_part, methods=["PUT"]),
            Route("/rest/storage/upload/multipart/{upload_id}/complete", self.rest_complete, methods=["POST"]),
            Route("/cdn/files/upload", self.cdn_upload, methods=["POST"]),
            Route("/cdn/files/upload/multipart", self.cdn_multipart_start, methods=["POST"]),
            Route("/cdn/files/{key}/multipart/{upload_id}/{part:int}", self.cdn_part, methods=["PUT"]),
            Route("/cdn/files/{key}/multipart/{upload_id}/complete", self.cdn_complete, methods=["POST"]),
            Route("/cdn/files/{key}", self.file, methods=["GET", "HEAD"]),
        ]

    # ------------------------------------------------------------------ rest.fal.ai

    async def token(self, request: Request) -> Response:
        self.gateway.count("storage_token")
        admitted = await self.gateway.admit(request)
        if isinstance(admitted, Response):
            return admitted
        token, expires = self.engine.issue_token()
        expires_at = datetime.fromtimestamp(expires, timezone.utc).isoformat()
        return reply({"token": token, "token_type": "Bearer", "base_url": self.urls.cdn, "expires_at": expires_at})

    async def initiation(self, request: Request) -> Any:
        """The body of an ``initiate`` call (single or multipart) once the gateway let it through, or a refusal."""
        self.gateway.count("upload_initiate")
        admitted = await self.gateway.admit(request)
        if isinstance(admitted, Response):
            return admitted
        return await read_json_body(request)

    async def initiate(self, request: Request) -> Response:
        spec = await self.initiation(request)
        if isinstance(spec, Response):
            return spec
        lifetime = lifecycle_seconds(request, (CDN_LIFECYCLE, PREFERENCE_LIFECYCLE))
        if isinstance(lifetime, Response):
            return lifetime
        key = uuid.uuid4().hex
        content_type = str(spec.get("content_type") or "application/octet-stream")
        self.pending[key] = (content_type, spec.get("file_name"), lifetime)
        return reply({"upload_url": f"{self.urls.rest}/storage/upload/put/{key}", "file_url": self.urls.file(key)})

    async def put(self, request: Request) -> Response:
        self.gateway.count("upload_put")
        key = request.path_params["key"]
        if key not in self.pending:
            return reply({"detail": "Unknown upload"}, 404)
        content_type, _name, lifetime = self.pending.pop(key)
        path = self.engine.storage / "files" / key
        await receive_to(request, path)
        self.engine.files[key] = (path, request.headers.get("content-type", content_type))
        self.keep_for(key, lifetime)
        return Response(status_code=200)

    async def initiate_multipart(self, request: Request) -> Response:
        """The JS client's multipart flow: ``upload_url`` takes ``/<part>`` PUTs, then ``/complete``."""
        spec = await self.initiation(request)
        if isinstance(spec, Response):
            return spec
        lifetime = lifecycle_seconds(request, (CDN_LIFECYCLE, PREFERENCE_LIFECYCLE))
        if isinstance(lifetime, Response):
            return lifetime
        key, upload_id = self.multipart.start(str(spec.get("content_type") or ""))
        self.keep_for(key, lifetime)
        upload_url = f"{self.urls.rest}/storage/upload/multipart/{upload_id}"
        return reply({"upload_url": upload_url, "file_url": self.urls.file(key)})

    async def rest_part(self, request: Request) -> Response:
        self.gateway.count("upload_part")
        done = await self.multipart.put_part(request)
        if isinstance(done, Response):
            return done
        return reply({"partNumber": done[0], "etag": done[1]})

    async def rest_complete(self, request: Request) -> Response:
        done = self.multipart.complete(request.path_params["upload_id"], await parts_listed(request))
        return done if isinstance(done, Response) else reply({"file_url": self.urls.file(done)})

    # ------------------------------------------------------------------ v3.fal.media

    def cdn_refused(self, request: Request, route: str | None) -> Response | None:
        """Count ``route`` (when it is counted) and check the CDN token: a 401 when it is not live."""
        if route is not None:
            self.gateway.count(route)
        return self.gateway.token_refused(request)

    async def cdn_upload(self, request: Request) -> Response:
        refused = self.cdn_refused(request, "cdn_upload")
        if refused is not None:
            return refused
        lifetime = lifecycle_seconds(request, (CDN_LIFECYCLE,))  # the CDN reads this one only
        if isinstance(lifetime, Response):
            return lifetime
        key, path = self.engine.new_file(request.headers.get("x-fal-file-name"))
        await receive_to(request, path)
        self.engine.files[key] = (path, request.headers.get("content-type", "application/octet-stream"))
        self.keep_for(key, lifetime)
        return reply({"access_url": self.urls.file(key)})

    async def cdn_multipart_start(self, request: Request) -> Response:
        refused = self.cdn_refused(request, "cdn_upload")
        if refused is not None:
            return refused
        lifetime = lifecycle_seconds(request, (CDN_LIFECYCLE,))
        if isinstance(lifetime, Response):
            return lifetime
        key, upload_id = self.multipart.start(request.headers.get("content-type", ""))
        self.keep_for(key, lifetime)
        return reply({"access_url": self.urls.file(key), "uploadId": upload_id})

    async def cdn_part(self, request: Request) -> Response:
        refused = self.cdn_refused(request, "cdn_part")
        if refused is not None:
            return refused
        done = await self.multipart.put_part(request)
        if isinstance(done, Response):
            return done
        return Response(status_code=200, headers={"ETag": f'"{done[1]}"'})

    async def cdn_complete(self, request: Request) -> Response:
        refused = self.cdn_refused(request, None)
        if refused is not None:
            return refused
        done = self.multipart.complete(request.path_params["upload_id"], await parts_listed(request))
        return done if isinstance(done, Response) else reply({"access_url": self.urls.file(done)})

    async def file(self, request: Request) -> Response:
        """A stored file (Range requests answered by starlette's ``FileResponse``)."""
        self.gateway.count("cdn_get")
        key = request.path_params["key"]
        entry = None if self.expired(key) else self.engine.files.get(key)
        if entry is None:
            return reply({"detail": "File not found"}, 404)
        path, content_type = entry
        if self.gateway.roll_file_drop(request):
            return await drop_halfway(Response(path.read_bytes(), media_type=content_type))
        return FileResponse(path, media_type=content_type)
