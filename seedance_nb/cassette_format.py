"""The cassette file: what a recorded fal session looks like on disk, how it is redacted, and how it is read.

A cassette is one JSON document (docs/fal-fidelity.md, "Cassettes", documents every field)::

    {"format": "seedance-nb-cassette", "version": 1, "recorded_at": "...", "hosts": {"queue": "...", ...},
     "interactions": [{"seq": 0, "t": 0.0, "elapsed": 0.01,
                       "request": {"method": "POST", "url": "<queue>/bytedance/...", "headers": {...},
                                   "body": {"json": {...}}},
                       "response": {"status": 200, "headers": {...}, "body": {"json": {...}}}}, ...]}

Every URL on one of the session's hosts is written with the host's role in its place (``<queue>``, ``<rest>``,
``<cdn>``, ``<api>``), so a cassette recorded on fal replays on any emulator. Redaction (:class:`Redactor`)
removes the key (the Authorization header, any ``Key …`` value, the key itself and its halves anywhere), every
query-string value of a URL but a few harmless ones (signed CDN URLs, ``fal_token``), JWTs, the values of
token-like JSON fields, and the bytes of data URIs (their media type, size and SHA-256 are kept). Bodies that are
not JSON or text (videos, uploaded images) are never stored: their size, SHA-256 and content type are.

This module is pure (no I/O but :func:`load` and :func:`save`): the recorder (:mod:`seedance_nb.cassettes`) and
the emulator's replay (:mod:`seedance_nb.emulator.replay`) both stand on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .errors import InputError, Problem
from .keys import scrub_text

__all__ = [
    "FORMAT",
    "REDACTED",
    "ROLES",
    "VERSION",
    "Job",
    "Redactor",
    "body_summary",
    "jobs",
    "load",
    "save",
    "status_sequence",
    "stream_events",
    "with_hosts",
]

FORMAT = "seedance-nb-cassette"
VERSION = 1
REDACTED = "<redacted>"
#: The hosts a session talks to, by role, as fal names them (queue.fal.run, rest.fal.ai, v3.fal.media,
#: api.fal.ai) and as they appear in a cassette's URLs (``<queue>/...``).
ROLES = ("queue", "rest", "cdn", "api")
#: fal's own hosts for the roles, kept as roles even when the session was pointed elsewhere.
FAL_HOSTS = {
    "https://queue.fal.run": "queue",
    "https://rest.fal.ai": "rest",
    "https://v3.fal.media": "cdn",
    "https://v3b.fal.media": "cdn",
    "https://fal.media": "cdn",
    "https://api.fal.ai": "api",
}
#: Query parameters whose values say nothing secret (fal's queue and history routes); every other value goes.
SAFE_QUERY = frozenset(
    {"logs", "endpoint_id", "limit", "cursor", "status", "start", "end", "request_id", "expand", "storage_type"}
)
_TOKEN_FIELDS = frozenset(
    {"token", "access_token", "refresh_token", "secret", "key", "api_key", "password", "authorization", "jwt"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_KEY_VALUE = re.compile(r"\b(Key|Bearer)\s+(?!<)[^\s\"',;]+", re.IGNORECASE)
_DATA_URI = re.compile(r"data:([\w.+/-]*)((?:;[\w=.+-]+)*),([A-Za-z0-9+/=%_-]*)")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_TEXT_TYPES = ("application/json", "text/", "application/problem+json")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Redactor:
    """Redacts what a session sent and received for a cassette: the key, signed URLs, tokens, user files.

    Args:
        hosts: the session's base URL of each role (``{"queue": "https://queue.fal.run", ...}``).
        key: the API key in use (also scrubbed wherever it appears, with every key seedance-nb knows of).
    """

    def __init__(self, hosts: Mapping[str, str], key: str | None) -> None:
        bases = {base.rstrip("/"): role for base, role in FAL_HOSTS.items()}
        bases.update({url.rstrip("/"): role for role, url in hosts.items() if url})
        self._bases = sorted(bases.items(), key=lambda item: len(item[0]), reverse=True)
        self._key = key

    def url(self, url: str) -> str:
        """``url`` with its host's role in place of the host and its query values redacted (safe names kept).

        Args:
            url: an absolute URL.
        """
        for base, role in self._bases:
            if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
                url = f"<{role}>" + url[len(base) :]
                break
        head, sep, query = url.partition("?")
        if not sep:
            return head
        pairs = [
            (k, v if k in SAFE_QUERY else (self.url(v) if _URL.fullmatch(v) else REDACTED))
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        return head + "?" + urlencode(pairs, safe="<>/:")

    def text(self, text: str) -> str:
        """``text`` with keys, JWTs, data URIs (their bytes) and URLs (hosts, query values) redacted.

        Args:
            text: any text a session sent or received.
        """
        if self._key:
            text = text.replace(self._key, REDACTED)
        text = _DATA_URI.sub(_data_uri, text)
        text = _URL.sub(lambda m: self.url(m.group(0)), text)
        text = _JWT.sub("<jwt redacted>", text)
        text = _KEY_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return scrub_text(text)

    def json(self, value: Any) -> Any:
        """``value`` (JSON) with :meth:`text` applied to every string and token-like fields' values replaced.

        Args:
            value: a decoded JSON body.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                self.text(str(k)): REDACTED if str(k).lower() in _TOKEN_FIELDS and v else self.json(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value

    def headers(self, headers: Any) -> dict[str, str]:
        """The headers (an httpx ``Headers`` or pairs) with the Authorization value and any secret redacted.

        Args:
            headers: ``httpx.Headers`` or a mapping.
        """
        out: dict[str, str] = {}
        pairs = headers.multi_items() if hasattr(headers, "multi_items") else list(dict(headers).items())
        for name, value in pairs:
            lower = name.lower()
            if lower == "host":  # the URL says where it went (as a role)
                continue
            if lower in ("authorization", "proxy-authorization", "cookie", "set-cookie"):
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} {REDACTED}".strip()
            else:
                value = self.text(value)
            out[lower] = f"{out[lower]}, {value}" if lower in out else value
        return out

    def body(self, data: bytes, content_type: str | None) -> dict[str, Any]:
        """What a cassette keeps of a body: JSON (redacted), text (redacted), or only its size and hash.

        Args:
            data: the body's bytes as sent or received.
            content_type: its Content-Type header.
        """
        kind = (content_type or "").split(";")[0].strip().lower()
        summary = body_summary(data, kind)
        if not data:
            return summary
        if kind.endswith("json"):
            try:
                return {**summary, "json": self.json(json.loads(data))}
            except (ValueError, UnicodeDecodeError):
                pass
        if kind.startswith(_TEXT_TYPES) or kind.endswith(("json", "event-stream", "html", "xml")):
            try:
                return {**summary, "text": self.text(data.decode("utf-8"))}
            except UnicodeDecodeError:
                pass
        return summary


