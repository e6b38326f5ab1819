"""The recorder behind :func:`record`: a tap on the client's transports (``seedance_nb.client._network.TAPS``).

It sees each exchange as it happens (the request when it is sent, the answer's headers when they come, the body
as the client reads it) and keeps it in memory, unredacted, only until the ``with`` block ends; the file written
then is redacted (:class:`seedance_nb.cassette_format.Redactor`). Bodies that are not JSON or text (videos) are
hashed as they stream past, never kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ..cassette_format import FORMAT, VERSION, Redactor, body_summary, save
from ..client._network import TAPS
from ..client._transport import USER_AGENT
from ..errors import InputError, Problem

__all__ = ["Recorder", "record"]

#: The most of a text or JSON body kept in memory while recording (fal's answers are a few KB).
_KEEP_BYTES = 4 << 20


def _keeps(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.endswith(("json", "event-stream")) or kind.startswith("text/")


class _Tee(httpx.AsyncByteStream):
    """The answer's body as the client reads it, hashed (and kept, for JSON and text) on the way past."""

    def __init__(self, inner: Any, entry: dict[str, Any], recorder: Recorder) -> None:
        self._inner = inner
        self._entry = entry
        self._recorder = recorder
        self._keep = _keeps(entry["response"]["content_type"])
        self._hash = hashlib.sha256()
        self._size = 0
        self._kept = bytearray()
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._size += len(chunk)
            self._hash.update(chunk)
            if self._keep and len(self._kept) < _KEEP_BYTES:
                self._kept += chunk
            yield chunk
        self._finish()

    async def aclose(self) -> None:
        self._finish()
        await self._inner.aclose()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        response = self._entry["response"]
        response["finished"] = self._recorder.now()
        response["raw"] = bytes(self._kept) if self._keep else None
        response["size"], response["sha256"] = self._size, self._hash.hexdigest()


class Recorder:
    """What :func:`record` yields: it collects a session's exchanges and writes the cassette when it ends.

    Args:
        path: the cassette file to write.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._t0 = time.monotonic()
        self._started = datetime.now(timezone.utc)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._open: dict[int, dict[str, Any]] = {}
        self._hosts: dict[str, str] = {}
        self._keys: set[str] = set()

    def __repr__(self) -> str:
        return f"<Recorder {str(self.path)!r} {len(self._entries)} exchanges>"

    def __len__(self) -> int:
        return len(self._entries)

    def now(self) -> float:
        """Seconds since the recording started."""
        return round(time.monotonic() - self._t0, 4)

    def started(self, owner: Any, request: httpx.Request) -> None:
        """A request is about to be sent (called by the client's tapped transport).

        Args:
            owner: the client's transport (its hosts and key are read for redaction).
            request: the request.
        """
        if not self._hosts:
            self._hosts = {role: getattr(owner, f"{role}_url", "") for role in ("queue", "rest", "cdn", "api")}
        key = owner.api_key() if hasattr(owner, "api_key") else None
        if key:
            self._keys.add(key)
        try:
            content: bytes | None = request.content
        except httpx.RequestNotRead:  # a streamed upload: only its length is known
            content = None
        entry = {
            "seq": next(self._seq),
            "t": self.now(),
            "request": {"method": request.method, "url": str(request.url), "headers": request.headers.copy()},
            "content": content,
            "response": None,
        }
        with self._lock:
            self._entries.append(entry)
            self._open[id(request)] = entry

    def answered(self, owner: Any, request: httpx.Request, response: httpx.Response) -> None:
        """The answer's headers came (called by the client's tapped transport); its body is watched as it is read.

        Args:
            owner: the client's transport.
            request: the request.
            response: the answer, its body not read yet.
        """
        with self._lock:
            entry = self._open.pop(id(request), None)
        if entry is None:
            return
        entry["response"] = {
            "status": response.status_code,
            "headers": response.headers.copy(),
            "elapsed": round(self.now() - entry["t"], 4),
            "content_type": response.headers.get("content-type", ""),
        }
        response.stream = _Tee(response.stream, entry, self)

    def document(self) -> dict[str, Any]:
        """The cassette as it would be written now (redacted)."""
        key = max(self._keys, key=len) if self._keys else None
        redactor = Redactor(self._hosts, key)
        hosts = {role: redactor.url(url) if url else "" for role, url in self._hosts.items()}
        return {
            "format": FORMAT,
            "version": VERSION,
            "recorded_at": self._started.isoformat(timespec="seconds"),
            "recorder": USER_AGENT,
            "hosts": {role: "fal" if value == f"<{role}>" else "elsewhere" for role, value in hosts.items()},
            "interactions": [_interaction(entry, redactor) for entry in sorted(self._entries, key=lambda e: e["seq"])],
        }

    def save(self) -> Path:
        """Write the cassette to :attr:`path` (redacted) and return the path."""
        return save(self.document(), self.path)


def _interaction(entry: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """One exchange as the cassette keeps it."""
    request = entry["request"]
    content = entry["content"]
    request_type = request["headers"].get("content-type", "")
    out: dict[str, Any] = {
        "seq": entry["seq"],
        "t": entry["t"],
        "request": {
            "method": request["method"],
            "url": redactor.url(request["url"]),
            "headers": redactor.headers(request["headers"]),
            "body": redactor.body(content, request_type) if content is not None else {"size": None},
        },
        "response": None,
    }
    response = entry["response"]
    if response is None:
        return out  # no answer came (a network error) or the recording ended first
    raw = response.get("raw")
    if raw is not None:
        body = {**redactor.body(raw, response["content_type"]), "sha256": response["sha256"], "size": response["size"]}
    elif "size" in response:
        body = {"size": response["size"], "sha256": response["sha256"], "content_type": response["content_type"]}
    else:
        body = body_summary(b"", response["content_type"]) | {"size": None, "sha256": None}
    out["response"] = {
        "status": response["status"],
        "elapsed": response["elapsed"],
        "headers": redactor.headers(response["headers"]),
        "body": body,
    }
    return out


@contextlib.contextmanager
def record(path: str | Path) -> Iterator[Recorder]:
    """Record every request and response of the seedance-nb client inside the ``with`` block to a cassette.

    ::

        with sd.record("session.cassette.json") as rec:
            sd.generate(image=sd.sample_image(), prompt="a slow push-in", resolution="480p", duration=4)
        len(rec)   # exchanges recorded

    The file is written when the block ends (also when it raises), redacted: the key, signed URL query strings,
    tokens and JWTs, and the bytes of data URIs never reach it; of a video or an uploaded image only the size,
    SHA-256 and content type are kept. ``seedance-nb emulator --replay FILE`` replays it
    (docs/fal-fidelity.md, "Cassettes").

    Args:
        path: the cassette file to write (``.cassette.json`` by convention); its folder is created.

    Raises:
        InputError: ``path`` is an existing folder.
    """
    where = Path(path)
    if where.is_dir():
        raise InputError([Problem("path", "is a folder", str(where), "a file name, like session.cassette.json")])
    recorder = Recorder(where)
    TAPS.append(recorder)
    try:
        yield recorder
    finally:
        TAPS.remove(recorder)
        recorder.save()
