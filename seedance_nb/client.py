"""A thin async client for fal's queue, at least as capable as ``fal_client`` and lighter on the wire.

::

    async with AsyncClient() as client:              # FAL_KEY from the environment, read lazily
        handle = await client.submit(VideoInput(prompt="push in", image_url=url, duration=5))
        async for event in handle.events():          # Queued / InProgress / Completed
            print(event)
        output = await handle.result()               # VideoOutput, or a RequestFailed subclass

One job costs four HTTP requests against the emulator: submit, one status
stream (SSE), result, and the video download. When the stream is unavailable
the handle polls, starting at 0.5 s and backing off to 5 s (not fal_client's
0.1 s). Base URLs are arguments, never import-time constants, and ``transport=``
takes any httpx transport (tests use ``httpx.MockTransport``).

The key goes only to fal's API hosts (the configured queue, rest and api URLs):
it is added per request, never as a client-wide header, so a video download or
a URL a server names on another host never receives it, and an API call to a
foreign host is refused. Everything read from a server is bounded: a status
stream line, a result body, and a status stream that goes silent (see
:class:`Limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import math
import os
import random
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

import httpx

from ._names import set_public_module
from .errors import (
    AmbiguousSubmit,
    APIError,
    AuthenticationError,
    ModerationError,
    NotFoundError,
    Problem,
    ProtocolError,
    RateLimitError,
    RejectedInput,
    RequestCancelled,
    RequestFailed,
    ServerError,
    StartTimeout,
    WaitTimeout,
    redact,
)
from .keys import remember, resolve_key, scrub
from .retry import RetryPolicy, backoff_seconds, retry_after_seconds, should_retry
from .schema import DEFAULT_ENDPOINT, SNAPSHOT_ENDPOINTS, EndpointId, VideoInput, VideoOutput, validate_payload

__all__ = [
    "FAL_API_URL",
    "FAL_CDN_URL",
    "FAL_QUEUE_URL",
    "FAL_REST_URL",
    "AsyncClient",
    "Completed",
    "InProgress",
    "Limits",
    "LogEntry",
    "Queued",
    "RequestHandle",
    "ResultDetails",
    "Status",
    "cancel_status",
    "parse_status",
    "resolve_key",
]

logger = logging.getLogger("seedance_nb.client")

FAL_QUEUE_URL = "https://queue.fal.run"
FAL_REST_URL = "https://rest.fal.ai"
FAL_CDN_URL = "https://v3.fal.media"
FAL_API_URL = "https://api.fal.ai"
#: fal-client 1.0.3 falls back to these when it cannot connect to fal's main hosts (REAL_FAL.md).
BACKUP_HOSTS = {"queue.fal.run": "queue.falrun.com", "fal.run": "falrun.com"}
USER_AGENT = "seedance-nb/0.1 (python)"


# --------------------------------------------------------------------------- status events


@dataclass(frozen=True)
class LogEntry:
    message: str
    level: str = "INFO"
    timestamp: str = ""

    @classmethod
    def from_json(cls, data: Any) -> LogEntry:
        """One entry of a status's ``logs`` list.

        Args:
            data: fal's log object (``message``, ``level``, ``timestamp``); anything else becomes the message.
        """
        if not isinstance(data, Mapping):
            return cls(message=str(data))
        return cls(str(data.get("message", "")), str(data.get("level") or "INFO"), str(data.get("timestamp") or ""))


@dataclass(frozen=True)
class Queued:
    """Waiting in fal's queue; ``position`` requests are ahead."""

    position: int
    logs: tuple[LogEntry, ...] = ()


@dataclass(frozen=True)
class InProgress:
    """A runner is generating the video."""

    logs: tuple[LogEntry, ...] = ()