def body_summary(data: bytes, content_type: str) -> dict[str, Any]:
    """The size, SHA-256 and content type of a body (what a cassette keeps of a video or an upload).

    Args:
        data: the body.
        content_type: its media type.
    """
    return {"size": len(data), "sha256": _digest(data), "content_type": content_type or None}


def _data_uri(match: re.Match[str]) -> str:
    payload = match.group(3)
    return f"data:{match.group(1)}{match.group(2)},<redacted {len(payload)} chars sha256={_digest(payload.encode())}>"


def with_hosts(value: Any, hosts: Mapping[str, str]) -> Any:
    """``value`` (recorded JSON) with each ``<role>`` URL prefix replaced by that role's base URL in ``hosts``.

    Args:
        value: recorded JSON (an input to send again, say).
        hosts: ``{"queue": "http://127.0.0.1:8787/queue", "cdn": ...}``.
    """
    text = json.dumps(value)
    for role, url in hosts.items():
        text = text.replace(f"<{role}>", url.rstrip("/"))
    return json.loads(text)


# --------------------------------------------------------------------------- reading


def load(path: str | Path) -> dict[str, Any]:
    """A cassette file, checked to be one this version reads.

    Args:
        path: the ``.cassette.json`` file.

    Raises:
        InputError: the file is not a cassette, or one of a later format version.
    """
    where = Path(path)
    try:
        document = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(where, f"cannot be read as JSON ({exc})", "a file sd.record(path) wrote") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _bad(where, f"is not a seedance-nb cassette (no format {FORMAT!r})", "a file sd.record(path) wrote")
    if document.get("version") != VERSION:
        raise _bad(
            where,
            f"has format version {document.get('version')!r}; this seedance-nb reads version {VERSION}",
            "upgrade seedance-nb or record the cassette again",
        )
    return document


def _bad(where: Path, message: str, allowed: str) -> InputError:
    return InputError([Problem("cassette", message, str(where), allowed)])


def save(document: Mapping[str, Any], path: str | Path) -> Path:
    """Write a cassette (indented JSON, keys in a stable order).

    Args:
        document: the cassette.
        path: where it goes.
    """
    where = Path(path)
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return where


@dataclass
class Job:
    """One queued request of a cassette: its submit and every later exchange about it, by route, in order."""

    endpoint: str
    request_id: str
    submit: dict[str, Any]
    routes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def input(self) -> Any:
        """The submitted JSON input (redacted)."""
        return self.submit["request"].get("body", {}).get("json")


def _route(path: str, request_id: str) -> str | None:
    """Which route of request ``request_id`` a queue path is (status, stream, result, cancel), or None."""
    marker = f"/requests/{request_id}"
    if marker not in path:
        return None
    tail = path.split(marker, 1)[1].split("?", 1)[0]
    return {"": "result", "/status": "status", "/status/stream": "stream", "/cancel": "cancel"}.get(tail)


def jobs(document: Mapping[str, Any]) -> list[Job]:
    """The cassette's queued requests in submit order, each with its exchanges grouped by route.

    Args:
        document: a loaded cassette.
    """
    found: list[Job] = []
    for item in document.get("interactions", []):
        request, response = item["request"], item.get("response") or {}
        url = request["url"]
        if not url.startswith("<queue>/"):
            continue
        if request["method"] == "POST":
            body = (response.get("body") or {}).get("json") or {}
            if isinstance(body, dict) and body.get("request_id"):
                endpoint = url[len("<queue>/") :].split("?", 1)[0]
                found.append(Job(endpoint, str(body["request_id"]), item))
            continue
        for job in found:
            route = _route(url, job.request_id)
            if route is not None:
                job.routes.setdefault(route, []).append(item)
                break
    return found


def stream_events(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON events of a recorded status stream (``data:`` lines), in order.

    Args:
        item: an interaction of the stream route.
    """
    text = ((item.get("response") or {}).get("body") or {}).get("text") or ""
    events = []
    for line in text.splitlines():
        if line.startswith("data:"):
            try:
                events.append(json.loads(line[5:].strip()))
            except ValueError:
                continue
    return events


def status_sequence(job: Job) -> list[str]:
    """The statuses the job went through as recorded (submit, polls and stream events), repeats folded.

    Args:
        job: one of :func:`jobs`.
    """
    seen: list[tuple[float, str]] = []
    submitted = ((job.submit.get("response") or {}).get("body") or {}).get("json") or {}
    if submitted.get("status"):
        seen.append((job.submit["t"], submitted["status"]))
    for item in job.routes.get("status", []):
        body = ((item.get("response") or {}).get("body") or {}).get("json") or {}
        if isinstance(body, dict) and body.get("status"):
            seen.append((item["t"], body["status"]))
    for item in job.routes.get("stream", []):
        seen.extend((item["t"], event["status"]) for event in stream_events(item) if event.get("status"))
    out: list[str] = []
    for _t, status in sorted(seen, key=lambda pair: pair[0]):
        if not out or out[-1] != status:
            out.append(status)
    return out