@dataclass(frozen=True)
class Completed:
    """Finished: with a video, or with ``error`` / ``error_type`` (the result endpoint says more)."""

    logs: tuple[LogEntry, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Status = Union[Queued, InProgress, Completed]  # noqa: UP007 (a runtime alias)


def parse_status(data: Any, logs: tuple[LogEntry, ...] | None = None) -> Status:
    """Read one status body (poll or stream event). The only place status JSON is parsed."""
    if not isinstance(data, Mapping) or "status" not in data:
        raise ProtocolError(f"expected a status object, got {str(data)[:200]!r}")
    if logs is None:
        raw = data.get("logs") or []
        logs = tuple(LogEntry.from_json(item) for item in raw) if isinstance(raw, list) else ()
    state = data["status"]
    if state == "IN_QUEUE":
        position = data.get("queue_position", 0)
        if isinstance(position, bool) or not isinstance(position, int):
            raise ProtocolError(f"queue_position must be an integer, got {position!r}")
        return Queued(position, logs)
    if state == "IN_PROGRESS":
        return InProgress(logs)
    if state == "COMPLETED":
        metrics = data.get("metrics")
        return Completed(
            logs, dict(metrics) if isinstance(metrics, Mapping) else {}, data.get("error"), data.get("error_type")
        )
    raise ProtocolError(f"unknown request status {state!r} (expected IN_QUEUE, IN_PROGRESS or COMPLETED)")


class _Logs:
    """Accumulates log entries, dropping ones seen before (polls return a moving window)."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self._seen: set[LogEntry] = set()

    def add(self, raw: Any) -> tuple[LogEntry, ...]:
        if isinstance(raw, list):
            for item in raw:
                entry = LogEntry.from_json(item)
                if entry not in self._seen:
                    self._seen.add(entry)
                    self.entries.append(entry)
        return tuple(self.entries)


# --------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class Limits:
    """How much a server may send, and how long it may stay silent, before a wait is given up.

    - ``max_event_bytes``: one line of the status stream (fal's events are a few KB; 1 MiB is generous);
    - ``max_result_bytes``: a result body (fal's is a few hundred bytes: the video is a URL);
    - ``stall_seconds``: a status stream that sends nothing (not even a keep-alive) for this long is dropped
      for polling; a download that receives less than ``min_download_bytes`` in this long is a stall (the
      job is ``interrupted`` and resumable: the video stays on fal).
    """

    max_event_bytes: int = 1 << 20
    max_result_bytes: int = 8 << 20
    stall_seconds: float = 60.0
    min_download_bytes: int = 64 << 10


class _Secret:
    """Holds the key so that no ``repr``, ``vars()`` or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value
        remember(value)  # kept out of everything stored, as FAL_KEY is

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<secret>" if self._value else "<none>"

    def __bool__(self) -> bool:
        return bool(self._value)


# --------------------------------------------------------------------------- key


# --------------------------------------------------------------------------- errors


def _detail(response: httpx.Response) -> tuple[Any, str | None]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500], response.headers.get("x-fal-error-type")
    if isinstance(body, Mapping):
        return body.get("detail", body), body.get("error_type") or response.headers.get("x-fal-error-type")
    return body, response.headers.get("x-fal-error-type")


def _redact_json(value: Any, key: str | None) -> Any:
    """``value`` (server JSON) with the key removed from every string in it."""
    if isinstance(value, str):
        return redact(value, key)
    if isinstance(value, Mapping):
        return {redact(str(k), key): _redact_json(v, key) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_json(v, key) for v in value]
    return value


def _api_error(response: httpx.Response, request_id: str | None, key: str | None) -> APIError:
    detail, error_type = _detail(response)
    detail = _redact_json(detail, key)
    code = response.status_code
    text = redact(detail if isinstance(detail, str) else json.dumps(detail)[:500], key)
    where = f" for request {request_id}" if request_id else ""
    kwargs = dict(
        status_code=code,
        detail=detail,
        error_type=error_type,
        request_id=request_id,
        url=redact(str(response.request.url), key),
    )
    if code in (401, 403):
        return AuthenticationError(
            f"fal refused the API key ({code}: {text}). Set FAL_KEY to the 'key_id:key_secret' "
            "shown at fal.ai/dashboard/keys (or check the account's balance).",
            **kwargs,
        )
    if code == 404:
        return NotFoundError(f"not found{where} ({text}); results expire after about an hour", **kwargs)
    if code == 429:
        return RateLimitError(f"fal is rate limiting{where} (429: {text}); try fewer concurrent jobs", **kwargs)
    if code >= 500:
        return ServerError(f"fal answered {code}{where}: {text}", **kwargs)
    return APIError(f"fal answered {code}{where}: {text}", **kwargs)


def _failure(response: httpx.Response, request_id: str, key: str | None) -> RequestFailed | RequestCancelled:
    """The error a failed request's result endpoint describes (server text redacted of the key)."""
    detail, error_type = _detail(response)
    detail = _redact_json(detail, key)
    error_type = redact(error_type, key) if error_type else error_type
    code = response.status_code
    retryable_header = response.headers.get("x-fal-retryable")
    retryable = None if retryable_header is None else retryable_header.lower() == "true"
    kwargs = dict(request_id=request_id, status_code=code, detail=detail, error_type=error_type, retryable=retryable)
    if error_type == "client_cancelled" or code == 499:
        return RequestCancelled(f"request {request_id} was cancelled", request_id=request_id)
    if error_type == "request_timeout" and code == 504:
        return StartTimeout(f"request {request_id} did not start before its start_timeout", **kwargs)
    if code == 422:
        items = detail if isinstance(detail, list) else [{"loc": ["input"], "msg": str(detail)}]
        problems = [Problem.from_fal_detail(item) for item in items]
        types = {p.type for p in problems}
        kwargs["error_type"] = error_type or (problems[0].type if problems else None)
        text = "; ".join(str(p) for p in problems)
        if "content_policy_violation" in types:
            kwargs["error_type"] = "content_policy_violation"
            return ModerationError(f"request {request_id} was refused by content moderation: {text}", **kwargs)
        return RejectedInput(f"request {request_id}: fal rejected the input: {text}", problems=problems, **kwargs)
    text = detail if isinstance(detail, str) else json.dumps(detail)[:300]
    return RequestFailed(
        f"request {request_id} failed ({code} {error_type or ''}): {text}".replace("  ", " "), **kwargs
    )


# --------------------------------------------------------------------------- client


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once per process:
    loading the CA bundle costs ~50 ms of CPU, which every new client would otherwise pay again."""
    return httpx.create_ssl_context()


class AsyncClient:
    """fal's queue over one ``httpx.AsyncClient`` per event loop. Use as an async context manager.

    Args:
        key: the API key; default ``FAL_KEY`` (or ``FAL_KEY_ID`` + ``FAL_KEY_SECRET``), read when the first
            request is sent. It is sent only to ``queue_url``, ``rest_url`` and ``api_url``.
        queue_url: fal's queue host; default ``SEEDANCE_QUEUE_URL``, else ``https://queue.fal.run``.
        rest_url: fal's REST host (storage upload tokens); default ``SEEDANCE_REST_URL``, else ``https://rest.fal.ai``.
        cdn_url: fal's CDN host for uploads; default ``SEEDANCE_CDN_URL``, else ``https://v3.fal.media``.
        api_url: fal's platform API host (pricing, request history); default ``SEEDANCE_API_URL``, else
            ``https://api.fal.ai``.
        transport: any httpx transport (tests).
        timeout: seconds for one HTTP exchange.
        retry: the retry policy (:class:`seedance_nb.retry.RetryPolicy`).
        limits: bounds on what a server may send (:class:`Limits`).

    ``backend`` is ``"fal"`` or ``"emulator"`` (set by :func:`seedance_nb.connect`).
    """

    def __init__(
        self,
        key: str | None = None,
        *,
        queue_url: str | None = None,
        rest_url: str | None = None,
        cdn_url: str | None = None,
        api_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        poll_interval: float = 0.5,
        max_poll_interval: float = 5.0,
        backend: str | None = None,
        emulator: Any = None,
    ) -> None:
        self._secret = _Secret(key)
        self.queue_url = (queue_url or os.environ.get("SEEDANCE_QUEUE_URL") or FAL_QUEUE_URL).rstrip("/")
        self.rest_url = (rest_url or os.environ.get("SEEDANCE_REST_URL") or FAL_REST_URL).rstrip("/")
        self.cdn_url = (cdn_url or os.environ.get("SEEDANCE_CDN_URL") or FAL_CDN_URL).rstrip("/")
        self.api_url = (api_url or os.environ.get("SEEDANCE_API_URL") or FAL_API_URL).rstrip("/")
        self.transport = transport
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits()
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.backend = backend or ("fal" if self.queue_url == FAL_QUEUE_URL else "emulator")
        self.emulator = emulator
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        #: (Authorization value, base URL, expires at as a Unix time or None) of the CDN upload token.
        self._cdn_token: tuple[str, str, float | None] | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key() else "none"
        return f"<AsyncClient backend={self.backend} queue_url={self.queue_url!r} key={key}>"

    def api_key(self) -> str | None:
        """The API key this client sends (resolved now, as :func:`resolve_key` does), or None.

        A secret: it is for building the Authorization header and for redacting server text
        (:func:`redact`), never for printing, logging or storing.
        """
        return resolve_key(self._secret.get())

    @property
    def api_origins(self) -> frozenset[tuple[str, str, int | None]]:
        """The (scheme, host, port) of every host that may receive the key: fal's API hosts as configured."""
        urls = [self.queue_url, self.rest_url, self.api_url]
        urls += [backup for url in urls if (backup := _backup_url(url))]
        return frozenset(_origin(url) for url in urls)

    def is_api_url(self, url: str) -> bool:
        """Whether ``url`` is on one of fal's API hosts (the only places the key is sent).

        Args:
            url: an absolute http(s) URL.
        """
        return _origin(url) in self.api_origins

    def auth_headers(self, url: str) -> dict[str, str]:
        """The Authorization header for ``url``; refuses (sending nothing) when ``url`` is on a foreign host.

        Args:
            url: where the request goes; it must be on one of :attr:`api_origins`.

        Returns:
            ``{"Authorization": "Key ..."}``, or ``{}`` when no key is set.

        Raises:
            ProtocolError: ``url`` is not on one of fal's API hosts (nothing is sent there).
        """
        if not self.is_api_url(url):
            raise ProtocolError(
                f"refusing to send the API key to {_origin_text(url)}: it is not one of fal's API hosts "
                f"({', '.join(sorted(_origin_text(u) for u in (self.queue_url, self.rest_url, self.api_url)))}). "
                "A server named this URL; nothing was sent to it."
            )
        key = self.api_key()
        return {"Authorization": f"Key {key}"} if key else {}

    @property
    def http(self) -> httpx.AsyncClient:
        """The httpx client of the running loop (one per loop, created lazily). It carries no key."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            for other in [lp for lp in self._clients if lp.is_closed()]:
                self._clients.pop(other, None)
            client = httpx.AsyncClient(
                verify=_ssl_context(),
                headers={"User-Agent": USER_AGENT},
                timeout=httpx.Timeout(self.timeout, connect=min(30.0, self.timeout)),
                transport=self.transport,
                # Redirects are followed by hand for API calls (a redirect could name another host).
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the httpx client of the running loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport with retries

    async def request(
        self,
        method: str,
        url: str,
        *,
        request_id: str | None = None,
        is_submit: bool = False,
        after_completed: bool = False,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        raise_for_status: bool = True,
        auth: bool = True,
        max_bytes: int | None = None,
        status_read: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request, retrying only what :func:`seedance_nb.retry.should_retry` allows.

        With ``auth`` (API calls) the key is attached, and ``url`` must be on one of fal's API hosts.
        A submit whose answer is lost or a 5xx raises :class:`~seedance_nb.errors.AmbiguousSubmit`: it may
        have been queued, so it is never sent again here.

        Args:
            method: the HTTP method.
            url: the absolute URL.
            request_id: the request this is about, named in errors.
            is_submit: a submit (a POST that may queue a paid request): never sent twice.
            after_completed: a read after the status said COMPLETED (a 504 is then retried).
            ok: the status codes that are not errors.
            raise_for_status: raise :class:`~seedance_nb.errors.APIError` on any other code.
            auth: attach the key (``url`` must then be on one of fal's API hosts).
            max_bytes: the largest body read (default: ``limits.max_result_bytes``).
            status_read: a status poll (any 5xx is retried: the state is only being read).
            **kwargs: passed to :meth:`httpx.AsyncClient.request` (``json``, ``params``, ``headers``, ...).

        Returns:
            The response, its body read.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers.update(self.auth_headers(url))
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send(method, url, headers, max_bytes or self.limits.max_result_bytes, kwargs)
            except ProtocolError as exc:
                if is_submit:
                    raise AmbiguousSubmit(f"{exc}; the submit may have been queued", url=url) from exc
                raise
            except httpx.TransportError as exc:
                backup = _backup_url(url) if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) else None
                if backup is not None:
                    # fal's main host cannot be reached: its backup host, as fal-client does (nothing was sent).
                    logger.info("cannot connect to %s; trying fal's backup host %s", _origin_text(url), backup)
                    url = backup
                    continue
                if attempt < self.retry.max_attempts and should_retry(method, error=exc, is_submit=is_submit):
                    delay = backoff_seconds(attempt, self.retry)
                    logger.debug("%s %s: %s; retry %d in %.2fs", method, _path(url), type(exc).__name__, attempt, delay)
                    await asyncio.sleep(delay)
                    continue
                what = f" request {request_id}" if request_id else ""
                text = (
                    f"network error on {method} {_path(url)}{what}: {type(exc).__name__}: "
                    f"{redact(str(exc), self.api_key())}."
                )
                if is_submit and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    raise AmbiguousSubmit(
                        text + " The submit may or may not have reached fal, so it was not sent again "
                        "(that could pay twice); the sweep settles it through fal's request history.",
                        url=url,
                    ) from exc
                raise APIError(text, request_id=request_id, url=url) from exc
            if response.status_code in ok:
                return response
            if attempt < self.retry.max_attempts and should_retry(
                method,
                response=response,
                is_submit=is_submit,
                after_completed=after_completed,
                status_read=status_read,
            ):
                delay = backoff_seconds(attempt, self.retry, retry_after_seconds(response.headers))
                logger.debug(
                    "%s %s answered %d; retry %d in %.2fs", method, _path(url), response.status_code, attempt, delay
                )
                await asyncio.sleep(delay)
                continue
            if is_submit and response.status_code >= 500:
                error = _api_error(response, request_id, self.api_key())
                raise AmbiguousSubmit(
                    f"the submit was answered {response.status_code}, which does not say whether fal queued it; "
                    "it was not sent again (that could pay twice); the sweep settles it through fal's request "
                    f"history. ({error})",
                    status_code=response.status_code,
                    detail=error.detail,
                    url=url,
                )
            if not raise_for_status:
                return response
            raise _api_error(response, request_id, self.api_key())

    async def _send(
        self, method: str, url: str, headers: dict[str, str], max_bytes: int, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """One exchange, its body read up to ``max_bytes`` (a larger answer is refused, not buffered)."""
        request = self.http.build_request(method, url, headers=headers, **kwargs)
        response = await self.http.send(request, stream=True)
        try:
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ProtocolError(
                    f"{method} {_path(url)} answered {int(length)} bytes, over the {max_bytes}-byte limit"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ProtocolError(f"{method} {_path(url)} answered more than the {max_bytes}-byte limit")
        finally:
            await response.aclose()
        headers_out = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers_out, content=bytes(body), request=request)

    # ------------------------------------------------------------------ queue

    async def submit(
        self,
        input: VideoInput | Mapping[str, Any],  # noqa: A002 (fal's own name)
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        webhook_url: str | None = None,
        priority: str | None = None,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        disable_fallbacks: bool = False,
        lifecycle: Mapping[str, Any] | None = None,
        store_io: bool | None = None,
        no_retry: bool = False,
    ) -> RequestHandle:
        """Validate ``input`` locally (nothing is sent if it is invalid), queue it, return its handle.

        fal's data and routing controls, as named options: ``disable_fallbacks`` (``x-fal-disable-fallbacks``:
        fal must not reroute the request to "an equivalent endpoint"; sweeps turn it on so takes stay
        comparable), ``lifecycle`` (``X-Fal-Object-Lifecycle-Preference``, e.g.
        ``{"expiration_duration_seconds": 86400}``), ``store_io`` (``X-Fal-Store-IO``: False asks fal not to
        keep the payloads) and ``no_retry`` (``X-Fal-No-Retry``: fal must not retry the request itself).

        Args:
            input: a :class:`~seedance_nb.schema.VideoInput` or fal's JSON payload.
            endpoint: the fal endpoint id.
            webhook_url: fal POSTs the result there when the request finishes (``fal_webhook``).
            priority: ``"normal"`` or ``"low"`` (``X-Fal-Queue-Priority``).
            start_timeout: seconds fal may wait to start it before giving up (``X-Fal-Request-Timeout``), > 1.
            hint: a routing hint for fal's runners (``X-Fal-Runner-Hint``).
            headers: more headers to send.
            disable_fallbacks: ``x-fal-disable-fallbacks``.
            lifecycle: ``X-Fal-Object-Lifecycle-Preference``.
            store_io: ``X-Fal-Store-IO``.
            no_retry: ``X-Fal-No-Retry``.

        Returns:
            The handle of the queued request (its id and URLs as fal returned them).

        Raises:
            InputError: ``input`` is invalid (nothing was sent).
            AmbiguousSubmit: the POST may have been queued but no answer came back (a dropped connection,
                a 5xx): never sent twice here.
        """
        payload = _payload(input, endpoint)
        if priority is not None and priority not in ("normal", "low"):
            raise ValueError(f"priority must be 'normal' or 'low', got {priority!r}")
        if start_timeout is not None and start_timeout <= 1:
            raise ValueError(f"start_timeout must be more than 1 second, got {start_timeout!r}")
        ep = EndpointId.parse(endpoint)
        extra: dict[str, str] = dict(headers or {})
        if priority:
            extra["X-Fal-Queue-Priority"] = priority
        if start_timeout is not None:
            extra["X-Fal-Request-Timeout"] = str(float(start_timeout))
        if hint:
            extra["X-Fal-Runner-Hint"] = hint
        if disable_fallbacks:
            extra["x-fal-disable-fallbacks"] = "true"
        if lifecycle is not None:
            extra["X-Fal-Object-Lifecycle-Preference"] = json.dumps(dict(lifecycle))
        if store_io is not None:
            extra["X-Fal-Store-IO"] = "1" if store_io else "0"
        if no_retry:
            extra["X-Fal-No-Retry"] = "1"
        params = {"fal_webhook": webhook_url} if webhook_url else None
        response = await self.request(
            "POST", ep.submit_url(self.queue_url), json=payload, headers=extra, params=params, is_submit=True
        )
        try:
            data = response.json()
            request_id = data["request_id"]
            if not isinstance(request_id, str) or not request_id or len(request_id) > 200:
                raise TypeError(f"bad request_id {str(request_id)[:80]!r}")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise AmbiguousSubmit(
                f"submit answered {response.status_code} without a usable request_id "
                f"({redact(response.text[:200], self.api_key())!r}); it may have been queued",
                status_code=response.status_code,
            ) from exc
        logger.info("submitted %s to %s", request_id, endpoint)
        return RequestHandle(
            self,
            request_id,
            endpoint,
            status_url=self._named_url(data.get("status_url"), ep.status_url(self.queue_url, request_id)),
            response_url=self._named_url(data.get("response_url"), ep.request_url(self.queue_url, request_id)),
            cancel_url=self._named_url(data.get("cancel_url"), ep.cancel_url(self.queue_url, request_id)),
        )

    def _named_url(self, named: Any, built: str) -> str:
        """A URL the server named for this request, when it is on fal's API hosts (else the queue's own)."""
        if isinstance(named, str) and named.startswith(("http://", "https://")) and self.is_api_url(named):
            return named
        if named:
            logger.warning(
                "the server named a request URL on %s, which is not one of fal's API hosts; using %s instead "
                "(the key is never sent to another host)",
                _origin_text(str(named)),
                _origin_text(built),
            )
        return built

    def handle(
        self,
        request_id: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        status_url: str | None = None,
        response_url: str | None = None,
        cancel_url: str | None = None,
    ) -> RequestHandle:
        """Re-attach to a request submitted earlier (by another process, before a crash).

        Pass the URLs submit returned when you have them (fal: "do not build these URLs yourself"); they are
        built from the endpoint id only when missing.

        Args:
            request_id: fal's request id.
            endpoint: the endpoint it was submitted to.
            status_url: the ``status_url`` submit returned.
            response_url: the ``response_url`` submit returned.
            cancel_url: the ``cancel_url`` submit returned.
        """
        ep = EndpointId.parse(endpoint)
        return RequestHandle(
            self,
            request_id,
            endpoint,
            status_url=self._named_url(status_url, ep.status_url(self.queue_url, request_id)),
            response_url=self._named_url(response_url, ep.request_url(self.queue_url, request_id)),
            cancel_url=self._named_url(cancel_url, ep.cancel_url(self.queue_url, request_id)),
        )

    async def request_history(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        start: datetime | float | None = None,
        end: datetime | float | None = None,
        status: str | None = None,
        request_id: str | None = None,
        payloads: bool = True,
        max_items: int = 5000,
    ) -> list[dict[str, Any]]:
        """This account's requests for ``endpoint`` from fal's request history, newest first.

        ``GET https://api.fal.ai/v1/models/requests/by-endpoint`` (paged by ``cursor``). ``start`` defaults
        to 24 hours ago (fal's default); ``end`` is exclusive. With ``payloads`` every item carries
        ``json_input`` and ``json_output``. At most ``max_items`` items are read.

        Args:
            endpoint: the fal endpoint id.
            start: the earliest time (a datetime or a Unix time; default: 24 hours ago).
            end: the latest time, exclusive.
            status: only requests in this state (fal's words, e.g. ``"success"``, ``"error"``).
            request_id: only this request.
            payloads: include each request's input and output.
            max_items: read at most this many items.
        """
        params: dict[str, Any] = {"endpoint_id": endpoint, "limit": 25 if payloads else 100}
        if start is not None:
            params["start"] = _iso_time(start)
        if end is not None:
            params["end"] = _iso_time(end)
        if status is not None:
            params["status"] = status
        if request_id is not None:
            params["request_id"] = request_id
        if payloads:
            params["expand"] = "payloads"
        items: list[Mapping[str, Any]] = []
        url = f"{self.api_url}/v1/models/requests/by-endpoint"
        for _page in range(max(1, max_items // params["limit"] + 1)):
            response = await self.request("GET", url, params=params, max_bytes=256 << 20)
            body = await _bounded_json(response, 256 << 20, "request history")
            if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
                raise ProtocolError(f"request history answered without an items list: {str(body)[:200]!r}")
            items.extend(item for item in body["items"] if isinstance(item, Mapping))
            cursor = body.get("next_cursor")
            if not body.get("has_more") or not cursor or len(items) >= max_items:
                break
            params["cursor"] = cursor
        return [dict(item) for item in items[:max_items]]

    async def subscribe(
        self,
        input: VideoInput | Mapping[str, Any],  # noqa: A002
        *,
        on_enqueue: Callable[[str], Any] | None = None,
        on_update: Callable[[Status], Any] | None = None,
        timeout: float | None = None,
        **submit_kwargs: Any,
    ) -> VideoOutput:
        """Submit, report progress, and return the output.

        Args:
            input: a :class:`~seedance_nb.schema.VideoInput` or fal's JSON payload.
            on_enqueue: ``on_enqueue(request_id)``, called (or awaited) before any wait.
            timeout: seconds to wait; then the request is cancelled on fal too (:meth:`RequestHandle.wait`).
            on_update: called (or awaited) with every status change.
            **submit_kwargs: :meth:`submit`'s options.
        """
        handle = await self.submit(input, **submit_kwargs)
        if on_enqueue is not None:
            await _call(on_enqueue, handle.request_id)
        return await handle.wait(timeout=timeout, on_update=on_update)

    # ------------------------------------------------------------------ storage

    async def upload(
        self,
        data: bytes,
        content_type: str,
        file_name: str | None = None,
        *,
        lifecycle: Mapping[str, Any] | None = None,
    ) -> str:
        """Store bytes on fal's CDN (a token, then one POST) and return their URL.

        The CDN token is fetched again shortly before it expires (``expires_at``) and once more if the CDN
        refuses it; a refusal after that names the token, not the key.

        Args:
            data: the file's bytes.
            content_type: its MIME type.
            file_name: the name fal keeps for it.
            lifecycle: the object's lifetime (e.g. ``{"expiration_duration_seconds": 86400}``), sent as fal's
                clients send it: ``X-Fal-Object-Lifecycle`` (the header fal's CDN reads on an upload) and
                ``X-Fal-Object-Lifecycle-Preference`` (storage-backed initiation), as fal-client 1.0.3 does.
        """
        headers = {"Content-Type": content_type}
        if file_name:
            headers["X-Fal-File-Name"] = file_name
        if lifecycle is not None:
            value = json.dumps(dict(lifecycle))
            headers["X-Fal-Object-Lifecycle"] = headers["X-Fal-Object-Lifecycle-Preference"] = value
        for attempt in (1, 2):
            auth = await self._cdn_auth(refresh=attempt == 2)
            response = await self.request(
                "POST",
                f"{self.cdn_url}/files/upload",
                content=data,
                headers={**headers, "Authorization": auth},
                auth=False,
                raise_for_status=False,
            )
            if response.status_code not in (401, 403):
                break
            self._cdn_token = None
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"fal's CDN refused the upload token ({response.status_code}) even after a fresh one was fetched; "
                "the API key itself was accepted when the token was issued. Try again later.",
                status_code=response.status_code,
                url=redact(str(response.request.url), self.api_key()),
            )
        if response.status_code not in (200, 201):
            raise _api_error(response, None, self.api_key())
        try:
            access_url = response.json()["access_url"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ProtocolError(f"upload answered without an access_url: {response.text[:200]!r}") from exc
        if not isinstance(access_url, str):
            raise ProtocolError(f"upload answered with an access_url that is not a string: {access_url!r:.200}")
        return access_url

    async def _cdn_auth(self, *, refresh: bool = False) -> str:
        """The CDN token's Authorization value, fetched when missing, expiring within a minute, or refused."""
        token = self._cdn_token
        if refresh or token is None or (token[2] is not None and token[2] - 60 < time.time()):
            response = await self.request(
                "POST", f"{self.rest_url}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, json={}
            )
            body = response.json()
            expires = parse_time(body.get("expires_at"))
            token = (f"{body['token_type']} {body['token']}", body.get("base_url") or self.cdn_url, expires)
            self._cdn_token = token
        return token[0]

    async def download(self, url: str, dest: str | Path, *, expected_size: int | None = None) -> Path:
        """Stream a file to ``dest`` atomically (see :func:`seedance_nb.media.download`). No key is sent.

        Args:
            url: the file's http(s) URL.
            dest: where to write it.
            expected_size: the size fal announced, checked after the download.
        """
        from .media import download

        return await download(
            self.http,
            url,
            dest,
            expected_size=expected_size,
            stall_seconds=self.limits.stall_seconds,
            min_bytes=self.limits.min_download_bytes,
        )


def parse_time(value: Any) -> float | None:
    """A Unix time from a number or an ISO 8601 string (``Z`` or an offset; naive means UTC), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _backup_url(url: str) -> str | None:
    """``url`` on fal's backup host (queue.fal.run → queue.falrun.com), or None when it has none."""
    parsed = httpx.URL(url)
    backup = BACKUP_HOSTS.get(parsed.host)
    return str(parsed.copy_with(host=backup)) if backup else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    return (parsed.scheme, parsed.host.lower(), port)


def _origin_text(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except Exception:  # noqa: BLE001 (only for a message)
        return "an unreadable URL"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def _iso_time(value: datetime | float) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


async def _bounded_json(response: httpx.Response, limit: int, what: str) -> Any:
    """The JSON body of ``response``, refusing one over ``limit`` bytes."""
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ProtocolError(f"the {what} is {int(length)} bytes, over the {limit}-byte limit")
    if len(response.content) > limit:
        raise ProtocolError(f"the {what} is over the {limit}-byte limit")
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"the {what} was not JSON: {response.text[:200]!r}") from exc


def _path(url: str) -> str:
    return httpx.URL(url).path


def _payload(input: VideoInput | Mapping[str, Any], endpoint: str) -> dict[str, Any]:  # noqa: A002
    if isinstance(input, VideoInput):
        return input.to_payload()
    if not isinstance(input, Mapping):
        raise TypeError(f"input must be a VideoInput or a mapping, got {type(input).__name__}")
    if endpoint == DEFAULT_ENDPOINT:
        return VideoInput.from_payload(input).to_payload()
    if endpoint in SNAPSHOT_ENDPOINTS:
        return validate_payload(input, endpoint)  # the family's other endpoints, by their own schema snapshot
    return dict(input)


async def _call(callback: Callable[..., Any], *args: Any) -> None:
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


# --------------------------------------------------------------------------- handle


@dataclass(frozen=True)
class RequestHandle:
    """One submitted request: its id and the URLs the server returned (journal them; resume uses them).

    Made by :meth:`AsyncClient.submit` or :meth:`AsyncClient.handle`.

    Args:
        client: the client that follows it.
        request_id: fal's request id.
        endpoint: the endpoint it was submitted to.
        status_url: the ``status_url`` submit returned.
        response_url: the ``response_url`` submit returned.
        cancel_url: the ``cancel_url`` submit returned.
    """

    client: AsyncClient = field(repr=False)
    request_id: str
    endpoint: str = DEFAULT_ENDPOINT
    status_url: str = ""
    response_url: str = ""
    cancel_url: str = ""

    def urls(self) -> dict[str, str]:
        """The request's URLs, as submit returned them (what the journal keeps)."""
        return {"status_url": self.status_url, "response_url": self.response_url, "cancel_url": self.cancel_url}

    async def status(self, logs: bool = False) -> Status:
        """The request's status now (one poll).

        Args:
            logs: include the log entries so far.
        """
        return parse_status(await self._status_json(logs))

    async def _status_json(self, logs: bool) -> Any:
        """One read of the status URL, as JSON (a reply that is not JSON is a :class:`ProtocolError`)."""
        response = await self.client.request(
            "GET",
            self.status_url,
            params={"logs": "1" if logs else "0"},
            request_id=self.request_id,
            status_read=True,
        )
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"status of {self.request_id} was not JSON: {response.text[:200]!r}") from exc

    async def events(self, logs: bool = True) -> AsyncGenerator[Status, None]:
        """Every status change until COMPLETED: the SSE stream, or polling when it is unavailable or stalls.

        Args:
            logs: include log entries (each entry is reported once).
        """
        seen = _Logs()
        last: Status | None = None
        try:
            async with contextlib.aclosing(self._stream(logs, seen)) as stream:
                async for event in stream:
                    last = event
                    yield event
                    if isinstance(event, Completed):
                        return
        except (httpx.HTTPError, APIError, ProtocolError) as exc:
            logger.debug("status stream of %s unavailable (%s); polling", self.request_id, type(exc).__name__)
        interval = self.client.poll_interval
        while True:
            data = await self._status_json(logs)
            event = parse_status(data, seen.add(data.get("logs")) if isinstance(data, Mapping) else ())
            if event != last:
                last = event
                yield event
            if isinstance(event, Completed):
                return
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            interval = min(interval * 1.5, self.client.max_poll_interval)

    async def _stream(self, logs: bool, seen: _Logs) -> AsyncGenerator[Status, None]:
        client = self.client
        url = self.status_url.rstrip("/") + "/stream"
        headers = {"Accept": "text/event-stream", **client.auth_headers(url)}
        limit = client.limits.max_event_bytes
        async with client.http.stream(
            "GET",
            url,
            params={"logs": "1" if logs else "0"},
            headers=headers,
            # A stream that sends nothing, not even a keep-alive, for this long has stalled: poll instead.
            timeout=httpx.Timeout(client.timeout, read=client.limits.stall_seconds),
        ) as response:
            if response.status_code != 200:
                await response.aread()
                raise _api_error(response, self.request_id, client.api_key())
            data_lines: list[str] = []
            async for line in _bounded_lines(response, limit, self.request_id):
                if line.startswith("data:"):
                    data_lines.append(line[5:].lstrip())
                    if sum(len(part) for part in data_lines) > limit:
                        raise ProtocolError(f"an event on the status stream of {self.request_id} is over {limit} bytes")
                elif line == "" and data_lines:
                    try:
                        data = json.loads("\n".join(data_lines))
                    except json.JSONDecodeError as exc:
                        raise ProtocolError(f"bad event on the status stream of {self.request_id}") from exc
                    data_lines = []
                    yield parse_status(data, seen.add(data.get("logs")) if isinstance(data, Mapping) else ())
        raise ProtocolError(f"status stream of {self.request_id} closed before COMPLETED")

    async def result(self) -> VideoOutput:
        """The output, or the error the result endpoint gives (a ``RequestFailed`` subclass)."""
        return (await self.result_details()).output

    async def result_details(self) -> ResultDetails:
        """:meth:`result` with what fal said about its cost: ``x-fal-billable-units``."""
        key = self.client.api_key()
        response = await self.client.request(
            "GET", self.response_url, request_id=self.request_id, after_completed=True, raise_for_status=False
        )
        if response.status_code == 200:
            try:
                # Server text: a key echoed in it (a file_name, a field) never reaches the journal or the cache.
                output = VideoOutput.from_json(scrub(response.json()))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ProtocolError(
                    f"result of {self.request_id} was not JSON: {redact(response.text[:200], key)!r}"
                ) from exc
            return ResultDetails(output, _billable_units(response.headers))
        if response.status_code == 400 and "progress" in response.text.lower():
            raise APIError(
                f"request {self.request_id} has not finished yet", status_code=400, request_id=self.request_id
            )
        if response.status_code in (401, 403, 404, 429):
            raise _api_error(response, self.request_id, key)
        if _is_verdict(response):
            raise _failure(response, self.request_id, key)
        # Not fal's word on the request (a redirect, an empty 5xx, a body that is not fal's error): the request
        # was accepted and may be paid for, so this is never a failure that a retry would pay for again.
        if response.status_code >= 400:
            raise _api_error(response, self.request_id, key)
        where = response.headers.get("location")
        to = f" to {_origin_text(where)}" if where else ""
        raise ProtocolError(
            f"the result of request {self.request_id} answered {response.status_code}{to}, which is not a result "
            "fal sends (not followed)"
        )

    async def cancel(self) -> bool:
        """Ask fal to cancel. True when fal will cancel it (``OK`` / ``CANCELLATION_REQUESTED``), False when
        it had already completed (or is unknown to fal: ``NOT_FOUND``). Reads the body's ``status`` first, as
        fal's current reference answers; the HTTP code decides only when there is no body status."""
        response = await self.client.request("PUT", self.cancel_url, request_id=self.request_id, raise_for_status=False)
        status = cancel_status(response)
        if status in ("OK", "CANCELLATION_REQUESTED"):
            return True
        if status in ("ALREADY_COMPLETED", "NOT_FOUND"):
            return False
        raise _api_error(response, self.request_id, self.client.api_key())

    async def wait(self, timeout: float | None = None, on_update: Callable[[Status], Any] | None = None) -> VideoOutput:
        """Follow the request to the end and return its output.

        On a local ``timeout``, a KeyboardInterrupt or task cancellation, the
        remote request is cancelled too, so it stops costing money.

        Args:
            timeout: seconds to wait (None: as long as it takes).
            on_update: called (or awaited) with every status change.

        Raises:
            WaitTimeout: ``timeout`` passed (the request was cancelled on fal).
            RequestFailed: the request failed on fal.
        """

        async def follow() -> VideoOutput:
            async for event in self.events():
                if on_update is not None:
                    await _call(on_update, event)
            return await self.result()

        try:
            if timeout is None:
                return await follow()
            return await asyncio.wait_for(follow(), timeout)
        except asyncio.TimeoutError as exc:
            await self._cancel_quietly()
            raise WaitTimeout(
                f"request {self.request_id} did not finish within {timeout} s; it was cancelled on the server",
                request_id=self.request_id,
                timeout=timeout,
            ) from exc
        except (asyncio.CancelledError, KeyboardInterrupt):
            await asyncio.shield(self._cancel_quietly())
            raise

    async def _cancel_quietly(self) -> None:
        try:
            await self.cancel()
        except Exception as exc:  # best effort: the original error matters more
            logger.warning("could not cancel %s: %s", self.request_id, redact(str(exc), self.client.api_key()))


@dataclass(frozen=True)
class ResultDetails:
    """A request's output and what fal billed for it (``x-fal-billable-units``; None when not sent)."""

    output: VideoOutput
    billable_units: float | None = None


def _billable_units(headers: httpx.Headers) -> float | None:
    value = headers.get("x-fal-billable-units")
    try:
        units = float(value) if value is not None else None
    except ValueError:
        return None
    return units if units is not None and math.isfinite(units) and units >= 0 else None


def cancel_status(response: httpx.Response) -> str | None:
    """fal's cancel outcome: the body's ``status`` when there is one, else read from the legacy HTTP code
    (202 accepted, 400 already completed, 404 not found). None when neither says."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("status"), str):
        status = str(body["status"]).upper()
        if status in ("OK", "CANCELLATION_REQUESTED", "ALREADY_COMPLETED", "NOT_FOUND"):
            return status
    return {200: "OK", 202: "CANCELLATION_REQUESTED", 400: "ALREADY_COMPLETED", 404: "NOT_FOUND"}.get(
        response.status_code
    )


def _is_verdict(response: httpx.Response) -> bool:
    """Whether a result answer other than 200 is fal's own word that the request failed (not billed): a 422
    (validation, content policy), a 499 (cancelled), or a 4xx/5xx carrying fal's error body. Anything else
    (a redirect, a bare 5xx, an HTML page) says nothing about the request, which may be paid for."""
    code = response.status_code
    return code in (422, 499) or (400 <= code <= 599 and _is_failure(response))


def _is_failure(response: httpx.Response) -> bool:
    """An error answer from the result endpoint that describes the request's own failure (JSON with a detail)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(body, Mapping) and ("detail" in body or "error_type" in body)


async def _bounded_lines(response: httpx.Response, limit: int, request_id: str) -> AsyncIterator[str]:
    """The lines of a text stream, refusing any line longer than ``limit`` bytes (never buffering more)."""
    buffer = b""
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0:
                break
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
        if len(buffer) > limit:
            raise ProtocolError(f"a line of the status stream of {request_id} is over the {limit}-byte limit")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


Callback = Callable[[Status], Union[Any, Awaitable[Any]]]  # noqa: UP007

set_public_module(__name__)
